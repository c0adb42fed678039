import ApiaryRuntime
import Foundation

extension AppAPI {
  /// How `component`'s keys are stored (its `keyPrefix` metadata).
  func keys(for component: InitializedComponent) -> StateKeys {
    StateKeys(
      keyPrefix: component.metadata["keyPrefix"], appID: options.appID, storeName: component.name)
  }

  /// One value; `data == nil` when the key is absent.
  public func getState(
    store name: String, _ request: StateGetRequest
  ) async throws(DaprError) -> StateGetResponse {
    let (store, component) = try await directory.stateStore(name, appID: options.appID)
    var stored = request
    stored.key = try keys(for: component).stored(request.key)
    do {
      return try await outbound(name, direction: .outbound) { [stored] in
        try await store.get(stored)
      }
    } catch {
      // daprd names the key the app gave, not the stored one.
      throw .stateGet(key: request.key, store: name, error)
    }
  }

  /// Several values, in the order of `requests`, each with the key the app gave.
  public func getBulkState(
    store name: String, _ requests: [StateGetRequest], parallelism: Int
  ) async throws(DaprError) -> [BulkStateItem] {
    let (store, component) = try await directory.stateStore(name, appID: options.appID)
    let keys = keys(for: component)
    var stored = requests
    for index in stored.indices {
      stored[index].key = try keys.stored(requests[index].key)
    }
    let items: [BulkStateItem]
    do {
      items = try await outbound(name, direction: .outbound) { [stored] in
        try await store.bulkGet(stored, parallelism: max(parallelism, 1))
      }
    } catch {
      throw .stateBulkGet(store: name, error)
    }
    // Components may answer in any order: match answers to requests by stored key.
    var byKey: [String: BulkStateItem] = [:]
    for item in items { byKey[item.key] = item }
    return requests.indices.map { index in
      var item = byKey[stored[index].key] ?? BulkStateItem(key: stored[index].key)
      item.key = requests[index].key
      return item
    }
  }

  /// Saves `requests` (one call for one item, a bulk call for several).
  public func saveState(store name: String, _ requests: [StateSetRequest]) async throws(DaprError) {
    try await write(
      requests, to: name,
      check: { requests throws(DaprError) in
        if requests.contains(where: { $0.key.isEmpty }) { throw .emptyKeyOnSave() }
      },
      one: { try await $0.set($1) },
      bulk: { try await $0.bulkSet($1, parallelism: 1) },
      failure: { _, error in .stateSave(store: name, error) })
  }

  /// Deletes `requests` (one call for one item, a bulk call for several).
  public func deleteState(
    store name: String, _ requests: [StateDeleteRequest]
  ) async throws(DaprError) {
    try await write(
      requests, to: name, one: { try await $0.delete($1) },
      bulk: { try await $0.bulkDelete($1, parallelism: 1) },
      failure: { requests, error in
        requests.count == 1
          ? .stateDelete(key: requests[0].key, store: name, error)
          : .stateBulkDelete(store: name, error)
      })
  }

  /// Sends `requests` to the state store `name` with their keys as stored (the app
  /// ID prefix of ``StateKeys``): `one` for a single request, `bulk` for several,
  /// nothing for none. `check` runs once the store is found. `failure` turns the store's error into the API's, given the
  /// requests as the app wrote them.
  private func write<Request: StateKeyedRequest>(
    _ requests: [Request], to name: String,
    check: ([Request]) throws(DaprError) -> Void = { _ in },
    one: @escaping @Sendable (any StateStore, Request) async throws -> Void,
    bulk: @escaping @Sendable (any StateStore, [Request]) async throws -> Void,
    failure: ([Request], any Error) -> DaprError
  ) async throws(DaprError) {
    let (store, component) = try await directory.stateStore(name, appID: options.appID)
    try check(requests)
    let keys = keys(for: component)
    var stored = requests
    for index in stored.indices {
      stored[index].key = try keys.stored(requests[index].key)
    }
    do {
      try await outbound(name, direction: .outbound) { [stored] in
        if stored.count == 1 {
          try await one(store, stored[0])
        } else if !stored.isEmpty {
          try await bulk(store, stored)
        }
      }
    } catch {
      throw failure(requests, error)
    }
  }

  /// Runs `operations` as one transaction; for a store with an outbox, publishes an
  /// event per upsert after the commit (``OutboxRelay``).
  ///
  /// - Throws: ``DaprError`` `transactionsNotSupported` when the store lacks the
  ///   `TRANSACTIONAL` feature; `tooManyOperations` past its `MultiMaxSize`;
  ///   `outboxPublish` when the outbox's internal publish fails (nothing is saved).
  public func transact(
    store name: String, _ operations: [StateOperation], metadata: [String: String],
    trace: TraceContext? = nil
  ) async throws(DaprError) {
    let (store, component) = try await directory.stateStore(name, appID: options.appID)
    guard component.capabilities.contains("TRANSACTIONAL") else {
      throw .transactionsNotSupported(name)
    }
    let keys = keys(for: component)
    var stored: [StateOperation] = []
    for operation in operations {
      switch operation {
      case .set(var request):
        request.key = try keys.stored(request.key)
        stored.append(.set(request))
      case .delete(var request):
        request.key = try keys.stored(request.key)
        stored.append(.delete(request))
      }
    }
    if let outbox = Outbox(component: component, appID: options.appID) {
      stored = try await outbox.prepare(
        stored, requestMetadata: metadata, trace: trace, api: self)
    }
    if let limit = await store.maxTransactionOperations, operations.count > limit {
      throw .tooManyOperations(operations.count, max: limit, store: name)
    }
    do {
      try await outbound(name, direction: .outbound) { [stored] in
        try await store.transact(stored, metadata: metadata)
      }
    } catch {
      throw .stateTransaction(store: name, error)
    }
  }

  /// The query API: the query JSON, checked here as daprd checks it, forwarded to the
  /// store; result keys without their prefix.
  ///
  /// - Throws: ``DaprError`` `queryFailed` for a query that does not parse or that the
  ///   component failed (also when it has no `QueriableStateStore`), and
  ///   `queryingNotSupported` for a built-in store.
  public func queryState(
    store name: String, query json: Data, metadata: [String: String]
  ) async throws(DaprError) -> StateQueryResult {
    let (store, _) = try await directory.stateStore(name, appID: options.appID)
    let query: StateQuery
    do {
      query = try StateQuery(json: json)
    } catch {
      throw .queryFailed(name, detail: "failed to parse JSON query body: \(error)")
    }
    var result: StateQueryResult
    do {
      result = try await outbound(name, direction: .outbound) {
        try await store.query(query, metadata: metadata)
      }
    } catch StateStoreError.queryNotSupported {
      throw .queryingNotSupported(name)
    } catch {
      if let passed = DaprError.componentRich(error)
        ?? DaprError.componentTransport(error, component: name)
      {
        throw passed
      }
      throw .queryFailed(name, detail: DaprError.text(of: error))
    }
    for index in result.items.indices {
      result.items[index].key = StateKeys.appKey(result.items[index].key)
    }
    return result
  }
}
