/// The factories of the components built into the sidecar.
public enum BuiltInFactories {
  /// The built-in types.
  public static var types: [String] { all(environment: [:]).map(\.type) }

  /// `state.in-memory`, `pubsub.in-memory`, `secretstores.local.env`,
  /// `secretstores.local.file`; `environment` feeds the env secret store.
  public static func all(environment: [String: String]) -> [any ComponentFactory] {
    [
      BuiltInFactory(type: "state.in-memory") { _, _ in
        (.state(InMemoryStateStore()), InMemoryStateStore.features)
      },
      BuiltInFactory(type: "pubsub.in-memory") { name, _ in
        (.pubsub(InMemoryPubSub(name: name)), InMemoryPubSub.features)
      },
      BuiltInFactory(type: "secretstores.local.env") { _, metadata in
        (
          .secretStore(EnvironmentSecretStore(environment: environment, metadata: metadata)),
          EnvironmentSecretStore.features
        )
      },
      BuiltInFactory(type: "secretstores.local.file") { _, metadata in
        let store = try FileSecretStore(metadata: metadata)
        return (.secretStore(store), store.features)
      },
    ]
  }
}

/// A factory for a built-in component; built-ins answer to versions "" and "v1".
struct BuiltInFactory: ComponentFactory {
  let type: String
  let create:
    @Sendable (_ name: String, _ metadata: [String: String]) async throws -> (
      ComponentKind, [String]
    )

  init(
    type: String,
    create:
      @escaping @Sendable (_ name: String, _ metadata: [String: String]) async throws -> (
        ComponentKind, [String]
      )
  ) {
    self.type = type
    self.create = create
  }

  var source: ComponentSource { .builtIn }

  func accepts(version: String) -> Bool { version == "" || version == "v1" }

  func make(
    name: String, metadata: [String: String], timeout: Duration
  ) async throws -> (ComponentKind, [String]) {
    try await create(name, metadata)
  }
}
