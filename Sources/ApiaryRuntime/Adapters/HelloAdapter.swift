import ApiaryContracts
import GRPCCore
import GRPCCoreCTransport

/// ``HelloService`` over a component's `spec.proto.pluggable.v1.hello.Hello` service.
public struct HelloAdapter: HelloService {
  let context: AdapterContext
  private var client: Spec_Proto_Pluggable_V1_Hello_Hello.Client<SelectedClientTransport> {
    .init(wrapping: context.channel.client)
  }

  public init(context: AdapterContext) {
    self.context = context
  }

  /// Runs `Init`: the component metadata goes in `HelloConfig.metadata`, and the
  /// `hello_string` property, when present, in `HelloConfig.hello_string`.
  public func initialise(metadata: [String: String], type: String, timeout: Duration) async throws {
    var config = Spec_Proto_Pluggable_V1_Hello_HelloConfig()
    config.type = type
    config.metadata = metadata
    config.helloString = metadata["hello_string"] ?? metadata["helloString"] ?? ""
    try await context.call("Init", timeout: timeout) { [config] in
      _ = try await client.`init`(
        config, metadata: context.metadata, options: context.options(timeout: timeout))
    }
  }

  public func sayHello(name: String) async throws -> String {
    var request = Spec_Proto_Pluggable_V1_Hello_HelloRequest()
    request.name = name
    return try await context.call("SayHello") { [request] in
      try await client.sayHello(request, metadata: context.metadata, options: context.options())
        .helloString
    }
  }
}
