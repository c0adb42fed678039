import ApiaryRuntime
import Synchronization
import Testing

/// A secret lookup failure with a message of its own.
private struct VaultUnavailable: Error, CustomStringConvertible {
  var description: String { "connection refused" }
}

/// Secret lookups made through a test resolver, recorded in order.
private final class SecretCalls: Sendable {
  let calls = Mutex<[String]>([])
  func record(_ call: String) { calls.withLock { $0.append(call) } }
  var all: [String] { calls.withLock { $0 } }
}

extension ConfigurationTests {
  @Suite("metadata resolver")
  struct MetadataResolverTests {
    private let source = DefinitionSource(file: "components/redis.yaml", document: 2)

    @Test("literals stay, envRef reads the environment, secretKeyRef reads the secret store")
    func resolvesEveryKind() async throws {
      let calls = SecretCalls()
      let resolver = MetadataResolver(environment: [
        "REDIS_HOST": "redis.internal:6379", "EMPTY": "",
      ]) {
        store, name, key in
        calls.record("\(store)/\(name)/\(key)")
        return "secret-of-\(name)-\(key)"
      }
      let definition = ComponentDefinition(
        name: "statestore",
        type: "state.redis",
        metadata: [
          MetadataItem(name: "maxRetries", value: .literal("5")),
          MetadataItem(name: "redisHost", value: .envRef("REDIS_HOST")),
          MetadataItem(name: "redisPassword", value: .secretKeyRef(name: "redis", key: "password")),
          MetadataItem(name: "token", value: .secretKeyRef(name: "api", key: "api")),
          MetadataItem(name: "suffix", value: .envRef("EMPTY")),
        ],
        secretStore: "vault",
        source: source)

      let resolved = try await resolver.resolve(definition)

      #expect(
        resolved
          == ResolvedMetadata(
            properties: [
              "maxRetries": "5",
              "redisHost": "redis.internal:6379",
              "redisPassword": "secret-of-redis-password",
              "token": "secret-of-api-api",
              "suffix": "",
            ],
            secretKeys: ["redisPassword", "token"], environmentKeys: ["redisHost", "suffix"]))
      #expect(calls.all == ["vault/redis/password", "vault/api/api"])
      #expect(resolved.redacted()["redisPassword"] == "******")
      #expect(resolved.redacted()["redisHost"] == "redis.internal:6379")
    }

    /// A definition the resolver refuses, and the error that names the reason.
    struct Refusal: Sendable, CustomTestStringConvertible {
      let testDescription: String
      var environment: [String: String] = [:]
      /// Whether the secret lookup fails (with ``VaultUnavailable``).
      var secretLookupFails = false
      let metadata: [MetadataItem]
      var secretStore: String? = nil
      let message: String
    }

    static let refusals = [
      Refusal(
        testDescription: "an envRef to an unset variable is an error naming it",
        environment: ["OTHER": "x"],
        metadata: [
          MetadataItem(name: "redisHost", value: .literal("localhost")),
          MetadataItem(name: "redisPassword", value: .envRef("REDIS_PASSWORD")),
        ],
        message:
          "components/redis.yaml, document 2: spec.metadata[1].envRef REDIS_PASSWORD is not set in the environment"
      ),
      Refusal(
        testDescription:
          "a failing secret lookup is an error naming the reference, the store and the cause",
        secretLookupFails: true,
        metadata: [
          MetadataItem(name: "redisHost", value: .literal("localhost")),
          MetadataItem(name: "redisPassword", value: .secretKeyRef(name: "redis", key: "password")),
        ],
        secretStore: "vault",
        message:
          "components/redis.yaml, document 2: spec.metadata[1].secretKeyRef {name: redis, key: password}"
          + " could not be read from secret store 'vault': connection refused"),
      Refusal(
        testDescription: "a secretKeyRef without auth.secretStore is an error",
        metadata: [
          MetadataItem(name: "redisPassword", value: .secretKeyRef(name: "redis", key: "password"))
        ],
        message:
          "components/redis.yaml, document 2: spec.metadata[0].secretKeyRef needs auth.secretStore to name the secret store"
      ),
    ]

    @Test("a reference that cannot be resolved is an error naming it", arguments: refusals)
    func refused(_ refusal: Refusal) async {
      let fails = refusal.secretLookupFails
      let resolver = MetadataResolver(environment: refusal.environment) { _, _, _ in
        if fails { throw VaultUnavailable() }
        return "unused"
      }
      let definition = ComponentDefinition(
        name: "statestore", type: "state.redis", metadata: refusal.metadata,
        secretStore: refusal.secretStore, source: source)
      await #expect(throws: ConfigurationError(refusal.message)) {
        try await resolver.resolve(definition)
      }
    }

    @Test("two entries with the same name are an error naming both indices")
    func duplicateNames() async {
      let calls = SecretCalls()
      let resolver = MetadataResolver(environment: [:]) { _, name, _ in
        calls.record(name)
        return "x"
      }
      let definition = ComponentDefinition(
        name: "statestore",
        type: "state.redis",
        metadata: [
          MetadataItem(name: "redisHost", value: .literal("a")),
          MetadataItem(name: "redisPassword", value: .secretKeyRef(name: "redis", key: "password")),
          MetadataItem(name: "redisHost", value: .literal("b")),
        ],
        secretStore: "vault",
        source: source)
      await #expect(
        throws: ConfigurationError(
          "components/redis.yaml, document 2: spec.metadata[0] and spec.metadata[2] are both named 'redisHost'; keep one"
        )
      ) {
        try await resolver.resolve(definition)
      }
      #expect(calls.all.isEmpty)
    }
  }
}
