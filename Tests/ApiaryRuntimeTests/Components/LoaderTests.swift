import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Testing

@Suite("component loader")
struct LoaderTests {
  @Test("with no component files the built-in statestore and pubsub start")
  func defaults() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try await withSidecar(yaml: "", socketsDir: folder.path) { sidecar in
      let statuses = await sidecar.registry.all
      #expect(statuses.map(\.name) == ["statestore", "pubsub"])
      #expect(statuses.map(\.type) == ["state.in-memory", "pubsub.in-memory"])
      #expect(statuses.map(\.state) == [.up, .up])
      #expect(statuses.map(\.source) == ["built-in", "built-in"])
      try await AdapterTests.exerciseStateStore(try await sidecar.registry.stateStore("statestore"))
    }
  }

  @Test("a failing component stops start-up with one clear error")
  func failureStopsStartup() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let yaml = componentsYAML([
      (
        "secrets", "secretstores.local.file",
        "metadata:\n  - name: secretsFile\n    value: /nonexistent/secrets.json"
      )
    ])
    do {
      try await withSidecar(yaml: yaml, socketsDir: folder.path) { _ in
        Issue.record("start-up should have failed")
      }
    } catch {
      let underlying = underlyingError(error)
      #expect(
        "\(underlying)".hasPrefix(
          "component 'secrets' (secretstores.local.file) failed to start: initialisation failed: cannot read secrets file /nonexistent/secrets.json"
        ),
        "\(underlying)")
    }
  }

  @Test("ignoreErrors marks the component FAILED with its reason while the rest start")
  func ignoreErrors() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let yaml = componentsYAML([
      (
        "secrets", "secretstores.local.file",
        "ignoreErrors: true\nmetadata:\n  - name: secretsFile\n    value: /nonexistent/secrets.json"
      ),
      ("store", "state.in-memory", "metadata: []"),
    ])
    try await withSidecar(yaml: yaml, socketsDir: folder.path) { sidecar in
      let statuses = await sidecar.registry.all
      #expect(statuses.map(\.state) == [.failed, .up])
      #expect(
        statuses.first?.reason?.contains("cannot read secrets file /nonexistent/secrets.json")
          == true)
    }
  }

  @Test("a component whose Init never answers is cancelled at initTimeout")
  func initTimeout() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let python = try await AdapterTests.startPython(folder, name: "stuck", ["--hang-init"])
    defer { Task { await python.stop() } }
    let yaml = componentsYAML([
      ("stuck", "state.stuck", "initTimeout: 1s\nignoreErrors: true\nmetadata: []"),
      ("store", "state.in-memory", "metadata: []"),
    ])
    let clock = ContinuousClock()
    let started = clock.now
    try await withSidecar(yaml: yaml, socketsDir: folder.path) { sidecar in
      let statuses = await sidecar.registry.all
      #expect(statuses.map(\.state) == [.failed, .up])
      #expect(
        statuses.first?.reason == "initialisation did not finish within 1 s (spec.initTimeout)")
      // Not a benchmark: a hung Init must not hold start-up for long.
      #expect(clock.now - started < .seconds(20))
    }
    await python.stop()
  }

  @Test("a component whose socket appears after start-up is PENDING, then UP")
  func pendingThenUp() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let yaml = componentsYAML([("late", "state.memstore", "metadata: []")])
    try await withSidecar(yaml: yaml, socketsDir: folder.path, componentWait: .seconds(30)) {
      sidecar in
      #expect(await sidecar.registry.status(of: "late")?.state == .pending)
      try await Task.sleep(for: .seconds(3))  // the component process starts 3 s after the sidecar
      let memstore = try await AdapterTests.startMemstore(folder)
      let up = await poll(timeout: .seconds(15)) {
        await sidecar.registry.status(of: "late")?.state == .up
      }
      let late = await sidecar.registry.status(of: "late")
      #expect(up, "\(String(describing: late))")
      if up {
        let store = try await sidecar.registry.stateStore("late")
        try await store.set(StateSetRequest(key: "k", value: Data("v".utf8)))
        #expect(try await store.get(StateGetRequest(key: "k")).data == Data("v".utf8))
      }
      await memstore.stop()
    }
  }

  @Test("a PENDING component fails after --component-wait")
  func pendingExpires() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let yaml = componentsYAML([("ghost", "state.ghost", "ignoreErrors: true\nmetadata: []")])
    try await withSidecar(yaml: yaml, socketsDir: folder.path, componentWait: .seconds(1)) {
      sidecar in
      let failed = await poll(timeout: .seconds(10)) {
        await sidecar.registry.status(of: "ghost")?.state == .failed
      }
      #expect(failed)
      #expect(
        await sidecar.registry.status(of: "ghost")?.reason?.hasPrefix(
          "no socket provides type state.ghost after waiting 1 s") == true)
    }
  }

  @Test("secretKeyRef values come from a secret store initialised first")
  func secretReferences() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let secrets = folder.file("secrets.json")
    try #"{"redis": {"password": "s3cret"}}"#.write(
      toFile: secrets, atomically: true, encoding: .utf8)
    let python = try await AdapterTests.startPython(
      folder, name: "pyc", ["--calls", folder.file("calls.jsonl")])
    defer { Task { await python.stop() } }
    // The user comes first in the file; the loader must start the secret store first.
    let yaml = componentsYAML([
      (
        "store", "state.pyc",
        "metadata:\n  - name: password\n    secretKeyRef:\n      name: redis:password\n      key: redis:password\n  - name: host\n    envRef: TEST_HOST"
      ),
      (
        "local", "secretstores.local.file",
        "metadata:\n  - name: secretsFile\n    value: \(secrets)"
      ),
    ]).replacingOccurrences(
      of: "  name: store\nspec:", with: "  name: store\nauth:\n  secretStore: local\nspec:")
    try await withSidecar(
      yaml: yaml, socketsDir: folder.path, environment: ["TEST_HOST": "db.local"]
    ) { sidecar in
      #expect(await sidecar.registry.all.map(\.state) == [.up, .up])
      let lines = try String(contentsOfFile: folder.file("calls.jsonl"), encoding: .utf8)
      #expect(lines.contains(#""password": "s3cret""#), "\(lines)")
      #expect(lines.contains(#""host": "db.local""#), "\(lines)")
    }
    await python.stop()
  }
}
