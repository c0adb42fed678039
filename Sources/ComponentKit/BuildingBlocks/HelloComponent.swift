import ApiaryContracts
import GRPCCore
import SwiftProtobuf

/// A hello component (`spec.proto.pluggable.v1.hello.Hello`, Layotto's contract) written
/// with ComponentKit; one value per configured instance.
public protocol HelloComponent: Sendable {
  /// Prepares the instance from its configuration.
  func initialise(config: Spec_Proto_Pluggable_V1_Hello_HelloConfig) async throws
  /// Greets `name`.
  func sayHello(name: String) async throws -> String
}

/// Serves `spec.proto.pluggable.v1.hello.Hello` over instances made by a factory.
struct HelloService<Greeter: HelloComponent>: Spec_Proto_Pluggable_V1_Hello_Hello.ServiceProtocol {
  let instances: InstanceRegistry<Greeter>

  func `init`(
    request: ServerRequest<Spec_Proto_Pluggable_V1_Hello_HelloConfig>,
    context: ServerContext
  ) async throws -> ServerResponse<Google_Protobuf_Empty> {
    try await instances.initCall(request) { greeter, config in
      try await greeter.initialise(config: config)
    }
  }

  func sayHello(
    request: ServerRequest<Spec_Proto_Pluggable_V1_Hello_HelloRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Spec_Proto_Pluggable_V1_Hello_HelloResponse> {
    try await instances.answer(request) { greeter, message in
      var response = Spec_Proto_Pluggable_V1_Hello_HelloResponse()
      response.helloString = try await greeter.sayHello(name: message.name)
      return response
    }
  }
}
