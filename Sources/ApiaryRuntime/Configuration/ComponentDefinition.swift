/// One `kind: Component` document: a named instance of a component type and the
/// configuration it is initialised with.
///
/// ```yaml
/// apiVersion: dapr.io/v1alpha1
/// kind: Component
/// metadata:
///   name: statestore
/// spec:
///   type: state.redis
///   version: v1
///   metadata:
///   - name: redisHost
///     value: localhost:6379
/// ```
public struct ComponentDefinition: Sendable, Equatable {
  /// How long `Init` may take when `spec.initTimeout` is not written.
  public static let defaultInitTimeout: Duration = .seconds(5)

  /// `metadata.name`: the name applications use to address the component. Never empty.
  public var name: String
  /// `spec.type`, e.g. `state.redis`: the building block, a dot, then the implementation.
  public var type: String
  /// `spec.version`, e.g. `v1`; empty when not written.
  public var version: String
  /// `spec.metadata`, in the order written.
  public var metadata: [MetadataItem]
  /// `spec.ignoreErrors`: when true, a component that fails to initialise is logged and
  /// left out instead of stopping the sidecar.
  public var ignoreErrors: Bool
  /// `spec.initTimeout`: how long `Init` may take.
  public var initTimeout: Duration
  /// `auth.secretStore`: the secret store that `secretKeyRef` values are read from.
  public var secretStore: String?
  /// The top-level `scopes`: the app ids that may use the component; empty means every app.
  public var scopes: [String]
  /// Where the definition was written.
  public var source: DefinitionSource

  /// Creates a definition.
  public init(
    name: String,
    type: String,
    version: String = "",
    metadata: [MetadataItem] = [],
    ignoreErrors: Bool = false,
    initTimeout: Duration = ComponentDefinition.defaultInitTimeout,
    secretStore: String? = nil,
    scopes: [String] = [],
    source: DefinitionSource
  ) {
    self.name = name
    self.type = type
    self.version = version
    self.metadata = metadata
    self.ignoreErrors = ignoreErrors
    self.initTimeout = initTimeout
    self.secretStore = secretStore
    self.scopes = scopes
    self.source = source
  }

  /// The building block: `type` up to its first dot (`state` for `state.redis`).
  public var buildingBlock: String {
    String(type.prefix { $0 != "." })
  }

  /// Whether this component is a secret store (its type starts with `secretstores.`).
  public var isSecretStore: Bool { buildingBlock == "secretstores" }

  /// Whether the app `appID` may use this component: `scopes` is empty or lists it.
  public func isVisible(to appID: String) -> Bool {
    scopes.isEmpty || scopes.contains(appID)
  }

  /// The index of the first `spec.metadata` entry that reads a secret, if any.
  var firstSecretReference: Int? {
    metadata.firstIndex {
      if case .secretKeyRef = $0.value { return true }
      return false
    }
  }

  /// Fails when two `spec.metadata` entries have the same name (the component would
  /// silently receive only one of them).
  func checkUniqueMetadataNames() throws(ConfigurationError) {
    var firstIndex: [String: Int] = [:]
    for (index, item) in metadata.enumerated() {
      if let earlier = firstIndex[item.name] {
        throw ConfigurationError(
          source,
          "spec.metadata[\(earlier)] and spec.metadata[\(index)] are both named '\(item.name)'; keep one"
        )
      }
      firstIndex[item.name] = index
    }
  }
}
