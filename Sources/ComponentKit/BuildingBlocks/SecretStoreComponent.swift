import ApiaryContracts
import GRPCCore

/// A secret store (`dapr.proto.components.v1.SecretStore`) written with ComponentKit.
/// One value is created per configured instance.
///
/// A secret is a set of key/value pairs; without
/// ``SecretStoreFeature/multipleKeyValuesPerSecret`` it holds one pair, whose key is the
/// secret's name. A secret that does not exist is an error: throw
/// ``ComponentError/notFound(_:)``.
public protocol SecretStoreComponent: Sendable {
  /// Prepares the instance with its resolved component metadata.
  func initialise(metadata: [String: String]) async throws
  /// The features this instance supports; each one is a promise `apiary conformance`
  /// checks.
  func features() async throws -> [SecretStoreFeature]
  /// The secret named `key`.
  func secret(_ key: String, metadata: [String: String]) async throws -> [String: String]
  /// Every secret the store holds, by name.
  func allSecrets(metadata: [String: String]) async throws -> [String: [String: String]]
  /// Answers the sidecar's heartbeat; throw when the store is unreachable.
  func ping() async throws
}

extension SecretStoreComponent {
  /// No features: one key/value pair per secret.
  public func features() async throws -> [SecretStoreFeature] { [] }
  /// Answers every heartbeat; implement it to report an unreachable store.
  public func ping() async throws {}
}

/// Serves `dapr.proto.components.v1.SecretStore` over instances made by a factory.
struct SecretStoreService<Store: SecretStoreComponent>: Dapr_Proto_Components_V1_SecretStore
    .ServiceProtocol
{
  let instances: InstanceRegistry<Store>

  func `init`(
    request: ServerRequest<Dapr_Proto_Components_V1_SecretStoreInitRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_SecretStoreInitResponse> {
    try await instances.initCall(request) { store, message in
      try await store.initialise(metadata: message.metadata.properties)
    }
  }

  func features(
    request: ServerRequest<Dapr_Proto_Components_V1_FeaturesRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_FeaturesResponse> {
    try await instances.features(request) { try await $0.features().map(\.rawValue) }
  }

  func get(
    request: ServerRequest<Dapr_Proto_Components_V1_GetSecretRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_GetSecretResponse> {
    try await instances.answer(request) { store, message in
      var response = Dapr_Proto_Components_V1_GetSecretResponse()
      response.data = try await store.secret(message.key, metadata: message.metadata)
      return response
    }
  }

  func bulkGet(
    request: ServerRequest<Dapr_Proto_Components_V1_BulkGetSecretRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_BulkGetSecretResponse> {
    try await instances.answer(request) { store, message in
      var response = Dapr_Proto_Components_V1_BulkGetSecretResponse()
      response.data = try await store.allSecrets(metadata: message.metadata).mapValues { pairs in
        var secret = Dapr_Proto_Components_V1_SecretResponse()
        secret.secrets = pairs
        return secret
      }
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
  /// A secret store (`dapr.proto.components.v1.SecretStore`). `make` runs once per
  /// `Init`.
  public static func secretStore<Store: SecretStoreComponent>(
    _ make: @escaping @Sendable () -> Store
  ) -> Self {
    Self(
      SecretStoreService(instances: InstanceRegistry(make: make)),
      named: Dapr_Proto_Components_V1_SecretStore.descriptor)
  }
}
