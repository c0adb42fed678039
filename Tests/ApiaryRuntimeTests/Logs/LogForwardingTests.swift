import ApiaryRuntime
import Foundation
import Logging
import Synchronization
import Testing

@Suite("log forwarding: the hub and the sidecar's log format")
struct LogForwardingTests {
  func record(
    _ message: String, _ level: Logger.Level = .info, source: String = "memstore"
  ) -> ForwardedLogRecord {
    ForwardedLogRecord(
      time: Date(), level: level, message: message, source: source,
      fields: ["socket": "/s/memstore.sock"])
  }

  @Test(
    "records are logged with their component, kept in a ring of the last N, and filtered by level")
  func ringAndLevels() {
    let capture = LogCapture()
    let hub = ComponentLogHub(logger: capture.logger, capacity: 3, defaultLevel: .info)
    hub.record(record("hidden", .debug))
    for index in 1...5 { hub.record(record("r\(index)", index == 4 ? .warning : .info)) }
    #expect(hub.recent("memstore").map(\.message) == ["r3", "r4", "r5"])
    #expect(hub.recent("memstore", limit: 2).map(\.message) == ["r4", "r5"])
    #expect(hub.recent("memstore", minimum: .warning).map(\.message) == ["r4"])
    #expect(capture.all.map(\.message) == ["r1", "r2", "r3", "r4", "r5"])
    #expect(capture.all.first?.metadata == ["component": "memstore", "socket": "/s/memstore.sock"])
    hub.setLevel(.debug, for: "memstore")
    hub.record(record("now shown", .debug))
    #expect(hub.recent("memstore").last?.message == "now shown")
    #expect(hub.sources["memstore"]?.level == .debug)
  }

  @Test("control characters are escaped and long messages cut, so no record can forge a line")
  func safety() {
    let hub = ComponentLogHub(logger: Logger(label: "test"))
    hub.record(record("one\n{\"level\":\"critical\",\"msg\":\"forged\"}\r\u{1b}[2J"))
    #expect(
      hub.recent("memstore").last?.message
        == #"one\n{"level":"critical","msg":"forged"}\r\u{1b}[2J"#)
    hub.record(record(String(repeating: "é", count: 20_000)))
    let long = hub.recent("memstore").last?.message ?? ""
    #expect(long.hasSuffix(" …[truncated]"))
    #expect(long.utf8.count <= ComponentLogHub.maximumMessageBytes + " …[truncated]".utf8.count)
  }

  @Test(
    "a flood of 100 000 records: the burst passes, the rest is dropped and counted, reported at most once a second, memory stays bounded"
  )
  func flood() {
    let capture = LogCapture()
    let hub = ComponentLogHub(
      logger: capture.logger, capacity: 1000, ratePerSecond: 1000, burst: 2000)
    let start = ContinuousClock.now
    var accepted = 0
    // 100 000 records over 2 simulated seconds: 50 000 a second.
    for index in 0..<100_000 {
      let now = start.advanced(by: .microseconds(index * 20))
      if hub.record(record("flood \(index)"), now: now) { accepted += 1 }
    }
    // The burst (2000) plus 1000 a second for 2 seconds, give or take one.
    #expect((3900...4001).contains(accepted), "accepted \(accepted)")
    #expect(hub.recent("memstore", limit: 5000).count == 1000)
    #expect(hub.sources["memstore"]?.dropped == 100_000 - accepted)
    let reports = capture.messages(at: .warning).filter { $0.hasPrefix("dropped ") }
    #expect((1...2).contains(reports.count), "\(reports)")
    #expect(
      reports.allSatisfy { $0.hasSuffix("log records of a component flooding over 1000 records/s") }
    )
  }

  @Test("json: one object per line with time, level, msg and the metadata; text: [component] first")
  func formats() throws {
    let lines = Mutex<[String]>([])
    let json = Logger(label: "apiary.components") { _ in
      SidecarLogHandler(format: .json, level: LogLevelSetting(.trace)) { line in
        lines.withLock { $0.append(line) }
      }
    }
    json.warning(
      "disk \"full\"\nforged", metadata: ["component": "memstore", "socket": "/s/m.sock"])
    let text = Logger(label: "apiary") { _ in
      SidecarLogHandler(format: .text, level: LogLevelSetting(.info)) { line in
        lines.withLock { $0.append(line) }
      }
    }
    text.info("component is UP", metadata: ["component": "statestore", "type": "state.memstore"])
    text.notice("stopped")
    text.debug("not shown")
    let written = lines.withLock { $0 }
    #expect(written.count == 3)
    #expect(written.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().contains("\n") == false })
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: String])
    #expect(object["level"] == "warning" && object["msg"] == "disk \"full\"\nforged")
    #expect(
      object["component"] == "memstore" && object["socket"] == "/s/m.sock" && object["time"] != nil)
    #expect(
      written[1].hasSuffix(" info [statestore] component is UP type=state.memstore\n"),
      "\(written[1])")
    #expect(written[2].hasSuffix(" notice apiary: stopped\n"), "\(written[2])")
  }
}
