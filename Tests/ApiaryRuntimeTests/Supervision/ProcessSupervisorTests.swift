import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Logging
import Testing

@Suite("supervised component processes", .serialized)
struct ProcessSupervisorTests {
  func spec(
    _ name: String, _ script: String, restart: ApiaryConfig.RestartPolicy
  ) -> ApiaryConfig.ProcessSpec {
    var spec = ApiaryConfig.ProcessSpec(name: name, command: ["/bin/sh", "-c", script])
    spec.restart = restart
    spec.initialBackoff = .milliseconds(100)
    spec.maxBackoff = .milliseconds(400)
    spec.startTimeout = .milliseconds(300)
    return spec
  }

  @Test(
    "a crashing process is restarted with doubling backoff up to the maximum; its output becomes log records"
  )
  func crashing() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let capture = LogCapture()
    let script =
      #"echo '{"level":"error","msg":"boom","attempt":"x"}'; echo "plain line"; echo "$APIARY_SOCKETS_DIR" >&2; exit 3"#
    // A backoff that resets after a run longer than its maximum: 2 s, so that a
    // process slowed down by a loaded machine does not reset it.
    var crasher = spec("crasher", script, restart: .onFailure)
    crasher.initialBackoff = .milliseconds(250)
    crasher.maxBackoff = .seconds(2)
    let supervisor = ProcessSupervisor(
      processes: [crasher], socketsDir: folder.path,
      environment: ["PATH": "/usr/bin:/bin"], logHub: ComponentLogHub(logger: capture.logger),
      logger: capture.logger)
    await supervisor.start()
    let restarted = await poll(timeout: .seconds(30)) {
      (await supervisor.all.first?.restarts ?? 0) >= 5
    }
    #expect(restarted)
    await supervisor.stop(grace: .seconds(1))
    let status = try #require(await supervisor.all.first)
    #expect(status.lastExit == "exit status 3")
    #expect(status.state == .stopped)

