import ApiaryTestSupport
import Foundation
import Testing

/// Health and recovery end to end: `kill -9` of a component under a steady stream of
/// calls, a socket that appears after start-up, and the actuator and metrics that show
/// it.
@Suite("Health and lifecycle end to end", .serialized)
struct LifecycleEndToEndTests {
  /// A pub/sub and a state store on the Python multi-component fixture, and a
  /// declarative subscription that delivers topic `steady` to the HTTP app's `/steady`.
  static func resources(late: Bool = false) -> String {
    late ? steadyResources + lateResource : steadyResources
  }

  static let lateResource = """
    ---
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: late-store
    spec:
      type: state.late

    """

  static let steadyResources = """
    ---
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: steady-pubsub
    spec:
      type: pubsub.multi
      metadata:
        - name: purpose
          value: lifecycle
    \(multiStoreResource)---
    apiVersion: dapr.io/v2alpha1
    kind: Subscription
    metadata:
      name: steady
    spec:
      pubsubname: steady-pubsub
      topic: steady
      routes:
        default: /steady
    scopes:
      - e2e

    """

  @Test(
    "kill -9 under load: calls fail fast, readiness turns 503, Init runs again with the same metadata, no published message is lost"
  )
  func killUnderLoad() async throws {
    let scratch = try TemporaryFolder(prefix: "apiary-lifecycle")
    defer { scratch.remove() }
    let journal = scratch.file("journal")
    let calls = scratch.file("calls.jsonl")
    let interval = Duration.milliseconds(200)
    let threshold = 2  // E2EEnvironment's --failure-threshold
    try await withE2E(
      app: .http, heartbeatInterval: "200ms",
      multiArguments: ["--journal", journal, "--calls", calls],
      extraResources: Self.resources()
    ) { sidecar in
      let socket = sidecar.folder.file("sockets") + "/multi.sock"
      #expect(await httpGet(port: sidecar.httpPort, "/actuator/health/liveness")?.status == 200)
      let before = await httpGet(port: sidecar.httpPort, "/actuator/health/readiness")
      #expect(before?.status == 200, "\(String(describing: before))")

      let load = try ChildProcess(
        Locations.python,
        [
          Locations.pythonFixture("e2e/lifecycle_load.py"), "--pubsub", "steady-pubsub", "--topic",
          "steady",
          "--store", "multi-store", "--out", scratch.file("load.jsonl"), "--stop-file",
          scratch.file("stop"),
          "--interval-ms", "20", "--max-seconds", "150",
        ],
        environment: [
          "DAPR_GRPC_PORT": "\(sidecar.grpcPort)", "DAPR_HTTP_PORT": "\(sidecar.httpPort)",
          "DAPR_API_TOKEN": "",
          "PYTHONUNBUFFERED": "1",
        ])
      defer { load.signal(SIGKILL) }
      let loadFile = scratch.file("load.jsonl")
      let warmedUp = await poll(timeout: .seconds(60)) {
        Self.results(loadFile).filter(\.ok).count >= 60 || !load.isRunning
      }
      try #require(warmedUp && load.isRunning, "the load never got going:\n\(load.standardError)")

      // Kill the component: readiness must turn 503 within threshold × interval + 1 s.
      let clock = ContinuousClock()
      sidecar.multi.signal(SIGKILL)
      let killed = clock.now
      let notReady = await poll(timeout: .seconds(20), every: .milliseconds(10)) {
        guard await httpGet(port: sidecar.httpPort, "/actuator/health/readiness")?.status == 503
        else { return false }
        return await httpGet(port: sidecar.httpPort, "/actuator/components")?.body.contains(
          #""name":"steady-pubsub","reason":""#) == true
      }
      let downAfter = clock.now - killed
      #expect(notReady)
      #expect(
        downAfter <= interval * threshold + .seconds(1),
        "readiness turned 503 \(downAfter) after kill -9 (bound: threshold × interval + 1 s)")
      let readiness =
        await httpGet(port: sidecar.httpPort, "/actuator/health/readiness")?.body ?? ""
      #expect(
        readiness.contains(#""steady-pubsub":{"details":{"consecutiveFailures":"#), "\(readiness)")
      #expect(readiness.hasSuffix(#""status":"DOWN"}"#), "\(readiness)")

      // Stay down for a while under load, then restart the component.
      try await Task.sleep(for: .milliseconds(1500))
      let downUntil = Date().timeIntervalSince1970
      let restarted = try await startServing(
        Locations.python,
        [
          Locations.pythonFixture("multi_component.py"), "--socket", socket, "--journal", journal,
          "--calls", calls,
        ],
        socket: socket)
      defer { restarted.signal(SIGKILL) }
      let upAgain = await poll(timeout: .seconds(20), every: .milliseconds(20)) {
        await httpGet(port: sidecar.httpPort, "/v1.0/metadata")?.body.contains(
          #""apiary.component.steady-pubsub.state":"UP""#)
          == true
      }
      #expect(
        upAgain, "steady-pubsub never came back UP:\n\(sidecar.apiary.standardError.suffix(3000))")
      try await Task.sleep(for: .milliseconds(1500))
      _ = FileManager.default.createFile(atPath: scratch.file("stop"), contents: Data())
      _ = await load.waitForExit(timeout: .seconds(30))

      let results = Self.results(loadFile)
      let failed = results.filter { !$0.ok }
      let published = Set(results.filter { $0.ok && $0.op == "publish" }.map(\.seq))
      #expect(!failed.isEmpty, "no call failed while the component was down")
      #expect(
        failed.allSatisfy { $0.code == "UNAVAILABLE" },
        "failed calls with other codes: \(failed.filter { $0.code != "UNAVAILABLE" }.prefix(5))")
      // Fail fast: far below the SDK's 10 s deadline.
      let slowest = failed.map(\.milliseconds).max() ?? 0
      #expect(slowest < 5000, "a failed call took \(slowest) ms")
      #expect(
        results.contains { $0.ok && $0.op == "save" && $0.time > downUntil },
        "no state call succeeded after the restart")

      // Every message the sidecar accepted reaches the app, duplicates allowed.
      _ = await poll(timeout: .seconds(60), every: .milliseconds(200)) {
        published.isSubset(of: Self.deliveredSequences(sidecar.appEvents()))
      }
      let missing = published.subtracting(Self.deliveredSequences(sidecar.appEvents()))
      #expect(
        missing.isEmpty,
        "\(missing.count) of \(published.count) published messages never reached the app, e.g. \(missing.sorted().prefix(10))"
      )

