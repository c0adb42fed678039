import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Testing

@Suite("apiary.yaml: modules and supervised processes")
struct ApiaryConfigTests {
  @Test("a full file: every field read, defaults where absent")
  func full() throws {
    let config = try ApiaryConfig.parse(
      """
      modules:
        grpcApi: false
        metrics: off
      processes:
        - name: memstore
          command: [memstore, --socket, /tmp/s/memstore.sock]
          env: {LOG_LEVEL: debug, EMPTY: }
          workingDir: /srv
          restart: always
          backoff: {initial: 250ms, max: 8s}
          socket: /tmp/s/memstore.sock
          startTimeout: 3s
        - name: ticker
          command: ["./ticker"]
      """, file: "apiary.yaml")
    #expect(config.modules.grpcApi == false)
    #expect(config.modules.metrics == false)
    #expect(
      config.modules.httpApi && config.modules.actuator && config.modules.supervision
        && config.modules.logForwarding)
    #expect(config.processes.count == 2)
    let memstore = config.processes[0]
    #expect(memstore.command == ["memstore", "--socket", "/tmp/s/memstore.sock"])
    #expect(memstore.env == ["LOG_LEVEL": "debug", "EMPTY": ""])
    #expect(memstore.workingDir == "/srv")
    #expect(memstore.restart == .always)
    #expect(memstore.initialBackoff == .milliseconds(250) && memstore.maxBackoff == .seconds(8))
    #expect(memstore.socket == "/tmp/s/memstore.sock" && memstore.startTimeout == .seconds(3))
    let ticker = config.processes[1]
    #expect(
      ticker.restart == .onFailure && ticker.socket == "ticker.sock"
        && ticker.initialBackoff == .seconds(1))
    #expect(ticker.maxBackoff == .seconds(30) && ticker.workingDir == nil)
  }

  @Test("an empty file means every module on and no processes")
  func empty() throws {
    #expect(try ApiaryConfig.parse("", file: "apiary.yaml") == ApiaryConfig())
    #expect(try ApiaryConfig.parse("# nothing\n", file: "apiary.yaml") == ApiaryConfig())
  }

  @Test(
    "mistakes name the file and the field",
    arguments: [
      ("modules: {httpAPI: false}", "apiary.yaml: modules.httpAPI: unknown key"),
      ("modules: {grpcApi: maybe}", "apiary.yaml: modules.grpcApi: 'maybe' is not true or false"),
      ("module: {}", "apiary.yaml: module: unknown key"),
      ("processes: {name: x}", "apiary.yaml: processes: expected a list of processes"),
      ("processes: [{command: [x]}]", "apiary.yaml: processes[0].name: is missing"),
      ("processes: [{name: x}]", "apiary.yaml: processes[0].command: is missing"),
      (
        "processes: [{name: x, command: []}]",
        "apiary.yaml: processes[0].command: expected a non-empty list"
      ),
      (
        "processes: [{name: x, command: x}]",
        "apiary.yaml: processes[0].command: expected a non-empty list"
      ),
      (
        "processes: [{name: x, command: [x], restart: sometimes}]",
        "apiary.yaml: processes[0].restart: 'sometimes' is not always, on-failure or never"
      ),
      (
        "processes: [{name: x, command: [x], backoff: {initial: 5}}]",
        "apiary.yaml: processes[0].backoff.initial: '5' is not a duration"
      ),
      (
        "processes: [{name: x, command: [x], backoff: {initial: 5s, max: 1s}}]",
        "apiary.yaml: processes[0].backoff.max: must not be shorter"
      ),
      (
        "processes: [{name: x, command: [x], cmd: [y]}]",
        "apiary.yaml: processes[0].cmd: unknown key"
      ),
      (
        "processes: [{name: x, command: [x]}, {name: x, command: [y]}]",
        "apiary.yaml: processes[1].name: 'x' is used by an earlier process"
      ),
      ("processes: [{name: a/b, command: [x]}]", "apiary.yaml: processes[0].name: 'a/b' must be"),
      ("[1, 2]", "apiary.yaml: expected a mapping with modules and processes"),
      ("modules: [", "apiary.yaml: not valid YAML"),
    ])
  func mistakes(text: String, expected: String) {
    #expect {
      _ = try ApiaryConfig.parse(text, file: "apiary.yaml")
    } throws: { error in
      "\(error)".hasPrefix(expected)
    }
  }

  @Test("a missing file is named")
  func missingFile() {
    #expect {
      _ = try ApiaryConfig.load(path: "/nonexistent/apiary.yaml")
    } throws: { error in
      "\(error)".hasPrefix("/nonexistent/apiary.yaml: cannot read the file")
    }
  }

  @Test("a file over 1 MiB is refused unread, with its name and size")
  func oversizedFile() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let path = folder.file("apiary.yaml")
    try String(repeating: "# padding\n", count: 110_000).write(
      toFile: path, atomically: true, encoding: .utf8)
    #expect {
      _ = try ApiaryConfig.load(path: path)
    } throws: { error in
      "\(error)"
        == "\(path): is 1100000 bytes; a config file may hold at most 1048576 bytes (1 MiB)"
    }
  }
}
