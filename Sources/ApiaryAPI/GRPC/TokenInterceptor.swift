import GRPCCore

/// Refuses every gRPC call without the right `dapr-api-token` metadata, except the
/// health service, which probes must reach without secrets.
/// What a server interceptor calls to go on with a call (GRPCCore's `next`).
typealias NextHandler<Input: Sendable, Output: Sendable> =
  @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
  StreamingServerResponse<Output>

struct TokenInterceptor: ServerInterceptor {
  let token: APIToken

  /// Services callable without the token.
  static let open: Set<String> = ["grpc.health.v1.Health"]

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext, next: NextHandler<Input, Output>
  ) async throws -> StreamingServerResponse<Output> {
    if Self.open.contains(context.descriptor.service.fullyQualifiedService) {
      return try await next(request, context)
    }
    let presented = request.metadata[stringValues: APIToken.header].first(where: { _ in true })
    guard token.accepts(presented) else {
      throw APIToken.rejection(presented)
    }
    return try await next(request, context)
  }
}
