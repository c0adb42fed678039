/// How a state store's keys are stored: `<prefix>||<key>`, with the prefix chosen by
/// the component's `keyPrefix` metadata exactly as Dapr does, so data written through
/// Dapr is read back through Apiary and the other way round.
///
/// - `appid` (the default): the app id, `myapp||key`.
/// - `name`: the state store's name, `statestore||key`.
/// - `none`: the key as given.
/// - anything else: that text, `shared||key`.
public struct StateKeys: Sendable, Equatable {
  /// The separator Dapr puts between prefix and key.
  public static let separator = "||"

  /// The prefix, or `nil` for `keyPrefix: none`.
  public let prefix: String?

  public init(keyPrefix: String?, appID: String, storeName: String) {
    switch keyPrefix?.lowercased() ?? "appid" {
    case "", "appid": prefix = appID
    case "name": prefix = storeName
    case "none": prefix = nil
    default: prefix = keyPrefix
    }
  }

  /// The stored key for the app's `key`.
  ///
  /// - Throws: ``APIError`` `invalidArgument` (`ERR_MALFORMED_REQUEST`) for an empty key
  ///   or one containing `||`, which would make stored keys ambiguous.
  public func stored(_ key: String) throws(APIError) -> String {
    guard !key.isEmpty else {
      throw APIError(.invalidArgument, "ERR_MALFORMED_REQUEST", "a state key must not be empty")
    }
    guard !key.contains(Self.separator) else {
      throw APIError(.invalidArgument, "ERR_MALFORMED_REQUEST", "state key '\(key)' must not contain '||'")
    }
    guard let prefix else { return key }
    return prefix + Self.separator + key
  }
}
