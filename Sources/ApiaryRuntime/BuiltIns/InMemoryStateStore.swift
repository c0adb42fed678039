import Foundation

/// The built-in `state.in-memory` store: features ETAG, TRANSACTIONAL and TTL.
///
/// Etags are version numbers. A request with an etag succeeds only when the key exists
/// with that etag; first-write without an etag only creates; a value written with the
/// `ttlInSeconds` request metadata disappears after that many seconds. Bulk writes and
/// transactions apply all their operations or none. Data lives as long as the process.
public actor InMemoryStateStore: StateStore {
  /// The features this store offers.
  public static let features = ["ETAG", "TRANSACTIONAL", "TTL"]

  struct Entry {
    var value: Data
    var version: UInt64
    var contentType: String?
    var expires: ContinuousClock.Instant?
  }

  private var entries: [String: Entry] = [:]
  private var lastVersion: UInt64 = 0
  private let clock = ContinuousClock()

  public init() {}

  public func get(_ request: StateGetRequest) async throws -> StateGetResponse {
    guard let entry = live(request.key) else { return .notFound }
    var metadata: [String: String] = [:]
    if let expires = entry.expires {
      let remaining = clock.now.duration(to: expires)
      metadata["ttlExpireTime"] = ISO8601DateFormatter().string(
        from: Date().addingTimeInterval(remaining.seconds))
    }
    return StateGetResponse(
      data: entry.value, etag: String(entry.version), metadata: metadata,
      contentType: entry.contentType)
  }

  public func set(_ request: StateSetRequest) async throws { try apply([.set(request)]) }

  public func delete(_ request: StateDeleteRequest) async throws { try apply([.delete(request)]) }

  public func bulkGet(
    _ requests: [StateGetRequest], parallelism: Int
  ) async throws -> [BulkStateItem] {
    var items: [BulkStateItem] = []
    for request in requests {
      let found = try await get(request)
      items.append(
        BulkStateItem(
          key: request.key, data: found.data, etag: found.etag, metadata: found.metadata,
          contentType: found.contentType))
    }
    return items
  }

  public func bulkSet(_ requests: [StateSetRequest], parallelism: Int) async throws {
    try apply(requests.map { .set($0) })
  }

  public func bulkDelete(_ requests: [StateDeleteRequest], parallelism: Int) async throws {
    try apply(requests.map { .delete($0) })
  }

  public func transact(_ operations: [StateOperation], metadata: [String: String]) async throws {
    try apply(operations)
  }

  /// The entry of `key` unless it has expired (expired entries are dropped here).
  private func live(_ key: String) -> Entry? {
    guard let entry = entries[key] else { return nil }
    if let expires = entry.expires, expires <= clock.now {
      entries[key] = nil
      return nil
    }
    return entry
  }

  private func apply(_ operations: [StateOperation]) throws {
    var working = entries
    var version = lastVersion
    let now = clock.now
    func current(_ key: String) -> Entry? {
      guard let entry = working[key] else { return nil }
      if let expires = entry.expires, expires <= now { return nil }
      return entry
    }
    for operation in operations {
      switch operation {
      case .set(let set):
        try Self.check(
          key: set.key, etag: set.etag, concurrency: set.options.concurrency,
          current: current(set.key))
        version += 1
        var expires: ContinuousClock.Instant?
        if let ttl = set.metadata["ttlInSeconds"] {
          guard let seconds = Int(ttl) else {
            throw StateStoreError.unsupported(
              "metadata ttlInSeconds '\(ttl)' is not a whole number of seconds")
          }
          expires = seconds >= 0 ? now.advanced(by: .seconds(seconds)) : nil
        }
        working[set.key] = Entry(
          value: set.value, version: version, contentType: set.contentType, expires: expires)
      case .delete(let delete):
        try Self.check(
          key: delete.key, etag: delete.etag, concurrency: delete.options.concurrency,
          current: current(delete.key))
        working[delete.key] = nil
      }
    }
    entries = working
    lastVersion = version
  }

  private static func check(
    key: String, etag: String?, concurrency: StateOptions.Concurrency, current: Entry?
  ) throws {
    if let etag, !etag.isEmpty {
      guard let expected = UInt64(etag) else {
        throw StateStoreError.etagInvalid(
          "etag '\(etag)' is invalid: this store's etags are version numbers")
      }
      guard let current, current.version == expected else {
        throw StateStoreError.etagMismatch(
          "etag '\(etag)' does not match the stored version of key '\(key)'")
      }
    } else if concurrency == .firstWrite, current != nil {
      throw StateStoreError.etagMismatch(
        "first-write: key '\(key)' already exists and the request carries no etag")
    }
  }
}

extension Duration {
  /// The duration in seconds, as a floating-point number.
  var seconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}
