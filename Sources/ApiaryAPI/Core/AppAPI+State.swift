import ApiaryRuntime
import Foundation

extension AppAPI {
  private func keys(for component: InitializedComponent) -> StateKeys {
    StateKeys(keyPrefix: component.metadata["keyPrefix"], appID: options.appID, storeName: component.name)
  }

  /// One value; `data == nil` when the key is absent.
  public func getState(store name: String, _ request: StateGetRequest) async throws(APIError) -> StateGetResponse {
    let (store, component) = try await directory.stateStore(name)
    var request = request
    request.key = try keys(for: component).stored(request.key)
    do {
      return try await store.get(request)
    } catch {
      throw APIError.from(error, errorCode: "ERR_STATE_GET", component: name)
    }
  }

  /// Several values, in the order of `requests`, each with the key the app gave.
  public func getBulkState(
    store name: String, _ requests: [StateGetRequest], parallelism: Int
  ) async throws(APIError) -> [BulkStateItem] {
    let (store, component) = try await directory.stateStore(name)
    let keys = keys(for: component)
    var stored = requests
    for index in stored.indices {
      stored[index].key = try keys.stored(requests[index].key)
    }
    let items: [BulkStateItem]
    do {
      items = try await store.bulkGet(stored, parallelism: max(parallelism, 1))
    } catch {
      throw APIError.from(error, errorCode: "ERR_STATE_BULK_GET", component: name)
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
  public func saveState(store name: String, _ requests: [StateSetRequest]) async throws(APIError) {
    let (store, component) = try await directory.stateStore(name)
    let keys = keys(for: component)
    var stored = requests
    for index in stored.indices {
      stored[index].key = try keys.stored(requests[index].key)
    }
    do {
      if stored.count == 1 {
        try await store.set(stored[0])
      } else if !stored.isEmpty {
        try await store.bulkSet(stored, parallelism: 1)
      }
    } catch {
      throw APIError.from(error, errorCode: "ERR_STATE_SAVE", component: name)
    }
  }

  /// Deletes `requests` (one call for one item, a bulk call for several).
  public func deleteState(store name: String, _ requests: [StateDeleteRequest]) async throws(APIError) {
    let (store, component) = try await directory.stateStore(name)
    let keys = keys(for: component)
    var stored = requests
    for index in stored.indices {
      stored[index].key = try keys.stored(requests[index].key)
    }
    do {
      if stored.count == 1 {
        try await store.delete(stored[0])
      } else if !stored.isEmpty {
        try await store.bulkDelete(stored, parallelism: 1)
      }
    } catch {
      throw APIError.from(error, errorCode: "ERR_STATE_DELETE", component: name)
    }
  }

  /// Runs `operations` as one transaction.
  ///
  /// - Throws: ``APIError`` `unimplemented` (`ERR_STATE_STORE_NOT_SUPPORTED`) when the
  ///   store does not have the `TRANSACTIONAL` feature.
  public func transact(
    store name: String, _ operations: [StateOperation], metadata: [String: String]
  ) async throws(APIError) {
    let (store, component) = try await directory.stateStore(name)
    guard component.capabilities.contains("TRANSACTIONAL") else {
      throw APIError(
        .unimplemented, "ERR_STATE_STORE_NOT_SUPPORTED", "state store \(name) does not support transactions")
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
    do {
      try await store.transact(stored, metadata: metadata)
    } catch {
      throw APIError.from(error, errorCode: "ERR_STATE_TRANSACTION", component: name)
    }
  }

  /// The query API: no Apiary state store implements it yet.
  public func queryState(store name: String) async throws(APIError) -> Never {
    _ = try await directory.stateStore(name)
    throw APIError(
      .unimplemented, "ERR_STATE_STORE_NOT_SUPPORTED",
      "state store \(name): the query API (QueryStateAlpha1) is not supported by Apiary yet")
  }
}
