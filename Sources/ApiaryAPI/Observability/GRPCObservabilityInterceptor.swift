import ApiaryContracts
import ApiaryRuntime
import GRPCCore
import GRPCProtobuf
import Tracing

/// The gRPC API's outermost interceptor: the call's trace context, its span, its
/// metrics.
///
/// - The caller's context is read from `grpc-trace-bin` (OpenCensus binary), else
///   `traceparent` and `tracestate`, as daprd reads them.
/// - Tracing on: a server span named after the full method
///   (`/dapr.proto.runtime.v1.Dapr/GetState`), a child of the caller's span; the
///   handler runs with it as ``SidecarSpan/current`` (component calls and publishes
///   become its children) and the response carries `grpc-trace-bin` of the span, as
///   daprd's does. Attributes as daprd sets them (`dapr.api`, `dapr.protocol`,
///   `rpc.service`, `db.*`, `messaging.*`) when the span is sampled.
/// - Tracing off: the caller's context is the handler's ``TraceContext/current``, so
///   it reaches components and CloudEvents unchanged; no span, no response header.
/// - Metrics on: one count and one latency per call, by method and status.
///
/// It must stay outside ``RequestShapeInterceptor`` (GRPCCore turns an inner
/// interceptor's thrown error into a response, which this one then reads).
struct GRPCObservabilityInterceptor: ServerInterceptor {
  let tracer: SidecarTracer?
  let metrics: APIMetrics?

  /// Services that are not Dapr's API: counted, never traced.
  static let untraced: Set<String> = [
    "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
  ]

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext, next: NextHandler<Input, Output>
  ) async throws -> StreamingServerResponse<Output> {
    let incoming = Self.incomingContext(request.metadata)
    let method = "/" + context.descriptor.fullyQualifiedMethod
    let clock = ContinuousClock()
    let start = metrics == nil ? nil : clock.now
    var request = request
    let span: SidecarSpan? =
      if let tracer, !Self.untraced.contains(context.descriptor.service.fullyQualifiedService) {
        tracer.startSpan(method, kind: .server, parent: incoming)
      } else {
        nil
      }
    if let span, span.isSampled {
      span.setAttributes([("dapr.protocol", "grpc"), ("dapr.api", method)])
      // daprd's per-request attributes come from the request message.
      request.messages = RPCAsyncSequence(
        wrapping: request.messages.map { @Sendable message in
          if let described = message as? any SpanDescribing {
            span.setAttributes(described.spanAttributes(method: method))
          }
          return message
        })
    }
    let current = span?.context ?? incoming
    let finish: @Sendable (RPCError?) -> Void = { [metrics] error in
      if let error {
        span?.setError(error.message)
        if let metrics {
          metrics.error(code: Self.errorCode(of: error), reason: Self.reason(of: error))
        }
      }
      span?.end()
      if let metrics, let start {
        metrics.grpcCall(method: method, status: error?.code, duration: clock.now - start)
      }
    }
    var response = try await TraceContext.$current.withValue(current) {
      try await SidecarSpan.$current.withValue(span) { try await next(request, context) }
    }
    guard tracer != nil || metrics != nil else { return response }
    switch response.accepted {
    case .failure(let error):
      finish(error)
    case .success(var contents):
      let producer = contents.producer
      contents.producer = { writer in
        do {
          let trailers = try await TraceContext.$current.withValue(current) {
            try await SidecarSpan.$current.withValue(span) { try await producer(writer) }
          }
          finish(nil)
          return trailers
        } catch {
          finish(Self.status(of: error))
          throw error
        }
      }
      response.accepted = .success(contents)
    }
    if let span {
      response.metadata.addBinary(GRPCTraceBin.encode(span.context), forKey: GRPCTraceBin.key)
    }
    return response
  }

  /// The status GRPCCore answers for `error`.
  static func status(of error: any Error) -> RPCError {
    if let error = error as? RPCError { return error }
    if let convertible = error as? any RPCErrorConvertible { return RPCError(convertible) }
    return RPCError(code: .unknown, message: "\(error)")
  }

  /// The caller's trace context: `grpc-trace-bin` first, else `traceparent` (with
  /// `tracestate`).
  static func incomingContext(_ metadata: Metadata) -> TraceContext? {
    for value in metadata[binaryValues: GRPCTraceBin.key] {
      if let context = GRPCTraceBin.parse(value) { return context }
      break
    }
    let traceparent = metadata[stringValues: "traceparent"].first(where: { _ in true })
    return TraceContext(
      traceparent: traceparent,
      tracestate: metadata[stringValues: "tracestate"].first(where: { _ in true }))
  }

  /// The HTTP errorCode a ``DaprError`` answered with (its `error-code` trailer), or
  /// `ERROR` for a status apiary did not word.
  static func errorCode(of error: RPCError) -> String {
    error.metadata[stringValues: "error-code"].first(where: { _ in true }) ?? "ERROR"
  }

  /// The ErrorInfo reason, read only where it settles the category.
  static func reason(of error: RPCError) -> String? {
    guard errorCode(of: error) == "ERR_MALFORMED_REQUEST" else { return nil }
    return (try? error.unpackGoogleRPCStatus())?.details.compactMap(\.errorInfo).first?.reason
  }
}
