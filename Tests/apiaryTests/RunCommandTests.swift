import ApiaryTestSupport
import Foundation
import Testing

/// `apiary run` as a process: the start-up table, a clean stop on SIGTERM, and one
/// clear line when start-up fails.
@Suite("apiary run")
struct RunCommandTests {
  /// `apiary run` on these folders with the gRPC port free-chosen, then `extra`.
  func runArguments(
    _ resources: TemporaryFolder, _ sockets: TemporaryFolder, _ extra: [String]
  ) -> [String] {
    ["run", "--resources-path", resources.path, "--sockets-dir", sockets.path, "--grpc-port", "0"]
      + extra
  }

  /// An API token in the environment would turn every call below into a 401.
  let noToken = ["APIARY_API_TOKEN": "", "DAPR_API_TOKEN": ""]

  /// Runs `body` with a fresh resources folder and sockets folder, removed afterwards.
  func withRunFolders(
    _ body: (_ resources: TemporaryFolder, _ sockets: TemporaryFolder) async throws -> Void
  ) async throws {
    let folders = try RunFolders()
    defer { folders.remove() }
    try await body(folders.resources, folders.sockets)
  }

  /// Starts `apiary run` on the folders with `extra` and no API token, and waits until
  /// `path` on `port` answers `status` (or the process has exited); expects it running.
  func startRun(
    _ resources: TemporaryFolder, _ sockets: TemporaryFolder, _ extra: [String],
    readyAt port: Int, _ path: String, status: Int
  ) async throws -> ChildProcess {
    let apiary = try ChildProcess(
      try Locations.product("apiary"), runArguments(resources, sockets, extra),
      environment: noToken)
    let ready = await poll(timeout: .seconds(30)) {
      guard apiary.isRunning else { return true }
      return await httpGet(port: port, path)?.status == status
    }
    #expect(ready && apiary.isRunning, "stderr: \(apiary.standardError)")
    return apiary
  }

  /// Writes `yaml` to `file` in the resources folder, then runs `apiary run` to its end.
  func runToEnd(
    _ resources: TemporaryFolder, _ sockets: TemporaryFolder, writing yaml: String, to file: String
  ) async throws -> (status: Int32, stdout: String, stderr: String) {
    try yaml.write(toFile: resources.file(file), atomically: true, encoding: .utf8)
    return try await ChildProcess.run(
      try Locations.product("apiary"), runArguments(resources, sockets, ["--http-port", "0"]))
  }

  /// `apiary check` on the resources folder, run to its end.
  func check(
    _ resources: TemporaryFolder
  ) async throws -> (
    status: Int32, stdout: String, stderr: String
  ) {
    try await ChildProcess.run(
      try Locations.product("apiary"), ["check", "--resources-path", resources.path])
  }

  /// Sends SIGTERM and expects apiary to exit 0 within 10 s.
  func expectCleanExit(_ apiary: ChildProcess) async {
    apiary.signal(SIGTERM)
    #expect(await apiary.waitForExit(timeout: .seconds(10)) == 0, "stderr: \(apiary.standardError)")
  }

