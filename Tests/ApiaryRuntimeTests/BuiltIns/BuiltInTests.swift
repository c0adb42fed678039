import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Testing

@Suite("built-in components")
struct BuiltInTests {
  @Test("state.in-memory: etags, first-write, transactions, bulk")
  func inMemoryState() async throws {
    try await AdapterTests.exerciseStateStore(InMemoryStateStore())
  }

  @Test("state.in-memory: a value written with ttlInSeconds expires")
  func inMemoryTTL() async throws {
    let store = InMemoryStateStore()
    try await store.set(
      StateSetRequest(key: "short", value: Data("x".utf8), metadata: ["ttlInSeconds": "1"]))
    try await store.set(
      StateSetRequest(key: "long", value: Data("y".utf8), metadata: ["ttlInSeconds": "60"]))
    let live = try await store.get(StateGetRequest(key: "short"))
    #expect(live.data == Data("x".utf8))
    #expect(live.metadata["ttlExpireTime"] != nil)
    #expect(
      await poll(timeout: .seconds(5)) {
        (try? await store.get(StateGetRequest(key: "short"))) == .notFound
      })
    #expect(try await store.get(StateGetRequest(key: "long")).data == Data("y".utf8))
    await #expect(throws: StateStoreError.self) {
      try await store.set(
        StateSetRequest(key: "bad", value: Data(), metadata: ["ttlInSeconds": "soon"]))
    }
  }

  @Test("pubsub.in-memory: every subscription gets every message; a nack is redelivered")
  func inMemoryPubSub() async throws {
    let pubsub = InMemoryPubSub(redeliveryDelay: .milliseconds(10))
    var first = try await pubsub.subscribe(topic: "t", metadata: [:]).makeAsyncIterator()
    var second = try await pubsub.subscribe(topic: "t", metadata: [:]).makeAsyncIterator()
    let elsewhere = try await pubsub.subscribe(topic: "elsewhere", metadata: [:])
    try await pubsub.publish(
      PublishRequest(topic: "t", data: Data("m1".utf8), contentType: "text/plain"))
    let a = try #require(try await first.next())
    let b = try #require(try await second.next())
    #expect(a.data == Data("m1".utf8) && b.data == Data("m1".utf8))
    #expect(a.contentType == "text/plain")
    try await b.ack()
    try await a.nack("try again")
    let redelivered = try #require(try await first.next())
    #expect(redelivered.id == a.id)
    try await redelivered.ack()
    // Another topic's subscription saw nothing: ending it finishes its stream empty.
    try await pubsub.publish(PublishRequest(topic: "t", data: Data("m2".utf8)))
    var elsewhereIterator = elsewhere.makeAsyncIterator()
    let unrelated = Task { try await elsewhereIterator.next() }
    try await Task.sleep(for: .milliseconds(50))
    unrelated.cancel()
    #expect(try await first.next()?.data == Data("m2".utf8))
  }

  @Test("secretstores.local.env: variables, optionally under a prefix")
  func environmentSecrets() async throws {
    let store = EnvironmentSecretStore(
      environment: ["APP_DB": "pw", "OTHER": "x"], metadata: ["prefix": "APP_"])
    #expect(try await store.get(key: "DB", metadata: [:]) == ["DB": "pw"])
    await #expect(throws: SecretStoreError.notFound("OTHER")) {
      _ = try await store.get(key: "OTHER", metadata: [:])
    }
    #expect(try await store.bulkGet(metadata: [:]) == ["DB": ["DB": "pw"]])
  }

  @Test("secretstores.local.file: nested keys joined with the separator")
  func fileSecrets() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let file = folder.file("secrets.json")
    try #"{"db": {"user": "admin", "password": "pw"}, "token": "t0k", "ports": [80, 443]}"#
      .write(toFile: file, atomically: true, encoding: .utf8)
    let flat = try FileSecretStore(metadata: ["secretsFile": file])
    #expect(try await flat.get(key: "db:password", metadata: [:]) == ["db:password": "pw"])
    #expect(try await flat.get(key: "token", metadata: [:]) == ["token": "t0k"])
    #expect(try await flat.get(key: "ports:1", metadata: [:]) == ["ports:1": "443"])
    let dotted = try FileSecretStore(metadata: ["secretsFile": file, "nestedSeparator": "."])
    #expect(try await dotted.get(key: "db.user", metadata: [:]) == ["db.user": "admin"])
    let multi = try FileSecretStore(metadata: ["secretsFile": file, "multiValued": "true"])
    #expect(try await multi.get(key: "db", metadata: [:]) == ["user": "admin", "password": "pw"])

    try "{not json".write(toFile: file, atomically: true, encoding: .utf8)
    #expect(throws: SecretFileError.self) {
      _ = try FileSecretStore(metadata: ["secretsFile": file])
    }
    #expect(throws: SecretFileError.self) { _ = try FileSecretStore(metadata: [:]) }
  }
}
