import HTTPTypes
import Hummingbird

/// Refuses every HTTP request without the right `dapr-api-token` header with 401,
/// except the health checks (Dapr's healthz and the actuator's probes, which then
/// show a status only) and `/metrics`, which probes and scrapers must reach without
/// secrets. `/metrics` labels name components and methods only, never request data.
struct TokenMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  let token: APIToken
  /// Where the refusals' error code is counted; nil: not counted.
  var metrics: APIMetrics? = nil

  /// Paths callable without the token.
  static let open: Set<String> = Set(["/v1.0/healthz", "/v1.0/healthz/outbound", "/metrics"]).union(
    Actuator.openPaths)

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    if Self.open.contains(request.uri.path) { return try await next(request, context) }
    let presented = HTTPField.Name(APIToken.header).flatMap { request.headers[$0] }
    guard token.accepts(presented) else {
      let rejection = APIToken.rejection(presented)
      metrics?.error(code: rejection.errorCode, reason: rejection.reason)
      return rejection.httpResponse
    }
    return try await next(request, context)
  }
}
