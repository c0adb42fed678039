/// The factories of the components built into the sidecar.
public enum BuiltInFactories {
  /// `state.in-memory`, `pubsub.in-memory`, `secretstores.local.env`,
  /// `secretstores.local.file`; `environment` feeds the env secret store.
  public static func all(environment: [String: String]) -> [any ComponentFactory] {
    [
      BuiltInFactory(type: "state.in-memory") { _ in (.state(InMemoryStateStore()), InMemoryStateStore.features) },
      BuiltInFactory(type: "pubsub.in-memory") { _ in (.pubsub(InMemoryPubSub()), InMemoryPubSub.features) },
      BuiltInFactory(type: "secretstores.local.env") { metadata in
        (.secretStore(EnvironmentSecretStore(environment: environment, metadata: metadata)), EnvironmentSecretStore.features)
      },
      BuiltInFactory(type: "secretstores.local.file") { metadata in
        (.secretStore(try FileSecretStore(metadata: metadata)), FileSecretStore.features)
      },
    ]
  }
}

/// A factory for a built-in component; built-ins answer to versions "" and "v1".
struct BuiltInFactory: ComponentFactory {
  let type: String
  let create: @Sendable (_ metadata: [String: String]) async throws -> (ComponentKind, [String])

  init(type: String, create: @escaping @Sendable (_ metadata: [String: String]) async throws -> (ComponentKind, [String])) {
    self.type = type
    self.create = create
  }

  var source: ComponentSource { .builtIn }

  func accepts(version: String) -> Bool { version == "" || version == "v1" }

  func make(name: String, metadata: [String: String], timeout: Duration) async throws -> (ComponentKind, [String]) {
    try await create(metadata)
  }
}
