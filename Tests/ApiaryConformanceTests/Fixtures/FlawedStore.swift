import ApiaryContracts
import ComponentKit
import Foundation

/// A state store that keeps the whole contract, unless told to break one part of it:
/// each ``Flaw`` breaks what exactly one conformance check looks at.
actor FlawedStore: TransactionalStateStoreComponent, QueriableStateStoreComponent {
  enum Flaw: String, CaseIterable, Sendable {
    case pingFails, dataForMissing, truncatesLarge, caseInsensitiveKeys, keepsFirstValue,
      deleteIgnored
    case deleteMissingFails, bulkGetDropsKey, bulkDeleteIgnored, etagNeverChanges, staleEtagAccepted
    case deleteIgnoresEtag, currentEtagRefused, firstWriteOverwrites, malformedEtagAsInternal
    case transactionReversed, transactionPartial, ttlIgnored, queryIgnoresFilter
  }

  struct Entry {
    var data: Data
    var version: Int
    var expires: ContinuousClock.Instant?
  }

  let flaws: Set<Flaw>
  var entries: [String: Entry] = [:]
  var version = 0

  init(_ flaws: Set<Flaw> = []) { self.flaws = flaws }

  func initialise(metadata: [String: String]) async throws {}
  func features() async throws -> [StateStoreFeature] { [.etag, .transactional, .ttl, .queryAPI] }

  func ping() async throws {
    if flaws.contains(.pingFails) { throw ComponentError.backend("the backend is unreachable") }
  }

  private func normalised(_ key: String) -> String {
    flaws.contains(.caseInsensitiveKeys) ? key.lowercased() : key
  }

  private func live(_ key: String) -> Entry? {
    guard let entry = entries[normalised(key)] else { return nil }
    if let expires = entry.expires, expires <= .now, !flaws.contains(.ttlIgnored) { return nil }
    return entry
  }

  func get(
    _ request: Dapr_Proto_Components_V1_GetRequest
  ) async throws -> Dapr_Proto_Components_V1_GetResponse {
    var response = Dapr_Proto_Components_V1_GetResponse()
    if let entry = live(request.key) {
      response.data = entry.data
      response.etag.value = String(entry.version)
    } else if flaws.contains(.dataForMissing) {
      response.etag.value = "0"
    }
    return response
  }

  /// The etag check of a write or delete; throws the contract's errors.
  private func check(_ key: String, etag: String?, firstWrite: Bool) throws {
    let current = live(key)
    guard let etag, !etag.isEmpty else {
      if firstWrite, current != nil, !flaws.contains(.firstWriteOverwrites) {
        throw ComponentError.etagMismatch("first-write: '\(key)' already exists")
      }
      return
    }
    guard let number = Int(etag) else {
      if flaws.contains(.malformedEtagAsInternal) { throw ComponentError.backend("bad etag") }
      throw ComponentError.etagInvalid("etag '\(etag)' is not a number")
    }
    if flaws.contains(.currentEtagRefused) {
      throw ComponentError.etagMismatch("etag \(number) refused")
    }
    if number != current?.version, !flaws.contains(.staleEtagAccepted) {
      throw ComponentError.etagMismatch("etag \(number) does not match")
    }
  }

  private func store(_ request: Dapr_Proto_Components_V1_SetRequest) throws {
    try check(
      request.key, etag: request.hasEtag ? request.etag.value : nil,
      firstWrite: request.options.concurrency == .concurrencyFirstWrite)
    if flaws.contains(.keepsFirstValue), live(request.key) != nil { return }
    var data = request.value
    if flaws.contains(.truncatesLarge), data.count > 65536 { data = data.prefix(65536) }
    if !flaws.contains(.etagNeverChanges) || live(request.key) == nil { version += 1 }
    let expires = request.metadata["ttlInSeconds"].flatMap(Int.init).map {
      ContinuousClock.now.advanced(by: .seconds($0))
    }
    entries[normalised(request.key)] = Entry(data: data, version: version, expires: expires)
  }

  private func remove(_ request: Dapr_Proto_Components_V1_DeleteRequest) throws {
    if flaws.contains(.deleteMissingFails), live(request.key) == nil {
      throw ComponentError.backend("no such key")
    }
    if !flaws.contains(.deleteIgnoresEtag) {
      try check(request.key, etag: request.hasEtag ? request.etag.value : nil, firstWrite: false)
    }
    if !flaws.contains(.deleteIgnored) { entries[normalised(request.key)] = nil }
  }

  func set(_ request: Dapr_Proto_Components_V1_SetRequest) async throws { try store(request) }
  func delete(_ request: Dapr_Proto_Components_V1_DeleteRequest) async throws {
    try remove(request)
  }

  func bulkGet(
    _ request: Dapr_Proto_Components_V1_BulkGetRequest
  ) async throws -> Dapr_Proto_Components_V1_BulkGetResponse {
    var response = Dapr_Proto_Components_V1_BulkGetResponse()
    let items = flaws.contains(.bulkGetDropsKey) ? Array(request.items.dropFirst()) : request.items
    for item in items {
      var result = Dapr_Proto_Components_V1_BulkStateItem()
      result.key = item.key
      if let entry = live(item.key) {
        result.data = entry.data
        result.etag.value = String(entry.version)
      }
      response.items.append(result)
    }
    return response
  }

  func bulkDelete(_ request: Dapr_Proto_Components_V1_BulkDeleteRequest) async throws {
    if flaws.contains(.bulkDeleteIgnored) { return }
    for item in request.items { try remove(item) }
  }

  func transact(_ request: Dapr_Proto_Components_V1_TransactionalStateRequest) async throws {
    let saved = (entries, version)
    let operations =
      flaws.contains(.transactionReversed) ? request.operations.reversed() : request.operations
    do {
      for operation in operations {
        switch operation.request {
        case .set(let set)?: try store(set)
        case .delete(let delete)?: try remove(delete)
        case nil: throw ComponentError.invalidArgument("an operation with no request")
        }
      }
    } catch {
      if !flaws.contains(.transactionPartial) { (entries, version) = saved }
      throw error
    }
  }

  func query(
    _ request: Dapr_Proto_Components_V1_QueryRequest
  ) async throws -> Dapr_Proto_Components_V1_QueryResponse {
    var query = request.query
    if flaws.contains(.queryIgnoresFilter) { query.filter = [:] }
    let evaluator = try StateQueryEvaluator(query)
    let rows = entries.keys.sorted().compactMap {
      key -> (key: String, value: Data, item: Dapr_Proto_Components_V1_QueryItem)? in
      guard let entry = live(key) else { return nil }
      var item = Dapr_Proto_Components_V1_QueryItem()
      item.key = key
      item.data = entry.data
      return (key: key, value: entry.data, item: item)
    }
    var response = Dapr_Proto_Components_V1_QueryResponse()
    (response.items, response.token) = evaluator.run(rows)
    return response
  }
}