  @Test(
    "with no component files it starts the built-in statestore and pubsub, and stops on SIGTERM")
  func defaults() async throws {
    try await withRunFolders { resources, sockets in
      let apiary = try ChildProcess(
        try Locations.product("apiary"), runArguments(resources, sockets, ["--http-port", "0"]))
      let started = await poll(timeout: .seconds(30)) {
        apiary.standardOutput.contains("pubsub") || !apiary.isRunning
      }
      #expect(started, "stderr: \(apiary.standardError)")
      let table = apiary.standardOutput.split(separator: "\n").map {
        $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
      }
      #expect(
        table.contains("statestore state.in-memory v1 built-in UP ETAG,TRANSACTIONAL,TTL"),
        "\(table)"
      )
      #expect(table.contains("pubsub pubsub.in-memory v1 built-in UP BULK_PUBSUB"), "\(table)")
      await expectCleanExit(apiary)
      #expect(apiary.standardError.contains("stopped"))
      await apiary.stop()
    }
  }

  @Test("a component that fails to start stops start-up: exit 1, one clear line")
  func failingComponent() async throws {
    try await withRunFolders { resources, sockets in
      let result = try await runToEnd(
        resources, sockets,
        writing: """
          apiVersion: dapr.io/v1alpha1
          kind: Component
          metadata:
            name: secrets
          spec:
            type: secretstores.local.file
            metadata:
              - name: secretsFile
                value: /nonexistent/secrets.json
          """,
        to: "secrets.yaml")
      #expect(result.status == 1)
      let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
      #expect(errors.count == 1, "\(result.stderr)")
      #expect(
        errors.first?.hasPrefix(
          "error: component 'secrets' (secretstores.local.file) failed to start: initialisation failed: cannot read secrets file /nonexistent/secrets.json"
        ) == true, "\(result.stderr)")
    }
  }

  @Test("a malformed component file names the file, the document and the field")
  func malformedFile() async throws {
    try await withRunFolders { resources, sockets in
      let result = try await runToEnd(
        resources, sockets,
        writing: """
          apiVersion: dapr.io/v1alpha1
          kind: Component
          metadata:
            name: ok
          spec:
            type: state.in-memory
          ---
          apiVersion: dapr.io/v1alpha1
          kind: Component
          metadata:
            name: broken
          spec:
            version: v1
          """,
        to: "redis.yaml")
      #expect(result.status == 1)
      #expect(
        result.stderr.contains(
          "error: \(resources.file("redis.yaml")), document 2: spec.type is missing"),
        "\(result.stderr)")
    }
  }

  @Test(
    "HTTP port: a request that is not HTTP gets 400 with a JSON error body; a connection that never finishes a request is closed after --http-idle-timeout"
  )
  func httpMalformedAndIdle() async throws {
    try await withRunFolders { resources, sockets in
      let http = try freeTCPPort()
      let apiary = try await startRun(
        resources, sockets, ["--http-port", "\(http)", "--http-idle-timeout", "1s"],
        readyAt: http, "/v1.0/healthz", status: 204)

      let malformed = await tcpExchange(
        port: http, send: Array("GET / HTTP/1.1\r\nHost x\r\n\r\n".utf8), receiveTimeout: 5)
      #expect(
        malformed?.received.hasPrefix("HTTP/1.1 400 ") == true, "\(String(describing: malformed))")
      #expect(malformed?.received.contains(#""errorCode":"ERR_MALFORMED_REQUEST""#) == true)
      #expect(malformed?.closedByServer == true)

      // Three ways of never finishing: nothing at all, half a head, a head whose body
      // never comes. Each must be closed by the server well before the 10 s wait ends.
      for unfinished in [
        "", "GET /v1.0/healthz HTTP/1.1\r\nHo",
        "POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n[",
      ] {
        let started = ContinuousClock.now
        let exchange = await tcpExchange(
          port: http, send: Array(unfinished.utf8), receiveTimeout: 10)
        #expect(exchange?.closedByServer == true, "\(unfinished.debugDescription) was not closed")
        #expect(ContinuousClock.now - started < .seconds(9), "\(unfinished.debugDescription)")
      }
      #expect(await httpGet(port: http, "/v1.0/healthz")?.status == 204)
      await expectCleanExit(apiary)
      await apiary.stop()
    }
  }

  @Test(
    "apiary check: lists what run would start from good files; names the file and field of a bad one (exit 1)"
  )
  func checkCommand() async throws {
    let resources = try TemporaryFolder()
    defer { resources.remove() }
    try """
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: orders
    spec:
      type: state.in-memory
    ---
    apiVersion: dapr.io/v2alpha1
    kind: Subscription
    metadata:
      name: orders-sub
    spec:
      pubsubname: pubsub
      topic: orders
      routes:
        default: /orders
    """.write(toFile: resources.file("a.yaml"), atomically: true, encoding: .utf8)
    let good = try await check(resources)
    #expect(good.status == 0, "\(good.stderr)")
    #expect(
      good.stdout.contains(
        "component orders: state.in-memory (\(resources.file("a.yaml")), document 1)"),
      "\(good.stdout)")
    #expect(
      good.stdout.contains("subscription orders-sub: pubsub/orders -> /orders"), "\(good.stdout)")
    #expect(good.stdout.contains("ok: 1 components, 1 subscriptions"), "\(good.stdout)")

    try
      "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\nspec:\n  type: redis\n"
      .write(toFile: resources.file("b.yaml"), atomically: true, encoding: .utf8)
    let bad = try await check(resources)
    #expect(bad.status == 1)
    #expect(
      bad.stderr.contains("error: \(resources.file("b.yaml")), document 1: spec.type 'redis'"),
      "\(bad.stderr)")

    // Past 1 MiB a file is refused unread, with its size.
    try? FileManager.default.removeItem(atPath: resources.file("b.yaml"))
    try String(repeating: "# padding\n", count: 110_000).write(
      toFile: resources.file("c.yaml"), atomically: true, encoding: .utf8)
    let huge = try await check(resources)
    #expect(huge.status == 1)
    #expect(
      huge.stderr.contains(
        "error: \(resources.file("c.yaml")): is 1100000 bytes; a resource file may hold at most"),
      "\(huge.stderr)")
  }

  @Test(
    "--actuator-port: probes, info and /metrics on their own port, the Dapr API on the HTTP port only"
  )
  func actuatorPort() async throws {
    try await withRunFolders { resources, sockets in
      let http = try freeTCPPort()
      let operations = try freeTCPPort()
      let apiary = try await startRun(
        resources, sockets, ["--http-port", "\(http)", "--actuator-port", "\(operations)"],
        readyAt: operations, "/actuator/health/readiness", status: 200)
      #expect(await httpGet(port: operations, "/actuator/health/liveness")?.status == 200)
      #expect(await httpGet(port: operations, "/metrics")?.status == 200)
      #expect(await httpGet(port: operations, "/v1.0/healthz")?.status == 404)
      #expect(await httpGet(port: http, "/v1.0/healthz")?.status == 204)
      #expect(await httpGet(port: http, "/actuator/health/liveness")?.status == 404)
      #expect(await httpGet(port: http, "/metrics")?.status == 404)
      await expectCleanExit(apiary)
      await apiary.stop()
    }
  }

  @Test(
    "a secretKeyRef value never appears: /actuator/components shows it redacted; /v1.0/metadata and trace logs lack it"
  )
  func secretsRedacted() async throws {
    try await withRunFolders { resources, sockets in
      let secret = "hunter2-\(UUID().uuidString)"
      try #"{"dbPassword": "\#(secret)"}"#.write(
        toFile: resources.file("secrets.json"), atomically: true, encoding: .utf8)
      try """
      apiVersion: dapr.io/v1alpha1
      kind: Component
      metadata:
        name: vault
      spec:
        type: secretstores.local.file
        metadata:
          - name: secretsFile
            value: \(resources.file("secrets.json"))
      ---
      apiVersion: dapr.io/v1alpha1
      kind: Component
      metadata:
        name: orders
      spec:
        type: state.in-memory
        metadata:
          - name: password
            secretKeyRef:
              name: dbPassword
              key: dbPassword
          - name: keyPrefix
            value: name
      auth:
        secretStore: vault
      """.write(toFile: resources.file("components.yaml"), atomically: true, encoding: .utf8)
      let http = try freeTCPPort()
      let apiary = try await startRun(
        resources, sockets, ["--http-port", "\(http)", "--log-level", "trace"],
        readyAt: http, "/actuator/health/readiness", status: 200)
      let components = await httpGet(port: http, "/actuator/components")?.body ?? ""
      #expect(components.contains(#""password":"******""#), "\(components)")
      // Names only, by default (ExposureEndToEndTests checks --actuator-show-metadata-values).
      #expect(components.contains(#""keyPrefix":"******""#), "\(components)")
      #expect(!components.contains(secret))
      let metadata = await httpGet(port: http, "/v1.0/metadata")?.body ?? ""
      #expect(metadata.contains("orders"), "\(metadata)")
      #expect(!metadata.contains(secret))
      await expectCleanExit(apiary)
      #expect(!apiary.standardError.contains(secret))
      #expect(!apiary.standardOutput.contains(secret))
      await apiary.stop()
    }
  }
}
