import ApiaryRuntime
import HTTPTypes
import Hummingbird
import Tracing

/// The HTTP port's outermost middleware: the request's trace context, its span, its
/// metrics (the HTTP side of ``GRPCObservabilityInterceptor``).
///
/// - The caller's context is read from `traceparent` and `tracestate`.
/// - Tracing on, for the Dapr API's routes (`/v1.0…`, health checks excepted as daprd
///   excepts them): a server span named after the route pattern
///   (`/v1.0/state/{store}/{key}`; daprd names it after the path, which holds the
///   key), a child of the caller's span; the handler runs with it as
///   ``SidecarSpan/current``; the response carries `traceparent` (and `tracestate`)
///   of the span, as daprd's does. Attributes as daprd sets them (`dapr.api` with
///   the path, `dapr.status_code`, `http.request.method`, `url.full`, `db.*`,
///   `messaging.*`) when the span is sampled.
/// - Tracing off: the caller's context is ``TraceContext/current`` for the handler.
/// - Metrics on: every request on the port by verb, route pattern and status.
struct HTTPObservabilityMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  let tracer: SidecarTracer?
  let metrics: APIMetrics?

  static let traceparent = HTTPField.Name("traceparent")!
  static let tracestate = HTTPField.Name("tracestate")!

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    let incoming = TraceContext(
      traceparent: request.headers[Self.traceparent], tracestate: request.headers[Self.tracestate])
    let clock = ContinuousClock()
    let start = metrics == nil ? nil : clock.now
    let route = context.endpointPath ?? "NotFound"
    let span: SidecarSpan? =
      if let tracer, Self.isTraced(route: route) {
        tracer.startSpan(route, kind: .server, parent: incoming)
      } else {
        nil
      }
    var response: Response
    do {
      response = try await TraceContext.$current.withValue(span?.context ?? incoming) {
        try await SidecarSpan.$current.withValue(span) { try await next(request, context) }
      }
    } catch {
      // The error body middleware inside answers every error; this is the backstop.
      let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
      finish(span, request, context, status: status, start: start, clock: clock)
      throw error
    }
    if let span {
      response.headers[Self.traceparent] = span.context.traceparent
      if !span.context.tracestate.isEmpty {
        response.headers[Self.tracestate] = span.context.tracestate
      }
    }
    finish(span, request, context, status: response.status, start: start, clock: clock)
    return response
  }

  private func finish(
    _ span: SidecarSpan?, _ request: Request, _ context: Context, status: HTTPResponse.Status,
    start: ContinuousClock.Instant?, clock: ContinuousClock
  ) {
    if let span {
      if span.isSampled {
        span.setAttributes(Self.attributes(request, context, status: status))
        if status.code >= 400 { span.setError("Code(\(status.code)): \(status.reasonPhrase)") }
      }
      span.end()
    }
    if let metrics, let start {
      metrics.httpRequest(
        method: request.method.rawValue, route: context.endpointPath ?? "NotFound",
        status: status.code,
        duration: clock.now - start)
    }
  }

  /// Whether requests to `route` get a span: the Dapr API, health checks excepted.
  static func isTraced(route: String) -> Bool {
    (route.hasPrefix("/v1.0/") || route.hasPrefix("/v1.0-alpha1/")) && !route.contains("/healthz")
  }

  /// daprd's attributes for an HTTP API span.
  static func attributes(
    _ request: Request, _ context: Context, status: HTTPResponse.Status
  ) -> [(String, String)] {
    let path = request.uri.path
    let api = "\(request.method.rawValue) \(path)"
    var attributes: [(String, String)] = [
      ("dapr.protocol", "http"), ("dapr.api", api), ("dapr.status_code", String(status.code)),
      ("http.request.method", request.method.rawValue), ("url.full", request.uri.description),
    ]
    let route = context.endpointPath ?? ""
    let parameters = context.parameters
    if route.hasPrefix("/v1.0/state/") || route.hasPrefix("/v1.0-alpha1/state/") {
      attributes += SpanAttributeNames.db(
        "state", name: parameters.get("store") ?? "", statement: api)
    } else if route.hasPrefix("/v1.0/secrets/") {
      attributes += SpanAttributeNames.db(
        "secrets", name: parameters.get("store") ?? "", statement: api)
    } else if route.hasPrefix("/v1.0/bindings/") {
      attributes += SpanAttributeNames.db(
        "bindings", name: parameters.get("name") ?? "", statement: api)
    } else if route.hasPrefix("/v1.0/publish/") || route.hasPrefix("/v1.0-alpha1/publish/") {
      attributes += SpanAttributeNames.messaging(
        topic: parameters.getCatchAll().joined(separator: "/"))
    }
    return attributes
  }
}
