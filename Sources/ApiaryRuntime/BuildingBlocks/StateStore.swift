import Foundation

/// Concurrency and consistency options of a state request, as Dapr defines them.
public struct StateOptions: Sendable, Equatable {
  /// How concurrent writes to one key are resolved.
  public enum Concurrency: Sendable, Equatable {
    case unspecified
    /// A write without an etag succeeds only when the key does not exist.
    case firstWrite
    /// A write without an etag always succeeds.
    case lastWrite
  }

  /// The consistency a read or write asks for.
  public enum Consistency: Sendable, Equatable {
    case unspecified
    case eventual
    case strong
  }

  public var concurrency: Concurrency
  public var consistency: Consistency

  public init(concurrency: Concurrency = .unspecified, consistency: Consistency = .unspecified) {
    self.concurrency = concurrency
    self.consistency = consistency
  }
}

/// A read of one key.
public struct StateGetRequest: Sendable, Equatable {
  public var key: String
  public var metadata: [String: String]
  public var consistency: StateOptions.Consistency

  public init(
    key: String, metadata: [String: String] = [:],
    consistency: StateOptions.Consistency = .unspecified
  ) {
    self.key = key
    self.metadata = metadata
    self.consistency = consistency
  }
}

/// What a read found. `data == nil` means the key does not exist.
public struct StateGetResponse: Sendable, Equatable {
  public var data: Data?
  public var etag: String?
  public var metadata: [String: String]
  public var contentType: String?

  public init(
    data: Data?, etag: String? = nil, metadata: [String: String] = [:], contentType: String? = nil
  ) {
    self.data = data
    self.etag = etag
    self.metadata = metadata
    self.contentType = contentType
  }

  /// A response for a key that does not exist.
  public static let notFound = StateGetResponse(data: nil)
}

/// A request about one key of a state store, whose key the API rewrites to the
/// key as stored.
public protocol StateKeyedRequest: Sendable {
  var key: String { get set }
}

/// A write of one key.
public struct StateSetRequest: StateKeyedRequest, Equatable {
  public var key: String
  public var value: Data
  /// The etag the stored value must have; `nil` or empty for none.
  public var etag: String?
  public var metadata: [String: String]
  public var options: StateOptions
  public var contentType: String?

  public init(
    key: String, value: Data, etag: String? = nil, metadata: [String: String] = [:],
    options: StateOptions = .init(), contentType: String? = nil
  ) {
    self.key = key
    self.value = value
    self.etag = etag
    self.metadata = metadata
    self.options = options
    self.contentType = contentType
  }
}

/// A deletion of one key.
public struct StateDeleteRequest: StateKeyedRequest, Equatable {
  public var key: String
  public var etag: String?
  public var metadata: [String: String]
  public var options: StateOptions

  public init(
    key: String, etag: String? = nil, metadata: [String: String] = [:],
    options: StateOptions = .init()
  ) {
    self.key = key
    self.etag = etag
    self.metadata = metadata
    self.options = options
  }
}

/// One operation of a transaction.
public enum StateOperation: Sendable, Equatable {
  case set(StateSetRequest)
  case delete(StateDeleteRequest)
}

/// One key's result in a bulk read; `error` is set when that key alone failed.
public struct BulkStateItem: Sendable, Equatable {
  public var key: String
  public var data: Data?
  public var etag: String?
  public var metadata: [String: String]
  public var contentType: String?
  public var error: String?

  public init(
    key: String, data: Data? = nil, etag: String? = nil, metadata: [String: String] = [:],
    contentType: String? = nil, error: String? = nil
  ) {
    self.key = key
    self.data = data
    self.etag = etag
    self.metadata = metadata
    self.contentType = contentType
    self.error = error
  }
}

/// A key–value store with etags: the state building block.
///
/// Implemented by the gRPC adapter over a pluggable component and by the built-in
/// `state.in-memory`; the app API only sees this protocol.
///
/// Errors: ``StateStoreError`` for etag conflicts, invalid etags and unsupported
/// operations; ``ComponentCallError`` when the component cannot be reached.
public protocol StateStore: Sendable {
  func get(_ request: StateGetRequest) async throws -> StateGetResponse
  func set(_ request: StateSetRequest) async throws
  func delete(_ request: StateDeleteRequest) async throws
  func bulkGet(_ requests: [StateGetRequest], parallelism: Int) async throws -> [BulkStateItem]
  func bulkSet(_ requests: [StateSetRequest], parallelism: Int) async throws
  func bulkDelete(_ requests: [StateDeleteRequest], parallelism: Int) async throws
  /// Applies every operation or none; needs the `TRANSACTIONAL` feature.
  func transact(_ operations: [StateOperation], metadata: [String: String]) async throws
  /// Runs a query. A store that cannot query throws ``StateStoreError/queryNotSupported``.
  func query(_ query: StateQuery, metadata: [String: String]) async throws -> StateQueryResult
  /// The most operations one transaction may hold; nil when the store sets no limit.
  var maxTransactionOperations: Int? { get async }
}

extension StateStore {
  /// Stores without a query: ``StateStoreError/queryNotSupported``.
  public func query(
    _ query: StateQuery, metadata: [String: String]
  ) async throws -> StateQueryResult {
    throw StateStoreError.queryNotSupported
  }

  public var maxTransactionOperations: Int? { get async { nil } }
}

/// Errors with a meaning for state callers (mapped to HTTP 409/400 by the app API).
public enum StateStoreError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The etag does not match the stored one, or first-write found a value.
  case etagMismatch(String)
  /// The etag is malformed for this store.
  case etagInvalid(String)
  /// A bulk delete affected a different number of rows than asked.
  case bulkDeleteRowMismatch(String)
  /// The store does not offer this operation (e.g. transactions without TRANSACTIONAL).
  case unsupported(String)
  /// The store cannot run queries (a built-in one).
  case queryNotSupported

  public var description: String {
    switch self {
    case .etagMismatch(let message): "etag mismatch: \(message)"
    case .etagInvalid(let message): "invalid etag: \(message)"
    case .bulkDeleteRowMismatch(let message): "bulk delete row mismatch: \(message)"
    case .unsupported(let message): message
    case .queryNotSupported: "state store does not support querying"
    }
  }
}
