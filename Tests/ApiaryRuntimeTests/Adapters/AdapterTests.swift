import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Testing

/// Every building-block adapter against real components: the Swift memstore sample and
/// a Python grpcio component (Tests/Fixtures/python/multi_component.py), both loaded
/// through the sidecar's own start-up path.
@Suite("component adapters")
struct AdapterTests {
  /// Starts `multi_component.py` on `folder/<name>.sock`.
  static func startPython(
    _ folder: TemporaryFolder, name: String = "pyc", _ extra: [String] = []
  ) async throws -> ChildProcess {
    let socket = folder.file("\(name).sock")
    return try await startServing(
      Locations.python,
      [Locations.pythonFixture("multi_component.py"), "--socket", socket] + extra, socket: socket)
  }

  static func startMemstore(_ folder: TemporaryFolder) async throws -> ChildProcess {
    let socket = folder.file("memstore.sock")
    return try await startServing(
      try Locations.product("memstore"), ["--socket", socket], socket: socket)
  }

  /// Etag, first-write and transaction semantics through the state adapter.
  static func exerciseStateStore(_ store: any StateStore) async throws {
    #expect(try await store.get(StateGetRequest(key: "k")) == .notFound)
    try await store.set(
      StateSetRequest(key: "k", value: Data("v1".utf8), contentType: "text/plain"))
    let first = try await store.get(StateGetRequest(key: "k"))
    #expect(first.data == Data("v1".utf8))
    #expect(first.contentType == "text/plain")
    let etag = try #require(first.etag)

    try await store.set(StateSetRequest(key: "k", value: Data("v2".utf8), etag: etag))
    await #expect(throws: StateStoreError.self) {
      try await store.set(StateSetRequest(key: "k", value: Data("v3".utf8), etag: etag))
    }
    do {
      try await store.set(StateSetRequest(key: "k", value: Data("v3".utf8), etag: etag))
    } catch let error as StateStoreError {
      guard case .etagMismatch = error else {
        Issue.record("expected a mismatch, got \(error)")
        return
      }
    }
    do {
      try await store.set(StateSetRequest(key: "k", value: Data("v3".utf8), etag: "not-a-number"))
      Issue.record("an invalid etag was accepted")
    } catch let error as StateStoreError {
      guard case .etagInvalid = error else {
        Issue.record("expected invalid, got \(error)")
        return
      }
    }
    do {
      try await store.set(
        StateSetRequest(key: "k", value: Data("v3".utf8), options: .init(concurrency: .firstWrite)))
      Issue.record("first-write overwrote an existing key")
    } catch let error as StateStoreError {
      guard case .etagMismatch = error else {
        Issue.record("expected a mismatch, got \(error)")
        return
      }
    }
    #expect(try await store.get(StateGetRequest(key: "k")).data == Data("v2".utf8))

    try await store.bulkSet(
      [
        StateSetRequest(key: "a", value: Data("1".utf8)),
        StateSetRequest(key: "b", value: Data("2".utf8)),
      ], parallelism: 2)
    let bulk = try await store.bulkGet(
      [StateGetRequest(key: "a"), StateGetRequest(key: "b"), StateGetRequest(key: "zz")],
      parallelism: 2)
    #expect(bulk.map(\.key) == ["a", "b", "zz"])
    #expect(bulk.map(\.data) == [Data("1".utf8), Data("2".utf8), nil])

