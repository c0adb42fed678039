import ApiaryContracts
import Foundation
import GRPCCore

/// What an output binding answers to one ``OutputBindingComponent/invoke(_:)``.
public struct OutputBindingResponse: Sendable, Equatable {
  /// The body the application receives.
  public var data: Data
  /// Metadata the application receives (HTTP: `metadata.*` headers).
  public var metadata: [String: String]
  /// The body's content type; empty means the sidecar's default.
  public var contentType: String

  /// An answer with `data` and `metadata`; an empty `contentType` leaves the choice
  /// to the sidecar.
  public init(data: Data = Data(), metadata: [String: String] = [:], contentType: String = "") {
    self.data = data
    self.metadata = metadata
    self.contentType = contentType
  }
}

/// An output binding (`dapr.proto.components.v1.OutputBinding`) written with
/// ComponentKit. One value is created per configured instance.
///
/// The sidecar only invokes operations ``operations()`` lists; an operation that is not
/// listed never reaches ``invoke(_:)``'s body (the service refuses it as
/// INVALID_ARGUMENT first, so a direct caller gets the same answer).
public protocol OutputBindingComponent: Sendable {
  /// Prepares the instance with its resolved component metadata.
  func initialise(metadata: [String: String]) async throws
  /// The operations this binding performs (`create`, `get`, `delete`, `list`, …).
  func operations() async throws -> [String]
  /// Performs `request.operation` on `request.data` with `request.metadata`.
  func invoke(
    _ request: Dapr_Proto_Components_V1_InvokeRequest
  ) async throws -> OutputBindingResponse
  /// Answers the sidecar's heartbeat; throw when the target is unreachable.
  func ping() async throws
}

extension OutputBindingComponent {
  /// Answers every heartbeat; implement it to report an unreachable target.
  public func ping() async throws {}
}

/// Serves `dapr.proto.components.v1.OutputBinding` over instances made by a factory.
struct OutputBindingService<Binding: OutputBindingComponent>: Dapr_Proto_Components_V1_OutputBinding
    .ServiceProtocol
{
  let instances: InstanceRegistry<Binding>

  func `init`(
    request: ServerRequest<Dapr_Proto_Components_V1_OutputBindingInitRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_OutputBindingInitResponse> {
    try await instances.initCall(request) { binding, message in
      try await binding.initialise(metadata: message.metadata.properties)
    }
  }

  func invoke(
    request: ServerRequest<Dapr_Proto_Components_V1_InvokeRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_InvokeResponse> {
    try await instances.answer(request) { binding, message in
      let operations = try await binding.operations()
      guard operations.contains(message.operation) else {
        throw ComponentError.invalidArgument(
          "operation '\(message.operation)' is not supported; this binding supports: \(operations.joined(separator: ", "))"
        )
      }
      let answer = try await binding.invoke(message)
      var response = Dapr_Proto_Components_V1_InvokeResponse()
      response.data = answer.data
      response.metadata = answer.metadata
      response.contentType = answer.contentType
      return response
    }
  }

  func listOperations(
    request: ServerRequest<Dapr_Proto_Components_V1_ListOperationsRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_ListOperationsResponse> {
    try await instances.answer(request) { binding, _ in
      var response = Dapr_Proto_Components_V1_ListOperationsResponse()
      response.operations = try await binding.operations()
      return response
    }
  }

  func ping(
    request: ServerRequest<Dapr_Proto_Components_V1_PingRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_PingResponse> {
    try await instances.perform(request) { instance, _ in try await instance.ping() }
  }
}

extension ComponentRegistration {
  /// An output binding (`dapr.proto.components.v1.OutputBinding`). `make` runs once per
  /// `Init`.
  public static func outputBinding<Binding: OutputBindingComponent>(
    _ make: @escaping @Sendable () -> Binding
  ) -> Self {
    Self(
      OutputBindingService(instances: InstanceRegistry(make: make)),
      named: Dapr_Proto_Components_V1_OutputBinding.descriptor)
  }
}
