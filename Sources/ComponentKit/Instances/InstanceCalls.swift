import ApiaryContracts
import GRPCCore
import SwiftProtobuf

/// The shapes every building block's service methods share: each call is answered by
/// the instance its `x-component-instance` header names, and ComponentKit's errors
/// become gRPC statuses (``ComponentError``).
extension InstanceRegistry {
  /// `Init`: a fresh instance for the call's name, set up by `setUp` with the request;
  /// an empty answer.
  func initCall<Input: Sendable, Output: Message>(
    _ request: ServerRequest<Input>, _ setUp: (Instance, Input) async throws -> Void
  ) async throws -> ServerResponse<Output> {
    try await mappingErrors {
      try await initialise(metadata: request.metadata) { try await setUp($0, request.message) }
      return ServerResponse(message: Output())
    }
  }

  /// A unary call that `answer` answers on the call's instance.
  func answer<Input: Sendable, Output: Message>(
    _ request: ServerRequest<Input>, _ answer: (Instance, Input) async throws -> Output
  ) async throws -> ServerResponse<Output> {
    try await mappingErrors {
      ServerResponse(
        message: try await answer(try instance(for: request.metadata), request.message))
    }
  }

  /// A unary call with an empty answer: `perform` runs on the call's instance.
  func perform<Input: Sendable, Output: Message>(
    _ request: ServerRequest<Input>, _ perform: (Instance, Input) async throws -> Void
  ) async throws -> ServerResponse<Output> {
    try await answer(request) { instance, input in
      try await perform(instance, input)
      return Output()
    }
  }

  /// `Features`: the feature names `list` gives for the call's instance.
  func features(
    _ request: ServerRequest<Dapr_Proto_Components_V1_FeaturesRequest>,
    _ list: (Instance) async throws -> [String]
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_FeaturesResponse> {
    try await answer(request) { instance, _ in
      var response = Dapr_Proto_Components_V1_FeaturesResponse()
      response.features = try await list(instance)
      return response
    }
  }
}
