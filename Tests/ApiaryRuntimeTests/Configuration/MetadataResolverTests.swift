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

    @Test("an envRef to an unset variable is an error naming it")
    func missingEnvironmentVariable() async {
      let resolver = MetadataResolver(environment: ["OTHER": "x"]) { _, _, _ in "unused" }
      let definition = ComponentDefinition(
        name: "statestore",
        type: "state.redis",
        metadata: [
          MetadataItem(name: "redisHost", value: .literal("localhost")),
          MetadataItem(name: "redisPassword", value: .envRef("REDIS_PASSWORD")),
        ],
        source: source)
      await #expect(
        throws: ConfigurationError(
          "components/redis.yaml, document 2: spec.metadata[1].envRef REDIS_PASSWORD is not set in the environment"
        )
      ) {
        try await resolver.resolve(definition)
      }
    }

    @Test("a failing secret lookup is an error naming the reference, the store and the cause")
    func secretFailure() async {
      let resolver = MetadataResolver(environment: [:]) { _, _, _ in throw VaultUnavailable() }
      let definition = ComponentDefinition(
        name: "statestore",
        type: "state.redis",
        metadata: [
          MetadataItem(name: "redisHost", value: .literal("localhost")),
          MetadataItem(name: "redisPassword", value: .secretKeyRef(name: "redis", key: "password")),
        ],
        secretStore: "vault",
        source: source)
      await #expect(
        throws: ConfigurationError(
          "components/redis.yaml, document 2: spec.metadata[1].secretKeyRef {name: redis, key: password}"
            + " could not be read from secret store 'vault': connection refused")
      ) {
        try await resolver.resolve(definition)
      }
    }

    @Test("a secretKeyRef without auth.secretStore is an error")
    func secretWithoutStore() async {
      let resolver = MetadataResolver(environment: [:]) { _, _, _ in "unused" }
      let definition = ComponentDefinition(
        name: "statestore",
        type: "state.redis",
        metadata: [
          MetadataItem(name: "redisPassword", value: .secretKeyRef(name: "redis", key: "password"))
        ],
        source: source)
      await #expect(
        throws: ConfigurationError(
          "components/redis.yaml, document 2: spec.metadata[0].secretKeyRef needs auth.secretStore to name the secret store"
        )
      ) {
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
