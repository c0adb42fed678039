import ApiaryContracts
import ApiaryTestSupport
import ComponentKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// An output binding that echoes `create` and knows its instance's Init metadata.
struct EchoBinding: OutputBindingComponent {
  func initialise(metadata: [String: String]) async throws {
    if metadata["fail"] == "yes" { throw ComponentError.invalidArgument("told to fail") }
  }
  func operations() async throws -> [String] { ["create", "list"] }
  func invoke(
    _ request: Dapr_Proto_Components_V1_InvokeRequest
  ) async throws -> OutputBindingResponse {
    OutputBindingResponse(
      data: request.data, metadata: ["operation": request.operation], contentType: "text/plain")
  }
}

/// A secret store of one multi-valued secret.
struct VaultStore: SecretStoreComponent {
  func initialise(metadata: [String: String]) async throws {}
  func features() async throws -> [SecretStoreFeature] { [.multipleKeyValuesPerSecret] }
  func secret(_ key: String, metadata: [String: String]) async throws -> [String: String] {
    guard key == "db" else { throw ComponentError.notFound("secret '\(key)' not found") }
    return ["user": "app", "password": metadata["password"] ?? "pw"]
  }
  func allSecrets(metadata: [String: String]) async throws -> [String: [String: String]] {
    ["db": try await secret("db", metadata: metadata)]
  }
}

@Suite("ComponentKit: output bindings and secret stores", .timeLimit(.minutes(1)))
struct OutputBindingAndSecretStoreTests {
  @Test(
    "an output binding lists its operations, performs them, and refuses others before invoke runs")
  func outputBinding() async throws {
    try await withServedClient([.outputBinding { EchoBinding() }]) { client in
      let binding = Dapr_Proto_Components_V1_OutputBinding.Client(wrapping: client)
      _ = try await binding.`init`(.init(), metadata: instance("files"), options: testCallOptions)
      let operations = try await binding.listOperations(
        .init(), metadata: instance("files"), options: testCallOptions)
      #expect(operations.operations == ["create", "list"])
      var request = Dapr_Proto_Components_V1_InvokeRequest()
      request.operation = "create"
      request.data = Data("payload".utf8)
      let response = try await binding.invoke(
        request, metadata: instance("files"), options: testCallOptions)
      #expect(response.data == Data("payload".utf8))
      #expect(
        response.metadata == ["operation": "create"] && response.contentType == "text/plain")
      request.operation = "drop-table"
      let error = await #expect(throws: RPCError.self) {
        _ = try await binding.invoke(
          request, metadata: instance("files"), options: testCallOptions)
      }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message.contains("create, list") == true)
      let uninitialised = await #expect(throws: RPCError.self) {
        _ = try await binding.invoke(
          request, metadata: instance("other"), options: testCallOptions)
      }
      #expect(uninitialised?.code == .failedPrecondition)
    }
  }

  @Test("a secret store answers secrets, bulk, its features, and NOT_FOUND for a missing one")
  func secretStore() async throws {
    try await withServedClient([.secretStore { VaultStore() }]) { client in
      let store = Dapr_Proto_Components_V1_SecretStore.Client(wrapping: client)
      _ = try await store.`init`(.init(), metadata: instance("vault"), options: testCallOptions)
      let features = try await store.features(
        .init(), metadata: instance("vault"), options: testCallOptions)
      #expect(features.features == ["MULTIPLE_KEY_VALUES_PER_SECRET"])
      var request = Dapr_Proto_Components_V1_GetSecretRequest()
      request.key = "db"
      request.metadata = ["password": "from-metadata"]
      let secret = try await store.get(
        request, metadata: instance("vault"), options: testCallOptions)
      #expect(secret.data == ["user": "app", "password": "from-metadata"])
      let bulk = try await store.bulkGet(
        .init(), metadata: instance("vault"), options: testCallOptions)
      #expect(bulk.data["db"]?.secrets == ["user": "app", "password": "pw"])
      request.key = "missing"
      let error = await #expect(throws: RPCError.self) {
        _ = try await store.get(request, metadata: instance("vault"), options: testCallOptions)
      }
      #expect(error?.code == .notFound && error?.message == "secret 'missing' not found")
    }
  }
}
