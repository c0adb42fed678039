import GRPCCore

/// Answers a unary call that carries no request message, or more than one, with
/// INVALID_ARGUMENT instead of the INTERNAL that GRPCCore's unary adapter throws:
/// the client broke the protocol, apiary did not fail. (grpc-java answers INTERNAL
/// here too; Dapr's contract says malformed requests are INVALID_ARGUMENT.)
struct RequestShapeInterceptor: ServerInterceptor {
  /// GRPCCore's messages for the two cases (`ServerRequest(stream:)`); a test sends
  /// both shapes, so a GRPCCore that words them otherwise fails it.
  static let noMessage = "Empty stream."
  static let extraMessages = "Too many messages."

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext, next: NextHandler<Input, Output>
  ) async throws -> StreamingServerResponse<Output> {
    do {
      return try await next(request, context)
    } catch let error as RPCError where error.code == .internalError {
      let method = context.descriptor.fullyQualifiedMethod
      switch error.message {
      case Self.noMessage:
        throw RPCError(
          code: .invalidArgument, message: "\(method) is unary: the request carried no message")
      case Self.extraMessages:
        throw RPCError(
          code: .invalidArgument,
          message: "\(method) is unary: the request carried more than one message")
      default:
        throw error
      }
    }
  }
}