    try await store.transact(
      [
        .set(StateSetRequest(key: "t", value: Data("x".utf8))),
        .delete(StateDeleteRequest(key: "a")),
      ], metadata: [:])
    #expect(try await store.get(StateGetRequest(key: "t")).data == Data("x".utf8))
    #expect(try await store.get(StateGetRequest(key: "a")) == .notFound)
    await #expect(throws: StateStoreError.self) {
      try await store.transact(
        [
          .set(StateSetRequest(key: "u", value: Data("y".utf8))),
          .delete(StateDeleteRequest(key: "b", etag: "999")),
        ], metadata: [:])
    }
    #expect(
      try await store.get(StateGetRequest(key: "u")) == .notFound, "a failed transaction wrote u")

    try await store.bulkDelete(
      [StateDeleteRequest(key: "b"), StateDeleteRequest(key: "t")], parallelism: 1)
    #expect(try await store.get(StateGetRequest(key: "b")) == .notFound)
  }

  @Test("state and hello adapters against the Swift memstore sample")
  func memstore() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let memstore = try await Self.startMemstore(folder)
    defer { Task { await memstore.stop() } }
    let yaml = componentsYAML([
      ("store", "state.memstore", "metadata: []"),
      ("greeter", "hello.memstore", "metadata:\n  - name: hello_string\n    value: Howdy"),
    ])
    try await withSidecar(yaml: yaml, socketsDir: folder.path) { sidecar in
      let statuses = await sidecar.registry.all
      #expect(statuses.map(\.state) == [.up, .up])
      #expect(statuses.first?.capabilities == ["ETAG", "TRANSACTIONAL", "QUERY_API"])
      #expect(statuses.first?.source == folder.file("memstore.sock"))
      try await Self.exerciseStateStore(try await sidecar.registry.stateStore("store"))
      #expect(try await sidecar.registry.hello("greeter").sayHello(name: "Ada") == "Howdy, Ada")
    }
    await memstore.stop()
  }

  @Test("state, pub/sub, bindings and secret adapters against a Python grpcio component")
  func pythonComponent() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let calls = folder.file("calls.jsonl")
    let python = try await Self.startPython(folder, ["--calls", calls])
    defer { Task { await python.stop() } }
    let yaml = componentsYAML([
      ("store", "state.pyc", "metadata:\n  - name: table\n    value: orders"),
      ("events", "pubsub.pyc", "metadata: []"),
      (
        "files", "bindings.pyc",
        "metadata:\n  - name: interval_ms\n    value: \"50\"\n  - name: count\n    value: \"2\""
      ),
      ("vault", "secretstores.pyc", "metadata:\n  - name: secret.db.password\n    value: hunter2"),
    ])
    try await withSidecar(yaml: yaml, socketsDir: folder.path) { sidecar in
      let statuses = await sidecar.registry.all
      #expect(statuses.map(\.state) == [.up, .up, .up, .up], "\(statuses)")
      #expect(
        statuses.map(\.capabilities) == [
          ["ETAG", "TRANSACTIONAL"], ["BULK_PUBSUB"], ["create", "get", "delete", "list"],
          ["MULTIPLE_KEY_VALUES_PER_SECRET"],
        ])
      try await Self.exerciseStateStore(try await sidecar.registry.stateStore("store"))

      // Init carried the resolved metadata and the instance name.
      let lines = try String(contentsOfFile: calls, encoding: .utf8).split(separator: "\n")
      let stateInit = lines.first {
        $0.contains(#""method": "Init""#) && $0.contains(#""service": "StateStore""#)
      }
      #expect(stateInit?.contains(#""instance": "store""#) == true, "\(stateInit ?? "no Init")")
      #expect(stateInit?.contains(#""table": "orders""#) == true, "\(stateInit ?? "no Init")")

      // Pub/sub: publish keeps the content type; a nack is redelivered; acks reach the component.
      let pubsub = try await sidecar.registry.pubSub("events")
      let messages = try await pubsub.subscribe(topic: "orders", metadata: [:])
      try await pubsub.publish(
        PublishRequest(
          topic: "orders", data: Data(#"{"id":1}"#.utf8), contentType: "application/json",
          metadata: ["m": "1"]))
      var iterator = messages.makeAsyncIterator()
      let first = try #require(try await iterator.next())
      #expect(first.contentType == "application/json")
      #expect(first.data == Data(#"{"id":1}"#.utf8))
      #expect(first.metadata["m"] == "1")
      try await first.nack("not now")
      let again = try #require(try await iterator.next())
      #expect(again.id == first.id)
      try await again.ack()
      let failures = try await pubsub.bulkPublish(
        topic: "orders",
        entries: [BulkPublishEntry(entryID: "e1", data: Data("x".utf8), contentType: "text/plain")],
        metadata: [:])
      #expect(failures.isEmpty)
      #expect(try await iterator.next()?.contentType == "text/plain")

      // Output binding.
      let bindings = try await sidecar.registry.bindings("files")
      let output = try #require(bindings.output)
      _ = try await output.invoke(
        operation: "create", data: Data("hello".utf8), metadata: ["key": "k1"])
      let got = try await output.invoke(operation: "get", data: Data(), metadata: ["key": "k1"])
      #expect(got.data == Data("hello".utf8))
      await #expect(throws: ComponentCallError.self) {
        _ = try await output.invoke(operation: "frobnicate", data: Data(), metadata: [:])
      }

      // Input binding: events, one failed and redelivered.
      let input = try #require(bindings.input)
      var events = try await input.read().makeAsyncIterator()
      let tick = try #require(try await events.next())
      #expect(tick.data == Data("tick-1".utf8))
      #expect(tick.contentType == "text/plain")
      try await tick.fail("app not ready")
      var seen: [String] = []
      while seen.count < 2, let event = try await events.next() {
        seen.append(event.id)
        try await event.respond()
      }
      #expect(seen.contains("1"), "the failed event was not redelivered: \(seen)")

      // Secrets.
      let vault = try await sidecar.registry.secretStore("vault")
      #expect(try await vault.get(key: "db", metadata: [:]) == ["password": "hunter2"])
      #expect(try await vault.bulkGet(metadata: [:]) == ["db": ["password": "hunter2"]])
      await #expect(throws: SecretStoreError.notFound("nope")) {
        _ = try await vault.get(key: "nope", metadata: [:])
      }
    }
    await python.stop()
  }

  @Test("two instances on one socket are kept apart by x-component-instance")
  func twoInstances() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let memstore = try await Self.startMemstore(folder)
    defer { Task { await memstore.stop() } }
    let yaml = componentsYAML([
      ("orders", "state.memstore", "metadata: []"), ("carts", "state.memstore", "metadata: []"),
    ])
    try await withSidecar(yaml: yaml, socketsDir: folder.path) { sidecar in
      let orders = try await sidecar.registry.stateStore("orders")
      let carts = try await sidecar.registry.stateStore("carts")
      try await orders.set(StateSetRequest(key: "k", value: Data("order".utf8)))
      #expect(try await carts.get(StateGetRequest(key: "k")) == .notFound)
      try await carts.set(StateSetRequest(key: "k", value: Data("cart".utf8)))
      #expect(try await orders.get(StateGetRequest(key: "k")).data == Data("order".utf8))
      #expect(try await carts.get(StateGetRequest(key: "k")).data == Data("cart".utf8))
    }
    await memstore.stop()
  }
}
