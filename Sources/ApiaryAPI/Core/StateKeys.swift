import Foundation

/// How a state store's keys are stored: `<prefix>||<key>`, with the prefix chosen by
/// the component's `keyPrefix` metadata exactly as Dapr does, so data written through
/// Dapr is read back through Apiary and the other way round.
///
/// - `appid` (the default): the app id, `myapp||key`.
/// - `name`: the state store's name, `statestore||key`.
/// - `namespace`: `{NAMESPACE}.{appID}||key` (the app id alone without a namespace).
/// - `none`: the key as given.
/// - anything else: that text, `shared||key`.
public struct StateKeys: Sendable, Equatable {
  /// The separator Dapr puts between prefix and key.
  public static let separator = "||"

  /// The prefix, or `nil` for `keyPrefix: none`.
  public let prefix: String?
  /// The store's name, for error messages.
  public let storeName: String

  /// - Parameter namespace: The Kubernetes namespace (`NAMESPACE`), for `keyPrefix:
  ///   namespace` (`{namespace}.{appID}`, the app id alone without one).
  public init(
    keyPrefix: String?, appID: String, storeName: String,
    namespace: String = ProcessInfo.processInfo.environment["NAMESPACE"] ?? ""
  ) {
    self.storeName = storeName
    switch keyPrefix?.lowercased() ?? "appid" {
    case "", "appid": prefix = appID
    case "namespace": prefix = namespace.isEmpty ? appID : "\(namespace).\(appID)"
    case "name": prefix = storeName
    case "none": prefix = nil
    default: prefix = keyPrefix
    }
  }

  /// The stored key for the app's `key`.
  ///
  /// - Throws: ``DaprError`` `emptyKey` for an empty key, `illegalKey` for one
  ///   containing `||`, which would make stored keys ambiguous.
  public func stored(_ key: String) throws(DaprError) -> String {
    guard !key.isEmpty else { throw .emptyKey() }
    guard !key.contains(Self.separator) else { throw .illegalKey(key, store: storeName) }
    guard let prefix else { return key }
    return prefix + Self.separator + key
  }

  /// The app's key for a stored one: the part after the first `||` (the key as it is
  /// when it has none), as daprd strips results.
  public static func appKey(_ stored: String) -> String {
    guard let range = stored.range(of: separator) else { return stored }
    return String(stored[range.upperBound...])
  }
}
