/// A feature a state store declares in its `Features` answer. The sidecar and
/// `apiary conformance` hold a store to each one it declares.
public struct StateStoreFeature: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
  /// The string on the wire (`ETAG`, `TRANSACTIONAL`, …).
  public let rawValue: String
  /// A feature named by its wire string.
  public init(rawValue: String) { self.rawValue = rawValue }
  /// A feature written as a string literal (`"ETAG"`).
  public init(stringLiteral value: String) { self.rawValue = value }

  /// Writes and deletes honour etags; every stored value has one.
  public static let etag: Self = "ETAG"
  /// `Transact` applies every operation, in order, or none.
  public static let transactional: Self = "TRANSACTIONAL"
  /// `QueriableStateStore/Query` is served.
  public static let queryAPI: Self = "QUERY_API"
  /// `ttlInSeconds` request metadata expires a value.
  public static let ttl: Self = "TTL"
  /// Deleting with a key prefix removes every key under it.
  public static let deleteWithPrefix: Self = "DELETE_WITH_PREFIX"
  /// Requests may carry a `partitionKey`.
  public static let partitionKey: Self = "PARTITION_KEY"
  /// Keys can be listed by pattern.
  public static let keysLike: Self = "KEYS_LIKE"
}

/// A feature a pub/sub declares in its `Features` answer.
public struct PubSubFeature: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
  /// The string on the wire (`BULK_PUBSUB`, …).
  public let rawValue: String
  /// A feature named by its wire string.
  public init(rawValue: String) { self.rawValue = rawValue }
  /// A feature written as a string literal (`"BULK_PUBSUB"`).
  public init(stringLiteral value: String) { self.rawValue = value }

  /// `BulkPublish` is served natively (not entry by entry through `Publish`).
  public static let bulkPublish: Self = "BULK_PUBSUB"
  /// `ttlInSeconds` publish metadata expires a message.
  public static let messageTTL: Self = "MESSAGE_TTL"
  /// Topic names in subscriptions may hold wildcards.
  public static let subscribeWildcards: Self = "SUBSCRIBE_WILDCARDS"
}

/// A feature a secret store declares in its `Features` answer.
public struct SecretStoreFeature: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
  /// The string on the wire (`MULTIPLE_KEY_VALUES_PER_SECRET`).
  public let rawValue: String
  /// A feature named by its wire string.
  public init(rawValue: String) { self.rawValue = rawValue }
  /// A feature written as a string literal.
  public init(stringLiteral value: String) { self.rawValue = value }

  /// A secret may hold several key/value pairs.
  public static let multipleKeyValuesPerSecret: Self = "MULTIPLE_KEY_VALUES_PER_SECRET"
}
