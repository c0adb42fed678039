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
  public func features() async throws -> [SecretStoreFeature] { [] }
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
    try await mappingErrors {
      try await instances.initialise(metadata: request.metadata) { store in
        try await store.initialise(metadata: request.message.metadata.properties)
      }
      return ServerResponse(message: .init())
    }
  }

  func features(
    request: ServerRequest<Dapr_Proto_Components_V1_FeaturesRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_FeaturesResponse> {
    try await mappingErrors {
      var response = Dapr_Proto_Components_V1_FeaturesResponse()
      response.features = try await instances.instance(for: request.metadata).features().map(
        \.rawValue)
      return ServerResponse(message: response)
    }
  }

  func get(
    request: ServerRequest<Dapr_Proto_Components_V1_GetSecretRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_GetSecretResponse> {
    try await mappingErrors {
      var response = Dapr_Proto_Components_V1_GetSecretResponse()
      response.data = try await instances.instance(for: request.metadata).secret(
        request.message.key, metadata: request.message.metadata)
      return ServerResponse(message: response)
    }
  }

  func bulkGet(
    request: ServerRequest<Dapr_Proto_Components_V1_BulkGetSecretRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_BulkGetSecretResponse> {
    try await mappingErrors {
      var response = Dapr_Proto_Components_V1_BulkGetSecretResponse()
      let secrets = try await instances.instance(for: request.metadata).allSecrets(
        metadata: request.message.metadata)
      response.data = secrets.mapValues { pairs in
        var secret = Dapr_Proto_Components_V1_SecretResponse()
        secret.secrets = pairs
        return secret
      }
      return ServerResponse(message: response)
    }
  }

  func ping(
    request: ServerRequest<Dapr_Proto_Components_V1_PingRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_PingResponse> {
    try await mappingErrors {
      try await instances.instance(for: request.metadata).ping()
      return ServerResponse(message: .init())
    }
  }
}

extension ComponentRegistration {
  /// A secret store (`dapr.proto.components.v1.SecretStore`). `make` runs once per
  /// `Init`.
  public static func secretStore<Store: SecretStoreComponent>(
    _ make: @escaping @Sendable () -> Store
  ) -> Self {
    Self(
      services: [SecretStoreService(instances: InstanceRegistry(make: make))],
      serviceNames: [Dapr_Proto_Components_V1_SecretStore.descriptor.fullyQualifiedService]
    )
  }
}
