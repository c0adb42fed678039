import ApiaryContracts
import Foundation
import GRPCCore
import GRPCCoreCTransport
import SwiftProtobuf
import Synchronization

/// ``StateStore`` over a pluggable component's `StateStore` (and, for transactions,
/// `TransactionalStateStore`) service.
public struct StateStoreAdapter: StateStore {
  let context: AdapterContext
  /// Whether the socket serves `TransactionalStoreMultiMaxSize`.
  let servesMultiMaxSize: Bool
  private let limits = TransactionLimit()
  private var store: Dapr_Proto_Components_V1_StateStore.Client<SelectedClientTransport> {
    .init(wrapping: context.channel.client)
  }

  public init(context: AdapterContext, servesMultiMaxSize: Bool = false) {
    self.context = context
    self.servesMultiMaxSize = servesMultiMaxSize
  }

  /// Runs `Init` with the resolved metadata, then asks for the features (and the
  /// transaction size limit, when the socket serves `TransactionalStoreMultiMaxSize`).
  public func initialise(metadata: [String: String], timeout: Duration) async throws -> [String] {
    var request = Dapr_Proto_Components_V1_InitRequest()
    request.metadata.properties = metadata
    try await context.call("Init", timeout: timeout) { [request] in
      _ = try await store.`init`(
        request, metadata: context.metadata, options: context.options(timeout: timeout))
    }
    let features = try await context.call("Features", timeout: timeout) {
      try await store.features(
        Dapr_Proto_Components_V1_FeaturesRequest(), metadata: context.metadata,
        options: context.options(timeout: timeout)
      ).features
    }
    if servesMultiMaxSize {
      let client = Dapr_Proto_Components_V1_TransactionalStoreMultiMaxSize.Client(
        wrapping: context.channel.client)
      let size = try await context.call("MultiMaxSize", timeout: timeout) {
        try await client.multiMaxSize(
          Dapr_Proto_Components_V1_MultiMaxSizeRequest(), metadata: context.metadata,
          options: context.options(timeout: timeout)
        ).maxSize
      }
      limits.set(size > 0 ? Int(size) : nil)
    }
    return features
  }

  public var maxTransactionOperations: Int? { get async { limits.value } }

  /// Forwards the query to `QueriableStateStore.Query` as daprd does: each filter
  /// node an `Any` with an empty type URL whose value is the operand's JSON. A
  /// component without the service answers UNIMPLEMENTED.
  public func query(
    _ query: StateQuery, metadata: [String: String]
  ) async throws -> StateQueryResult {
    var request = Dapr_Proto_Components_V1_QueryRequest()
    request.metadata = metadata
    if let filter = query.filter {
      var any = Google_Protobuf_Any()
      any.typeURL = ""
      any.value = filter.operand.jsonData
      request.query.filter = [filter.name: any]
    }
    request.query.sort = query.sort.map { sorting in
      var wire = Dapr_Proto_Components_V1_Sorting()
      wire.key = sorting.key
      wire.order = sorting.descending ? .desc : .asc
      return wire
    }
    request.query.pagination.limit = Int64(query.limit)
    request.query.pagination.token = query.token
    let queriable = Dapr_Proto_Components_V1_QueriableStateStore.Client(
      wrapping: context.channel.client)
    let response = try await context.call("Query") { [request] in
      try await queriable.query(request, metadata: context.metadata, options: context.options())
    }
    return StateQueryResult(
      items: response.items.map {
        StateQueryResult.Item(
          key: $0.key, data: $0.data,
          etag: $0.hasEtag && !$0.etag.value.isEmpty ? $0.etag.value : nil,
          error: $0.error.isEmpty ? nil : $0.error,
          contentType: $0.contentType.isEmpty ? nil : $0.contentType)
      }, token: response.token, metadata: response.metadata)
  }

  /// Answers the heartbeat.
  public func ping(timeout: Duration) async throws {
    let client = store
    try await context.ping(timeout: timeout) { metadata, options in
      _ = try await client.ping(.init(), metadata: metadata, options: options)
    }
  }

  public func get(_ request: StateGetRequest) async throws -> StateGetResponse {
    let response = try await context.call("Get") {
      try await store.get(request.wire, metadata: context.metadata, options: context.options())
    }
    return StateGetResponse(wire: response)
  }

  public func set(_ request: StateSetRequest) async throws {
    try await context.call("Set") {
      _ = try await store.set(request.wire, metadata: context.metadata, options: context.options())
    }
  }

  public func delete(_ request: StateDeleteRequest) async throws {
    try await context.call("Delete") {
      _ = try await store.delete(
        request.wire, metadata: context.metadata, options: context.options())
    }
  }