      // Init ran twice for the pub/sub, with the same metadata.
      let inits = Self.initProperties(calls, instance: "steady-pubsub")
      #expect(inits.count >= 2 && Set(inits).count == 1, "Init of steady-pubsub: \(inits)")
      #expect(inits.first?.contains("lifecycle") == true, "\(inits)")
      #expect(sidecar.apiary.isRunning)

      // The metrics saw the calls, the errors and the failed heartbeats.
      let metrics = await httpGet(port: sidecar.httpPort, "/metrics")?.body ?? ""
      for expected in [
        #"apiary_component_calls_total{component="multi-store",method="Set"}"#,
        #"apiary_component_call_duration_seconds_count{component="steady-pubsub",method="Publish"}"#,
        #"apiary_heartbeat_failures_total{component="steady-pubsub"}"#,
        #"apiary_component_state{component="steady-pubsub",state="UP"} 1"#,
        "process_resident_memory_bytes ",
      ] {
        #expect(metrics.contains(expected), "/metrics has no \(expected)")
      }
      print(
        "lifecycle: \(published.count) published, \(failed.count) calls failed fast while down (slowest \(slowest) ms), readiness 503 after \(downAfter)"
      )
    }
  }

  @Test(
    "a socket that appears 5 s after start-up is found: its PENDING component becomes UP and readiness turns 200"
  )
  func lateSocket() async throws {
    try await withE2E(
      extraResources: Self.resources(late: true), extraArguments: ["--component-wait", "60s"]
    ) { sidecar in
      // late-store waits for its socket: readiness is DOWN, liveness UP.
      #expect(await httpGet(port: sidecar.httpPort, "/actuator/health/liveness")?.status == 200)
      let early = await httpGet(port: sidecar.httpPort, "/actuator/health/readiness")
      #expect(
        early?.status == 503 && early?.body.contains(#""late-store":{"details""#) == true,
        "\(String(describing: early))")
      let status = await httpGet(port: sidecar.httpPort, "/actuator/components")?.body ?? ""
      #expect(status.contains(#""name":"late-store","reason":"waiting for a socket"#), "\(status)")
      try await Task.sleep(for: .seconds(5))
      let socket = sidecar.folder.file("sockets") + "/late.sock"
      let late = try await startServing(
        try Locations.product("memstore"), ["--socket", socket], socket: socket)
      defer { late.signal(SIGKILL) }
      let ready = await poll(timeout: .seconds(20), every: .milliseconds(50)) {
        await httpGet(port: sidecar.httpPort, "/actuator/health/readiness")?.status == 200
      }
      let readiness = await httpGet(port: sidecar.httpPort, "/actuator/health/readiness")
      #expect(ready, "readiness: \(String(describing: readiness))")
      let components = await httpGet(port: sidecar.httpPort, "/actuator/components")?.body ?? ""
      #expect(components.contains(#""name":"late-store","reason":null,"since""#), "\(components)")
      #expect(await httpGet(port: sidecar.httpPort, "/v1.0/healthz")?.status == 204)
      try await sidecar.check("http_checks.py", ["state"], arguments: ["--store", "late-store"])

      // Removing the socket takes the component DOWN at once (no heartbeats needed).
      late.signal(SIGKILL)
      try FileManager.default.removeItem(atPath: socket)
      let down = await poll(timeout: .seconds(10), every: .milliseconds(50)) {
        await httpGet(port: sidecar.httpPort, "/actuator/components")?.body.contains(
          "its socket \(socket) was removed") == true
      }
      let componentsNow = await httpGet(port: sidecar.httpPort, "/actuator/components")?.body ?? ""
      #expect(down, "\(componentsNow)")
      #expect(await httpGet(port: sidecar.httpPort, "/v1.0/healthz")?.status == 500)
    }
  }

  struct LoadResult {
    var seq: Int
    var op: String
    var ok: Bool
    var code: String?
    var milliseconds: Double
    var time: Double
  }

  /// The load driver's results so far.
  static func results(_ file: String) -> [LoadResult] {
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let seq = object["seq"] as? Int, let op = object["op"] as? String,
        let ok = object["ok"] as? Bool
      else { return nil }
      return LoadResult(
        seq: seq, op: op, ok: ok, code: object["code"] as? String,
        milliseconds: object["ms"] as? Double ?? 0,
        time: object["t"] as? Double ?? 0)
    }
  }

  /// The `seq` of every CloudEvent the app received on /steady.
  static func deliveredSequences(_ events: [[String: Any]]) -> Set<Int> {
    var sequences: Set<Int> = []
    for event in events where event["path"] as? String == "/steady" {
      guard let body = event["body"] as? String,
        let cloudEvent = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
      else { continue }
      var data = cloudEvent["data"]
      if let text = data as? String {
        data = try? JSONSerialization.jsonObject(with: Data(text.utf8))
      }
      if let seq = (data as? [String: Any])?["seq"] as? Int { sequences.insert(seq) }
    }
    return sequences
  }

  /// The Init properties the fixture recorded for `instance` (its pub/sub), as sorted
  /// JSON text.
  static func initProperties(_ file: String, instance: String) -> [String] {
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        object["method"] as? String == "Init", object["instance"] as? String == instance,
        let properties = object["properties"]
      else { return nil }
      let data = try? JSONSerialization.data(withJSONObject: properties, options: [.sortedKeys])
      return data.map { String(decoding: $0, as: UTF8.self) }
    }
  }
}
