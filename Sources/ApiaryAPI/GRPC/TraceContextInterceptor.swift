import GRPCCore

/// Makes a call's W3C trace context (`traceparent`, `tracestate` metadata) the
/// handler's ``TraceContext/current``, so the simple service methods, which see no
/// metadata, can pass it on.
struct TraceContextInterceptor: ServerInterceptor {
  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let traceparent = request.metadata[stringValues: "traceparent"].first(where: { _ in true })
    guard let trace = TraceContext(
      traceparent: traceparent, tracestate: request.metadata[stringValues: "tracestate"].first(where: { _ in true }))
    else {
      return try await next(request, context)
    }
    return try await TraceContext.$current.withValue(trace) { try await next(request, context) }
  }
}
