import ApiaryRuntime
import Testing

/// A definition written in `file` (document 1), reading its metadata from the secret
/// store `secretsFrom` when given.
private func definition(
  _ name: String, type: String = "state.memory", secretsFrom store: String? = nil,
  file: String? = nil
) -> ComponentDefinition {
  ComponentDefinition(
    name: name,
    type: type,
    metadata: store == nil
      ? [MetadataItem(name: "host", value: .literal("localhost"))]
      : [
        MetadataItem(name: "host", value: .literal("localhost")),
        MetadataItem(name: "password", value: .secretKeyRef(name: "db", key: "password")),
      ],
    secretStore: store,
    source: DefinitionSource(file: file ?? "components/\(name).yaml", document: 1))
}

extension ConfigurationTests {
  @Suite("initialisation order: secret stores before their users")
  struct InitializationOrderTests {
    @Test("without secret references the order is unchanged")
    func stable() throws {
      let definitions = [
        definition("c"), definition("a"), definition("vault", type: "secretstores.local.env"),
        definition("b"),
      ]
      #expect(try InitializationOrder.order(definitions) == definitions)
    }

    @Test(
      "a secret store defined after its user moves to just before it; the rest keep their order")
    func storeMovesFirst() throws {
      let definitions = [
        definition("first"),
        definition("statestore", secretsFrom: "vault"),
        definition("middle"),
        definition("vault", type: "secretstores.local.file"),
        definition("last", secretsFrom: "vault"),
      ]
      let ordered = try InitializationOrder.order(definitions)
      #expect(ordered.map(\.name) == ["first", "vault", "statestore", "middle", "last"])
    }

    @Test("a secret store already before its users stays where it is")
    func alreadyOrdered() throws {
      let definitions = [
        definition("vault", type: "secretstores.local.env"),
        definition("statestore", secretsFrom: "vault"),
        definition("other"),
      ]
      #expect(try InitializationOrder.order(definitions) == definitions)
    }

    @Test("chains of secret stores are followed")
    func chain() throws {
      let definitions = [
        definition("statestore", secretsFrom: "vault-b"),
        definition("vault-b", type: "secretstores.hashicorp.vault", secretsFrom: "vault-a"),
        definition("pubsub"),
        definition("vault-a", type: "secretstores.local.env"),
      ]
      let ordered = try InitializationOrder.order(definitions)
      #expect(ordered.map(\.name) == ["vault-a", "vault-b", "statestore", "pubsub"])
    }

    @Test("auth.secretStore without any secretKeyRef creates no dependency")
    func storeWithoutReferences() throws {
      var user = definition("statestore")
      user.secretStore = "nowhere"
      let definitions = [user, definition("vault", type: "secretstores.local.env")]
      #expect(try InitializationOrder.order(definitions) == definitions)
    }

    @Test("secret stores that read from each other are reported as a cycle, in cycle order")
    func cycle() {
      let definitions = [
        definition("statestore", secretsFrom: "vault-a"),
        definition("vault-a", type: "secretstores.hashicorp.vault", secretsFrom: "vault-b"),
        definition("vault-b", type: "secretstores.hashicorp.vault", secretsFrom: "vault-a"),
      ]
      #expect(
        throws: ConfigurationError(
          "secret store references form a cycle: vault-a → vault-b → vault-a")
      ) {
        try InitializationOrder.order(definitions)
      }
    }

    @Test("a secret store reading its own secrets is a cycle of one")
    func selfCycle() {
      let definitions = [
        definition("vault", type: "secretstores.hashicorp.vault", secretsFrom: "vault")
      ]
      #expect(throws: ConfigurationError("secret store references form a cycle: vault → vault")) {
        try InitializationOrder.order(definitions)
      }
    }

    @Test("a secret store that is not defined is an error")
    func undefinedStore() {
      let definitions = [definition("x", secretsFrom: "vault", file: "components/x.yaml")]
      #expect(
        throws: ConfigurationError(
          "components/x.yaml, document 1: auth.secretStore 'vault' is not a defined component")
      ) {
        try InitializationOrder.order(definitions)
      }
    }

    @Test("a secret store that is not a secret store is an error")
    func notASecretStore() {
      let definitions = [
        definition("cache"), definition("x", secretsFrom: "cache", file: "components/x.yaml"),
      ]
      #expect(
        throws: ConfigurationError(
          "components/x.yaml, document 1: auth.secretStore 'cache' is not a secret store"
            + " (its type is state.memory, not secretstores.*)")
      ) {
        try InitializationOrder.order(definitions)
      }
    }

    @Test("a secretKeyRef without auth.secretStore is an error naming the entry")
    func referenceWithoutStore() {
      var user = definition("x", file: "components/x.yaml")
      user.metadata = [
        MetadataItem(name: "password", value: .secretKeyRef(name: "db", key: "password"))
      ]
      #expect(
        throws: ConfigurationError(
          "components/x.yaml, document 1: spec.metadata[0].secretKeyRef needs auth.secretStore to name the secret store"
        )
      ) {
        try InitializationOrder.order([user])
      }
    }

    @Test("two definitions with one name are an error")
    func duplicateNames() {
      let definitions = [
        definition("x", file: "components/a.yaml"), definition("x", file: "components/b.yaml"),
      ]
      #expect(
        throws: ConfigurationError(
          "component name 'x' is defined twice: components/a.yaml, document 1 and components/b.yaml, document 1"
        )
      ) {
        try InitializationOrder.order(definitions)
      }
    }

    @Test("definitions read from files are ordered the same way")
    func fromFiles() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write(
        "a-state.yaml",
        componentYAML(
          "statestore",
          extra: """
              metadata:
              - name: password
                secretKeyRef:
                  name: redis
                  key: password
            auth:
              secretStore: vault
            """))
      try fixture.write("b-pubsub.yaml", componentYAML("pubsub", type: "pubsub.memory"))
      try fixture.write("c-vault.yaml", componentYAML("vault", type: "secretstores.local.env"))
      let ordered = try InitializationOrder.order(fixture.load())
      #expect(ordered.map(\.name) == ["vault", "statestore", "pubsub"])
    }
  }
}
