import ApiaryContracts
import GRPCCore
import GRPCCoreCTransport

/// ``SecretStore`` over a pluggable component's `SecretStore` service.
public struct SecretStoreAdapter: SecretStore {
  let context: AdapterContext
  private var client: Dapr_Proto_Components_V1_SecretStore.Client<SelectedClientTransport> {
    .init(wrapping: context.channel.client)
  }

  public init(context: AdapterContext) {
    self.context = context
  }

  /// Runs `Init` with the resolved metadata, then asks for the features.
  public func initialise(metadata: [String: String], timeout: Duration) async throws -> [String] {
    var request = Dapr_Proto_Components_V1_SecretStoreInitRequest()
    request.metadata.properties = metadata
    let client = self.client
    return try await context.initialise(timeout: timeout) { [request] metadata, options in
      _ = try await client.`init`(request, metadata: metadata, options: options)
    } features: { metadata, options in
      try await client.features(.init(), metadata: metadata, options: options).features
    }
  }

  /// Answers the heartbeat.
  public func ping(timeout: Duration) async throws {
    let client = self.client
    try await context.ping(timeout: timeout) { metadata, options in
      _ = try await client.ping(.init(), metadata: metadata, options: options)
    }
  }

  public func get(key: String, metadata: [String: String]) async throws -> [String: String] {
    var request = Dapr_Proto_Components_V1_GetSecretRequest()
    request.key = key
    request.metadata = metadata
    do {
      return try await context.call("Get", subject: key) { [request] in
        try await client.get(request, metadata: context.metadata, options: context.options()).data
      }
    } catch let error as ComponentCallError where error.kind == .notFound {
      throw SecretStoreError.notFound(key)
    }
  }

  public func bulkGet(metadata: [String: String]) async throws -> [String: [String: String]] {
    var request = Dapr_Proto_Components_V1_BulkGetSecretRequest()
    request.metadata = metadata
    let response = try await context.call("BulkGet") { [request] in
      try await client.bulkGet(request, metadata: context.metadata, options: context.options())
    }
    return response.data.mapValues(\.secrets)
  }
}
