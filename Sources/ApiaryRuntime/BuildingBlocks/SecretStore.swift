/// Secrets by name, each a map of keys to values: the secret store building block.
public protocol SecretStore: Sendable {
  /// The secret `key` (its key–value map).
  ///
  /// - Throws: ``SecretStoreError/notFound(_:)`` when there is no such secret.
  func get(key: String, metadata: [String: String]) async throws -> [String: String]
  /// Every secret.
  func bulkGet(metadata: [String: String]) async throws -> [String: [String: String]]
}

/// Errors with a meaning for secret callers.
public enum SecretStoreError: Error, Sendable, Equatable, CustomStringConvertible {
  case notFound(String)

  public var description: String {
    switch self {
    case .notFound(let key): "secret '\(key)' not found"
    }
  }
}
