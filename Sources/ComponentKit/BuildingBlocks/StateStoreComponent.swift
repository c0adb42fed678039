import ApiaryContracts
import GRPCCore

/// A state store written with ComponentKit. One value is created per configured
/// instance (`x-component-instance`) and receives every call for that instance.
///
/// The messages are the contract's own (`Dapr_Proto_Components_V1_*`). Signal etag
/// conflicts with ``ComponentError/etagMismatch(_:)`` and malformed etags with
/// ``ComponentError/etagInvalid(_:)``; the sidecar maps them to HTTP 409/400.
public protocol StateStoreComponent: Sendable {
  /// Prepares the instance with its resolved component metadata.
  func initialise(metadata: [String: String]) async throws
  /// The features this instance supports (``StateStoreFeature/etag``, …); each one is
  /// a promise `apiary conformance` checks.
  func features() async throws -> [StateStoreFeature]
  /// Reads one key; an empty response (no data, no etag) means "not found".
  func get(
    _ request: Dapr_Proto_Components_V1_GetRequest
  ) async throws -> Dapr_Proto_Components_V1_GetResponse
  /// Writes one key.
  func set(_ request: Dapr_Proto_Components_V1_SetRequest) async throws
  /// Deletes one key.
  func delete(_ request: Dapr_Proto_Components_V1_DeleteRequest) async throws
  /// Reads several keys. The default calls ``get(_:)`` for each.
  func bulkGet(
    _ request: Dapr_Proto_Components_V1_BulkGetRequest
  ) async throws -> Dapr_Proto_Components_V1_BulkGetResponse
  /// Writes several keys. The default calls ``set(_:)`` for each.
  func bulkSet(_ request: Dapr_Proto_Components_V1_BulkSetRequest) async throws
  /// Deletes several keys. The default calls ``delete(_:)`` for each.
  func bulkDelete(_ request: Dapr_Proto_Components_V1_BulkDeleteRequest) async throws
  /// Answers the sidecar's heartbeat; throw when the backend is unreachable.
  func ping() async throws
}

/// A state store that can apply several operations atomically
/// (`dapr.proto.components.v1.TransactionalStateStore`). Advertise `TRANSACTIONAL`.
public protocol TransactionalStateStoreComponent: StateStoreComponent {
  /// Applies every operation, or none of them.
  func transact(_ request: Dapr_Proto_Components_V1_TransactionalStateRequest) async throws
}

extension StateStoreComponent {
  /// Reads each key through ``get(_:)``; a key that fails carries its error in its
  /// item. Implement it when the backend reads many keys in one call.
  public func bulkGet(
    _ request: Dapr_Proto_Components_V1_BulkGetRequest
  ) async throws -> Dapr_Proto_Components_V1_BulkGetResponse {
    var response = Dapr_Proto_Components_V1_BulkGetResponse()
    for item in request.items {
      var result = Dapr_Proto_Components_V1_BulkStateItem()
      result.key = item.key
      do {
        let found = try await get(item)
        result.data = found.data
        if found.hasEtag { result.etag = found.etag }
        result.metadata = found.metadata
        result.contentType = found.contentType
      } catch {
        result.error = String(describing: error)
      }
      response.items.append(result)
    }
    return response
  }

  /// Writes each item through ``set(_:)`` in order, stopping at the first error.
  public func bulkSet(_ request: Dapr_Proto_Components_V1_BulkSetRequest) async throws {
    for item in request.items { try await set(item) }
  }

  /// Deletes each item through ``delete(_:)`` in order, stopping at the first error.
  public func bulkDelete(_ request: Dapr_Proto_Components_V1_BulkDeleteRequest) async throws {
    for item in request.items { try await delete(item) }
  }

  /// Answers every heartbeat; implement it to report an unreachable store.
  public func ping() async throws {}
}

/// Serves `dapr.proto.components.v1.StateStore` over instances made by a factory.
struct StateStoreService<Store: StateStoreComponent>: Dapr_Proto_Components_V1_StateStore
    .ServiceProtocol
{
  let instances: InstanceRegistry<Store>

  func `init`(
    request: ServerRequest<Dapr_Proto_Components_V1_InitRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_InitResponse> {
    try await instances.initCall(request) { store, message in
      try await store.initialise(metadata: message.metadata.properties)
    }
  }

  func features(
    request: ServerRequest<Dapr_Proto_Components_V1_FeaturesRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_FeaturesResponse> {
    try await instances.features(request) { try await $0.features().map(\.rawValue) }
  }

  func delete(
    request: ServerRequest<Dapr_Proto_Components_V1_DeleteRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_DeleteResponse> {
    try await instances.perform(request) { instance, message in
      try await instance.delete(message)
    }
  }

  func get(
    request: ServerRequest<Dapr_Proto_Components_V1_GetRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_GetResponse> {
    try await instances.answer(request) { try await $0.get($1) }
  }

  func set(
    request: ServerRequest<Dapr_Proto_Components_V1_SetRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_SetResponse> {
    try await instances.perform(request) { instance, message in
      try await instance.set(message)
    }
  }

  func ping(
    request: ServerRequest<Dapr_Proto_Components_V1_PingRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_PingResponse> {
    try await instances.perform(request) { instance, _ in try await instance.ping() }
  }

  func bulkDelete(
    request: ServerRequest<Dapr_Proto_Components_V1_BulkDeleteRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_BulkDeleteResponse> {
    try await instances.perform(request) { instance, message in
      try await instance.bulkDelete(message)
    }
  }

  func bulkGet(
    request: ServerRequest<Dapr_Proto_Components_V1_BulkGetRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_BulkGetResponse> {
    try await instances.answer(request) { try await $0.bulkGet($1) }
  }

  func bulkSet(
    request: ServerRequest<Dapr_Proto_Components_V1_BulkSetRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_BulkSetResponse> {
    try await instances.perform(request) { instance, message in
      try await instance.bulkSet(message)
    }
  }
}

/// Serves `dapr.proto.components.v1.TransactionalStateStore` over the same instances
/// as the store's ``StateStoreService``.
struct TransactionalStateStoreService<Store: StateStoreComponent>:
  Dapr_Proto_Components_V1_TransactionalStateStore.ServiceProtocol
{
  let instances: InstanceRegistry<Store>

  func transact(
    request: ServerRequest<Dapr_Proto_Components_V1_TransactionalStateRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_TransactionalStateResponse> {
    try await mappingErrors {
      guard
        let store = try instances.instance(for: request.metadata)
          as? any TransactionalStateStoreComponent
      else {
        throw ComponentError.unsupported("this state store does not support transactions")
      }
      try await store.transact(request.message)
      return ServerResponse(message: .init())
    }
  }
}
