import ApiaryContracts
import ComponentKit
import Foundation

/// An in-memory state store with etags (version numbers), transactions and queries.
///
/// Etag rules, as Dapr's stores follow them: a request with an etag succeeds only when
/// the key exists with that etag; a first-write request without one succeeds only when
/// the key does not exist; a last-write request without one always succeeds. An etag
/// that is not a version number is invalid (INVALID_ARGUMENT), a wrong one a mismatch
/// (FAILED_PRECONDITION). Bulk writes and transactions apply all or nothing. Queries
/// (filters, sort, paging) run over the values that are JSON, with ComponentKit's
/// ``StateQueryEvaluator``.
actor MemStore: TransactionalStateStoreComponent, QueriableStateStoreComponent {
  struct Entry {
    var value: Data
    var version: UInt64
    var contentType: String
  }

  private var entries: [String: Entry] = [:]
  private var lastVersion: UInt64 = 0

  func initialise(metadata: [String: String]) async throws {}

  func features() async throws -> [StateStoreFeature] { ["ETAG", "TRANSACTIONAL", "QUERY_API"] }

  func query(
    _ request: Dapr_Proto_Components_V1_QueryRequest
  ) async throws -> Dapr_Proto_Components_V1_QueryResponse {
    let evaluator = try StateQueryEvaluator(request.query)
    let rows = entries.sorted { $0.key < $1.key }.map { entry in
      var item = Dapr_Proto_Components_V1_QueryItem()
      item.key = entry.key
      item.data = entry.value.value
      item.etag.value = String(entry.value.version)
      item.contentType = entry.value.contentType
      return (key: entry.key, value: entry.value.value, item: item)
    }
    let (items, token) = evaluator.run(rows)
    var response = Dapr_Proto_Components_V1_QueryResponse()
    response.items = items
    response.token = token
    return response
  }

  func get(
    _ request: Dapr_Proto_Components_V1_GetRequest
  ) async throws -> Dapr_Proto_Components_V1_GetResponse {
    var response = Dapr_Proto_Components_V1_GetResponse()
    if let entry = entries[request.key] {
      response.data = entry.value
      response.etag.value = String(entry.version)
      response.contentType = entry.contentType
    }
    return response
  }

  func set(_ request: Dapr_Proto_Components_V1_SetRequest) async throws {
    try apply([.set(request)])
  }

  func delete(_ request: Dapr_Proto_Components_V1_DeleteRequest) async throws {
    try apply([.delete(request)])
  }

  func bulkSet(_ request: Dapr_Proto_Components_V1_BulkSetRequest) async throws {
    try apply(request.items.map { .set($0) })
  }

  func bulkDelete(_ request: Dapr_Proto_Components_V1_BulkDeleteRequest) async throws {
    try apply(request.items.map { .delete($0) })
  }

  func transact(_ request: Dapr_Proto_Components_V1_TransactionalStateRequest) async throws {
    var operations: [Dapr_Proto_Components_V1_TransactionalStateOperation.OneOf_Request] = []
    for (position, operation) in request.operations.enumerated() {
      guard let body = operation.request else {
        throw ComponentError.invalidArgument(
          "operation \(position) of the transaction is neither set nor delete")
      }
      operations.append(body)
    }
    try apply(operations)
  }

  /// Checks every operation against the state as the earlier ones leave it, then
  /// commits them together; nothing changes when one fails.
  private func apply(
    _ operations: [Dapr_Proto_Components_V1_TransactionalStateOperation.OneOf_Request]
  ) throws {
    var working = entries
    var version = lastVersion
    for operation in operations {
      switch operation {
      case .set(let set):
        try Self.check(
          key: set.key, etag: set.hasEtag ? set.etag.value : "",
          concurrency: set.options.concurrency, in: working)
        version += 1
        working[set.key] = Entry(value: set.value, version: version, contentType: set.contentType)
      case .delete(let delete):
        try Self.check(
          key: delete.key, etag: delete.hasEtag ? delete.etag.value : "",
          concurrency: delete.options.concurrency, in: working)
        working[delete.key] = nil
      }
    }
    entries = working
    lastVersion = version
  }

  private static func check(
    key: String,
    etag: String,
    concurrency: Dapr_Proto_Components_V1_StateOptions.StateConcurrency,
    in entries: [String: Entry]
  ) throws {
    guard !key.isEmpty else { throw ComponentError.invalidArgument("the key is empty") }
    let current = entries[key]
    if !etag.isEmpty {
      guard let expected = UInt64(etag) else {
        throw ComponentError.etagInvalid(
          "etag '\(etag)' is invalid: this store's etags are version numbers")
      }
      guard let current, current.version == expected else {
        throw ComponentError.etagMismatch(
          "etag '\(etag)' does not match the stored version of key '\(key)'")
      }
    } else if concurrency == .concurrencyFirstWrite, current != nil {
      throw ComponentError.etagMismatch(
        "first-write: key '\(key)' already exists and the request carries no etag")
    }
  }
}
