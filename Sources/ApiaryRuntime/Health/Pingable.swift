/// An adapter that can answer the sidecar's heartbeat with the contract's `Ping`.
public protocol Pingable: Sendable {
  /// Pings the component within `timeout`.
  func ping(timeout: Duration) async throws
}

extension StateStoreAdapter: Pingable {}
extension PubSubAdapter: Pingable {}
extension SecretStoreAdapter: Pingable {}
extension InputBindingAdapter: Pingable {}
extension OutputBindingAdapter: Pingable {}

extension ComponentKind {
  /// The adapter that can answer `Ping`, when the component has one.
  var pingable: (any Pingable)? {
    switch self {
    case .state(let store): store as? any Pingable
    case .pubsub(let pubsub): pubsub as? any Pingable
    case .secretStore(let store): store as? any Pingable
    case .bindings(let input, let output): (output as? any Pingable) ?? (input as? any Pingable)
    case .hello: nil
    }
  }
}
