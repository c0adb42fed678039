/// A live component, as the building block it implements.
public enum ComponentKind: Sendable {
  case state(any StateStore)
  case pubsub(any PubSub)
  /// A bindings component is an input binding, an output binding, or both.
  case bindings(input: (any InputBinding)?, output: (any OutputBinding)?)
  case secretStore(any SecretStore)
  case hello(any HelloService)
}

/// Where a component's implementation lives.
public enum ComponentSource: Sendable, Equatable, CustomStringConvertible {
  /// Built into the sidecar.
  case builtIn
  /// A pluggable component process behind this socket.
  case socket(String)

  public var description: String {
    switch self {
    case .builtIn: "built-in"
    case .socket(let path): path
    }
  }
}

/// The life-cycle state of a configured component.
public enum ComponentState: String, Sendable, Equatable, CaseIterable {
  /// Its socket does not exist yet; it starts when the socket appears.
  case pending = "PENDING"
  /// It is being initialised.
  case initializing = "INIT"
  /// It is initialised and answering.
  case up = "UP"
  /// It stopped answering.
  case down = "DOWN"
  /// Its initialisation failed.
  case failed = "FAILED"
}

/// A component that has been initialised: what the API layer calls.
public struct InitializedComponent: Sendable {
  public var name: String
  public var type: String
  public var version: String
  public var source: ComponentSource
  /// Features (state, pub/sub, secret stores) or operations (output bindings).
  public var capabilities: [String]
  public var kind: ComponentKind
  /// The resolved `spec.metadata` without the values read from secret stores: what
  /// the sidecar itself reads (e.g. a state store's `keyPrefix`).
  public var metadata: [String: String]
  /// The names of the `spec.metadata` entries whose values came from a secret store
  /// (`secretKeyRef`): shown redacted, never with their value.
  public var secretKeys: Set<String> = []
  /// The names of the `spec.metadata` entries whose values came from the environment
  /// (`envRef`): never shown with their value either.
  public var environmentKeys: Set<String> = []
  /// Called when the sidecar stops, in reverse order of initialisation.
  public var close: @Sendable () async -> Void

  public init(
    name: String, type: String, version: String, source: ComponentSource, capabilities: [String],
    kind: ComponentKind, metadata: [String: String] = [:], secretKeys: Set<String> = [],
    environmentKeys: Set<String> = [], close: @escaping @Sendable () async -> Void = {}
  ) {
    self.metadata = metadata
    self.secretKeys = secretKeys
    self.environmentKeys = environmentKeys
    self.name = name
    self.type = type
    self.version = version
    self.source = source
    self.capabilities = capabilities
    self.kind = kind
    self.close = close
  }
}