  public func bulkGet(
    _ requests: [StateGetRequest], parallelism: Int
  ) async throws -> [BulkStateItem] {
    var request = Dapr_Proto_Components_V1_BulkGetRequest()
    request.items = requests.map(\.wire)
    request.options.parallelism = Int64(parallelism)
    let response = try await context.call("BulkGet") { [request] in
      try await store.bulkGet(request, metadata: context.metadata, options: context.options())
    }
    return response.items.map { item in
      BulkStateItem(
        key: item.key,
        data: item.data.isEmpty && !item.hasEtag ? nil : item.data,
        etag: item.hasEtag && !item.etag.value.isEmpty ? item.etag.value : nil,
        metadata: item.metadata,
        contentType: item.contentType.isEmpty ? nil : item.contentType,
        error: item.error.isEmpty ? nil : item.error
      )
    }
  }

  public func bulkSet(_ requests: [StateSetRequest], parallelism: Int) async throws {
    var request = Dapr_Proto_Components_V1_BulkSetRequest()
    request.items = requests.map(\.wire)
    request.options.parallelism = Int64(parallelism)
    try await context.call("BulkSet") { [request] in
      _ = try await store.bulkSet(request, metadata: context.metadata, options: context.options())
    }
  }

  public func bulkDelete(_ requests: [StateDeleteRequest], parallelism: Int) async throws {
    var request = Dapr_Proto_Components_V1_BulkDeleteRequest()
    request.items = requests.map(\.wire)
    request.options.parallelism = Int64(parallelism)
    try await context.call("BulkDelete") { [request] in
      _ = try await store.bulkDelete(
        request, metadata: context.metadata, options: context.options())
    }
  }

  public func transact(_ operations: [StateOperation], metadata: [String: String]) async throws {
    var request = Dapr_Proto_Components_V1_TransactionalStateRequest()
    request.metadata = metadata
    request.operations = operations.map { operation in
      var wire = Dapr_Proto_Components_V1_TransactionalStateOperation()
      switch operation {
      case .set(let set): wire.set = set.wire
      case .delete(let delete): wire.delete = delete.wire
      }
      return wire
    }
    let transactional = Dapr_Proto_Components_V1_TransactionalStateStore.Client(
      wrapping: context.channel.client)
    try await context.call("Transact") { [request] in
      _ = try await transactional.transact(
        request, metadata: context.metadata, options: context.options())
    }
  }
}

extension StateOptions {
  var wire: Dapr_Proto_Components_V1_StateOptions {
    var options = Dapr_Proto_Components_V1_StateOptions()
    options.concurrency =
      switch concurrency {
      case .unspecified: .concurrencyUnspecified
      case .firstWrite: .concurrencyFirstWrite
      case .lastWrite: .concurrencyLastWrite
      }
    options.consistency = consistency.wire
    return options
  }
}

extension StateOptions.Consistency {
  var wire: Dapr_Proto_Components_V1_StateOptions.StateConsistency {
    switch self {
    case .unspecified: .consistencyUnspecified
    case .eventual: .consistencyEventual
    case .strong: .consistencyStrong
    }
  }
}

extension StateGetRequest {
  var wire: Dapr_Proto_Components_V1_GetRequest {
    var request = Dapr_Proto_Components_V1_GetRequest()
    request.key = key
    request.metadata = metadata
    request.consistency = consistency.wire
    return request
  }
}

extension StateSetRequest {
  var wire: Dapr_Proto_Components_V1_SetRequest {
    var request = Dapr_Proto_Components_V1_SetRequest()
    request.key = key
    request.value = value
    if let etag, !etag.isEmpty { request.etag.value = etag }
    request.metadata = metadata
    request.options = options.wire
    request.contentType = contentType ?? ""
    return request
  }
}

extension StateDeleteRequest {
  var wire: Dapr_Proto_Components_V1_DeleteRequest {
    var request = Dapr_Proto_Components_V1_DeleteRequest()
    request.key = key
    if let etag, !etag.isEmpty { request.etag.value = etag }
    request.metadata = metadata
    request.options = options.wire
    return request
  }
}

extension StateGetResponse {
  /// The contract has no "found" flag: no data and no etag means not found.
  init(wire: Dapr_Proto_Components_V1_GetResponse) {
    let etag = wire.hasEtag && !wire.etag.value.isEmpty ? wire.etag.value : nil
    self.init(
      data: wire.data.isEmpty && etag == nil ? nil : wire.data,
      etag: etag,
      metadata: wire.metadata,
      contentType: wire.contentType.isEmpty ? nil : wire.contentType
    )
  }
}

/// The transaction size limit a component told at Init.
final class TransactionLimit: Sendable {
  private let stored = Mutex<Int?>(nil)
  var value: Int? { stored.withLock { $0 } }
  func set(_ value: Int?) { stored.withLock { $0 = value } }
}
