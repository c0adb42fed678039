import ApiaryTestSupport
import Foundation
import Testing

/// Component logs through the sidecar: memstore's `ComponentLogs/Tail` records in
/// apiary's JSON output, the level changed at run time, the ring buffer.
@Suite("Log forwarding end to end", .serialized)
struct LogForwardingEndToEndTests {
  /// apiary's stderr as JSON objects; records a failure for any line that is not one.
  func jsonLines(_ sidecar: E2EEnvironment) -> [[String: String]] {
    var objects: [[String: String]] = []
    for line in sidecar.apiary.standardError.split(separator: "\n") {
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String] else {
        Issue.record("not a JSON object of strings: \(line)")
        continue
      }
      objects.append(object)
    }
    return objects
  }

  func greeterMessages(_ sidecar: E2EEnvironment) -> [String] {
    jsonLines(sidecar).filter { $0["component"] == "memstore" && $0["logger"] == "memstore.greeter" }.compactMap { $0["msg"] }
  }

  @Test("memstore's records reach apiary's JSON output in order with their metadata; a level change applies at once; the ring answers by level")
  func forwarding() async throws {
    try await withE2E(extraArguments: ["--log-format", "json"]) { sidecar in
      let forged = #"bob"# + "\n" + #"{"level":"critical","msg":"forged"}"#
      let forgedJSON = String(decoding: try JSONSerialization.data(withJSONObject: ["name": forged]), as: UTF8.self)
      #expect(try await sidecar.http("POST", "/v1.0/hello/greeter", json: forgedJSON).status == 200)
      #expect(try await sidecar.http("POST", "/v1.0/hello/greeter", json: #"{"name": ""}"#).status == 200)
      #expect(try await sidecar.http("POST", "/v1.0/hello/greeter", json: #"{"name": "carol"}"#).status == 200)
      let arrived = await poll(timeout: .seconds(20)) { greeterMessages(sidecar).contains("said hello to carol") }
      #expect(arrived, "\(sidecar.apiary.standardError.suffix(3000))")
      #expect(
        greeterMessages(sidecar) == [
          "greeter initialised", #"said hello to bob\n{"level":"critical","msg":"forged"}"#, "a hello without a name",
          "said hello to carol",
        ])
      let lines = jsonLines(sidecar)
      #expect(!lines.contains { $0["msg"] == "forged" }, "a forged record became a line of its own")
      let warning = lines.first { $0["msg"] == "a hello without a name" }
      #expect(warning?["level"] == "warning" && warning?["type"] == "state.memstore,hello.memstore")
      #expect(warning?["socket"]?.hasSuffix("/memstore.sock") == true && warning?["time"] != nil)

      // Debug is below the default level until the actuator lowers it.
      #expect(!greeterMessages(sidecar).contains("greeting a caller"))
      let changed = try await sidecar.http("POST", "/actuator/logger", json: #"{"component": "greeter", "level": "debug"}"#)
      #expect(changed.status == 200 && changed.body == #"{"component":"memstore","level":"debug"}"#, "\(changed)")
      let debugShown = await poll(timeout: .seconds(20), every: .milliseconds(200)) {
        _ = try? await sidecar.http("POST", "/v1.0/hello/greeter", json: #"{"name": "dave"}"#)
        return jsonLines(sidecar).contains { $0["msg"] == "greeting a caller" && $0["name"] == "dave" }
      }
      #expect(debugShown, "the debug record never arrived after the level change")
      #expect(httpGet(port: sidecar.httpPort, "/actuator/logger")?.body.contains(#""memstore":"debug""#) == true)

      let ring = httpGet(port: sidecar.httpPort, "/actuator/logs?component=greeter&level=warn")?.body ?? ""
      let records = (try? JSONSerialization.jsonObject(with: Data(ring.utf8)) as? [String: Any])?["records"] as? [[String: Any]]
      #expect(records?.compactMap { $0["msg"] as? String } == ["a hello without a name"], "\(ring)")
      #expect(httpGet(port: sidecar.httpPort, "/actuator/logs?component=nosuch")?.status == 404)
      #expect(httpGet(port: sidecar.httpPort, "/actuator/logs?component=greeter&level=loud")?.status == 400)

      let components = httpGet(port: sidecar.httpPort, "/actuator/components")?.body ?? ""
      #expect(components.contains(#""logs":{"dropped":0,"level":"debug","source":"memstore"}"#), "\(components)")
      #expect(components.contains(#""logs":"none""#), "the Python component (no Tail) should show logs: none")

      // Live: Server-Sent Events.
      let follower = try ChildProcess(
        Locations.python, ["-c", Self.sseClient, "http://127.0.0.1:\(sidecar.httpPort)/actuator/logs/stream?component=greeter", "said hello to erin"])
      let connected = await poll(timeout: .seconds(20)) { follower.standardOutput.contains("text/event-stream") }
      #expect(connected, "\(follower.standardError)")
      _ = try await sidecar.http("POST", "/v1.0/hello/greeter", json: #"{"name": "erin"}"#)
      #expect(await follower.waitForExit(timeout: .seconds(20)) == 0, "\(follower.standardOutput)\n\(follower.standardError)")
      #expect(follower.standardOutput.contains(#"data: {"fields":{"#) && follower.standardOutput.contains("said hello to erin"))

      // The Tail stream is opened again after the component restarts.
      let socket = sidecar.folder.file("sockets") + "/memstore.sock"
      sidecar.memstore.signal(SIGKILL)
      _ = await sidecar.memstore.waitForExit(timeout: .seconds(5))
      let restarted = try await startServing(try Locations.product("memstore"), ["--socket", socket], socket: socket)
      defer { restarted.signal(SIGKILL) }
      let again = await poll(timeout: .seconds(30), every: .milliseconds(250)) {
        _ = try? await sidecar.http("POST", "/v1.0/hello/greeter", json: #"{"name": "frank"}"#)
        return greeterMessages(sidecar).contains("said hello to frank")
      }
      #expect(again, "no record arrived from the restarted memstore:\n\(sidecar.apiary.standardError.suffix(2000))")
    }
  }

  /// Follows an SSE URL (argv 1): prints the content type, then exits 0 at the first
  /// `data:` line that contains argv 2 (printing it), 1 if the stream ends first.
  static let sseClient = """
    import sys, urllib.request
    with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
        print(response.headers.get("Content-Type"), flush=True)
        for raw in response:
            line = raw.decode("utf-8", "replace")
            if line.startswith("data: ") and sys.argv[2] in line:
                print(line.strip(), flush=True)
                sys.exit(0)
    sys.exit(1)
    """
}