    let delays = capture.all.compactMap { line -> String? in
      guard line.message.hasPrefix("supervised process exited (exit status 3); restarting in ")
      else { return nil }
      return String(
        line.message.dropFirst("supervised process exited (exit status 3); restarting in ".count))
    }
    #expect(
      Array(delays.prefix(5)) == [
        "0.25 seconds", "0.5 seconds", "1.0 seconds", "2.0 seconds", "2.0 seconds",
      ], "\(delays)")
    let boom = capture.all.first { $0.message == "boom" }
    #expect(boom?.level == .error)
    #expect(boom?.metadata["component"] == "crasher" && boom?.metadata["stream"] == "stdout")
    #expect(boom?.metadata["attempt"] == "x")
    #expect(capture.all.contains { $0.message == "plain line" && $0.level == .info })
    #expect(capture.all.contains { $0.message == folder.path && $0.metadata["stream"] == "stderr" })
  }

  @Test("restart policies: on-failure leaves a clean exit alone, never leaves a failure alone")
  func policies() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let supervisor = ProcessSupervisor(
      processes: [
        spec("clean", "exit 0", restart: .onFailure), spec("failing", "exit 1", restart: .never),
      ],
      socketsDir: folder.path, environment: [:],
      logHub: ComponentLogHub(logger: Logger(label: "test")),
      logger: Logger(label: "test"))
    await supervisor.start()
    let settled = await poll(timeout: .seconds(10)) {
      await supervisor.all.allSatisfy { $0.state == .exited }
    }
    let statuses = await supervisor.all
    #expect(settled, "\(statuses)")
    #expect(await supervisor.all.map(\.restarts) == [0, 0])
    #expect(await supervisor.all.map(\.lastExit) == ["exit status 0", "exit status 1"])
    await supervisor.stop(grace: .seconds(1))
  }

  @Test("stop: SIGTERM first; a process that ignores it is killed after the grace period")
  func stop() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let supervisor = ProcessSupervisor(
      processes: [
        spec("polite", "exec sleep 30", restart: .always),
        spec("stubborn", "trap '' TERM; exec sleep 30", restart: .always),
      ],
      socketsDir: folder.path, environment: ["PATH": "/usr/bin:/bin"],
      logHub: ComponentLogHub(logger: Logger(label: "test")),
      logger: Logger(label: "test"))
    await supervisor.start()
    let running = await poll(timeout: .seconds(10)) {
      await supervisor.all.allSatisfy { $0.state == .running }
    }
    #expect(running)
    let pids = await supervisor.all.compactMap(\.pid)
    #expect(pids.count == 2)
    await supervisor.stop(grace: .milliseconds(500))
    #expect(await supervisor.all.map(\.state) == [.stopped, .stopped])
    for pid in pids { #expect(kill(pid, 0) != 0, "process \(pid) still exists") }
  }

  @Test("a program that does not exist is reported, and retried per its policy")
  func missingProgram() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let capture = LogCapture()
    var missing = ApiaryConfig.ProcessSpec(name: "ghost", command: ["no-such-program-apiary"])
    missing.restart = .never
    let supervisor = ProcessSupervisor(
      processes: [missing], socketsDir: folder.path, environment: ["PATH": "/usr/bin:/bin"],
      logHub: nil,
      logger: capture.logger)
    await supervisor.start()
    #expect(await supervisor.all.first?.state == .exited)
    #expect(
      capture.messages(at: .error).contains {
        $0.contains("'no-such-program-apiary' is not found in PATH")
      })
    await supervisor.stop(grace: .seconds(1))
  }

  @Test(
    "output: a child's child that keeps the pipe still has its lines forwarded; many short runs lose no line"
  )
  func outputOutlivesProcess() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let capture = LogCapture()
    // The shell exits at once; its background child holds stdout for 1.5 s more, past
    // the second the supervisor waits for the pipes before it restarts the process.
    let lingering = #"(sleep 1.5; echo "late $$") & echo "early $$"; exit 1"#
    var quick = spec("quick", #"echo "run $$"; echo "err $$" >&2; exit 1"#, restart: .onFailure)
    quick.initialBackoff = .milliseconds(1)
    quick.maxBackoff = .milliseconds(1)
    let supervisor = ProcessSupervisor(
      processes: [spec("lingering", lingering, restart: .never), quick], socketsDir: folder.path,
      environment: ["PATH": "/usr/bin:/bin"], logHub: ComponentLogHub(logger: capture.logger),
      logger: capture.logger)
    await supervisor.start()
    // 200 runs well within a minute: a restart waits for the end of the pipes, which
    // comes with the process's exit (with a libdispatch read source per pipe, 600 runs
    // did not finish in a minute).
    let churned = await poll(timeout: .seconds(60)) {
      (await supervisor.all.first { $0.name == "quick" }?.restarts ?? 0) >= 200
    }
    #expect(churned)
    let lateArrived = await poll(timeout: .seconds(10)) {
      capture.all.contains {
        $0.metadata["component"] == "lingering" && $0.message.hasPrefix("late ")
      }
    }
    await supervisor.stop(grace: .seconds(1))
    #expect(lateArrived, "the background child's line was not forwarded")
    let early = capture.all.first {
      $0.metadata["component"] == "lingering" && $0.message.hasPrefix("early ")
    }
    #expect(early != nil)

    // Every run of "quick" that ended was waited for: its pid's two lines are there,
    // each on its own stream.
    let quickLines = capture.all.filter { $0.metadata["component"] == "quick" }
    let runs = Set(
      quickLines.filter { $0.message.hasPrefix("run ") }.map { $0.message.dropFirst(4) })
    let errs = Set(
      quickLines.filter { $0.message.hasPrefix("err ") }.map { $0.message.dropFirst(4) })
    #expect(runs.count >= 200)
    #expect(runs.symmetricDifference(errs).count <= 1, "a run's stdout or stderr line is missing")
    #expect(
      quickLines.allSatisfy { ($0.metadata["stream"] == "stdout") == $0.message.hasPrefix("run ") })
  }

  @Test("output lines: JSON level and message, swift-log's text format, escaped control characters")
  func outputRecords() {
    let json = ProcessOutputRecord(
      line: #"{"level":"warn","msg":"disk\nfull","time":"x","disk":"sda"}"#)
    #expect(
      json.level == .warning && json.message == #"disk\nfull"# && json.fields == ["disk": "sda"])
    let python = ProcessOutputRecord(line: #"{"levelname":"ERROR","message":"boom"}"#)
    #expect(python.level == .error && python.message == "boom")
    let swiftLog = ProcessOutputRecord(
      line: "2026-11-22T04:26:46+0000 notice memstore: [ComponentKit] hello")
    #expect(swiftLog.level == .notice && swiftLog.message == "memstore: [ComponentKit] hello")
    let forged = ProcessOutputRecord(line: "ok\u{1b}[31m red")
    #expect(forged.level == .info && forged.message == #"ok\u{1b}[31m red"#)
    #expect(ProcessOutputRecord(line: "{not json").message == "{not json")
  }
}
