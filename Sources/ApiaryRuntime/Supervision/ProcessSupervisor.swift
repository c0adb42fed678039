import ApiaryShared
import Foundation
import Logging

/// Launches the component processes of `apiary.yaml`, restarts them per their policy
/// with exponential backoff, turns their output lines into log records of their
/// component, and stops them on shutdown (SIGTERM, then SIGKILL after a grace period).
///
/// Children get `APIARY_SOCKETS_DIR` and `DAPR_COMPONENTS_SOCKETS_FOLDER` set to the
/// sockets folder (their `env` may override them). A process that ran at least as long
/// as its maximum backoff starts again from the initial backoff.
///
/// Written on Foundation's `Process`: no listed library supervises processes.
public actor ProcessSupervisor {
  /// What the supervisor knows of one process.
  public struct Status: Sendable, Equatable {
    public var name: String
    /// The socket it serves.
    public var socket: String
    public var state: ProcessState
    public var pid: Int32?
    /// How many times it was started again.
    public var restarts: Int
    /// How it ended last, e.g. "exit status 1" or "signal 9".
    public var lastExit: String?
  }

  private let specs: [ApiaryConfig.ProcessSpec]
  private let socketsDir: String
  private let logHub: ComponentLogHub?
  private let logger: Logger
  private let environment: [String: String]
  private var statuses: [String: Status] = [:]
  private var running: [String: Process] = [:]
  private var loops: [Task<Void, Never>] = []
  /// The restart backoff each process is waiting out, cancelled on stop.
  private var backoffSleeps: [String: Task<Void, Never>] = [:]
  /// What ``waitForSocket(_:path:)`` waits on, woken at each change of the process's
  /// state, by process name.
  private var stateWatchers: [String: AsyncStream<Void>.Continuation] = [:]
  private var stopping = false

  /// - Parameter logHub: Where the children's stdout and stderr lines go as log
  ///   records of their component (the `logForwarding` module); without one (the
  ///   module is off) they go to the sidecar's own stdout and stderr unchanged.
  public init(
    processes: [ApiaryConfig.ProcessSpec], socketsDir: String, environment: [String: String],
    logHub: ComponentLogHub?, logger: Logger
  ) {
    self.logHub = logHub
    self.specs = processes
    self.socketsDir = socketsDir
    self.environment = environment
    self.logger = logger
    for spec in processes {
      statuses[spec.name] = Status(
        name: spec.name, socket: Self.socketPath(of: spec, in: socketsDir), state: .starting,
        pid: nil, restarts: 0,
        lastExit: nil)
    }
  }

  /// Every process's status, in configuration order.
  public var all: [Status] { specs.compactMap { statuses[$0.name] } }

  /// The socket path `spec` serves.
  public static func socketPath(of spec: ApiaryConfig.ProcessSpec, in socketsDir: String) -> String
  {
    spec.socket.hasPrefix("/")
      ? spec.socket : (socketsDir as NSString).appendingPathComponent(spec.socket)
  }

  /// Launches every process, then returns once each has created its socket, exited, or
  /// used up its `startTimeout` (a warning then; its component stays PENDING and starts
  /// when the socket appears).
  public func start() async {
    for spec in specs {
      loops.append(Task { await self.supervise(spec) })
    }
    // One watcher per folder the sockets go in (usually just the sockets folder):
    // each of its file events wakes every wait below.
    let paths = specs.map { Self.socketPath(of: $0, in: socketsDir) }
    let folders = Set(paths.map { ($0 as NSString).deletingLastPathComponent })
    let fileEvents = folders.map { folder in
      let watcher = SocketFolderWatcher(
        folder: folder, interval: .milliseconds(250), logger: logger)
      return Task { for await _ in watcher.wakeups() { await self.wakeSocketWaits() } }
    }
    defer { for events in fileEvents { events.cancel() } }
    await withTaskGroup(of: Void.self) { group in
      for (spec, path) in zip(specs, paths) {
        group.addTask { await self.waitForSocket(spec, path: path) }
      }
    }
  }

  private func wakeSocketWaits() {
    for wait in stateWatchers.values { wait.yield() }
  }

  /// Returns once `path` is a socket, the process has exited for good, or
  /// `startTimeout` has passed. Woken by the folder's file events (``start()``'s
  /// ``SocketFolderWatcher``, which also looks every 250 ms in case one is missed) and
  /// by the process's own changes of state, never by a sleep loop.
  private func waitForSocket(_ spec: ApiaryConfig.ProcessSpec, path: String) async {
    let (wakeups, wake) = AsyncStream.makeStream(
      of: Void.self, bufferingPolicy: .bufferingNewest(1))
    stateWatchers[spec.name] = wake
    let deadline = Task {
      try? await Task.sleep(for: spec.startTimeout)
      wake.finish()
    }
    defer {
      stateWatchers[spec.name] = nil
      deadline.cancel()
      wake.finish()
    }
    wake.yield()
    for await _ in wakeups {
      if FileKind.of(path) == .socket { return }
      if let state = statuses[spec.name]?.state, state == .exited || state == .stopped { return }
    }
    logger.warning(
      "supervised process did not create its socket within \(spec.startTimeout) (startTimeout); continuing without waiting",
      metadata: ["component": "\(spec.name)", "socket": "\(path)"])
  }

  /// Records `state` for `name` and wakes whoever waits on its changes.
  private func set(_ state: ProcessState, for name: String) {
    statuses[name]?.state = state
    stateWatchers[name]?.yield()
  }

  /// Stops every process: SIGTERM, then SIGKILL for those still running after `grace`.
  public func stop(grace: Duration) async {
    guard !stopping else { return }
    stopping = true
    for (name, process) in running where process.isRunning {
      logger.info(
        "stopping supervised process (SIGTERM)",
        metadata: ["component": "\(name)", "pid": "\(process.processIdentifier)"])
      process.terminate()
    }
    for sleeper in backoffSleeps.values { sleeper.cancel() }
    await endedOrElapsed(grace)
    for (name, process) in running where process.isRunning {
      logger.warning(
        "supervised process still running after \(grace): SIGKILL",
        metadata: ["component": "\(name)", "pid": "\(process.processIdentifier)"])
      kill(process.processIdentifier, SIGKILL)
    }
    for loop in loops { await loop.value }
    loops.removeAll()
  }

  /// Returns when every supervising loop has ended or `grace` has passed, whichever
  /// comes first.
  private func endedOrElapsed(_ grace: Duration) async {
    let (first, signal) = AsyncStream.makeStream(
      of: Void.self, bufferingPolicy: .bufferingNewest(1))
    let loops = self.loops
    let ended = Task {
      for loop in loops { await loop.value }
      signal.yield()
    }
    let elapsed = Task {
      try? await Task.sleep(for: grace)
      signal.yield()
    }
    for await _ in first { break }
    ended.cancel()
    elapsed.cancel()
  }

  /// Runs `spec` until the supervisor stops or its policy says not to restart it.
  private func supervise(_ spec: ApiaryConfig.ProcessSpec) async {
    var backoff = spec.initialBackoff
    while !stopping {
      let exit = await runOnce(spec)
      if stopping {
        set(.stopped, for: spec.name)
        break
      }
      statuses[spec.name]?.lastExit = exit.description
      let again: Bool =
        switch spec.restart {
        case .always: true
        case .onFailure: !exit.succeeded
        case .never: false
        }
      guard again else {
        set(.exited, for: spec.name)
        logger.notice(
          "supervised process exited (\(exit)); not restarted (restart: \(spec.restart.rawValue))",
          metadata: ["component": "\(spec.name)"])
        break
      }
      if exit.ran >= spec.maxBackoff { backoff = spec.initialBackoff }
      set(.backoff, for: spec.name)
      logger.warning(
        "supervised process exited (\(exit)); restarting in \(backoff)",
        metadata: ["component": "\(spec.name)"])
      // A sleep that ``stop(grace:)`` cuts short.
      let sleep = Task { [backoff] in _ = try? await Task.sleep(for: backoff) }
      backoffSleeps[spec.name] = sleep
      if stopping { sleep.cancel() }
      await sleep.value
      backoffSleeps[spec.name] = nil
      if stopping {
        set(.stopped, for: spec.name)
        break
      }
      statuses[spec.name]?.restarts += 1
      backoff = min(backoff * 2, spec.maxBackoff)
    }
  }

  /// How a run ended.
  struct Exit: CustomStringConvertible {
    var description: String
    var succeeded: Bool
    /// How long the process ran.
    var ran: Duration = .zero
  }

  /// Launches `spec` once and waits for it to end.
  private func runOnce(_ spec: ApiaryConfig.ProcessSpec) async -> Exit {
    let process = Process()
    do {
      process.executableURL = URL(fileURLWithPath: try executable(spec))
    } catch {
      logger.error(
        "cannot start supervised process: \(error)", metadata: ["component": "\(spec.name)"])
      return Exit(description: "not started: \(error)", succeeded: false)
    }
    process.arguments = Array(spec.command.dropFirst())
    var environment = self.environment
    environment["APIARY_SOCKETS_DIR"] = socketsDir
    environment["DAPR_COMPONENTS_SOCKETS_FOLDER"] = socketsDir
    environment.merge(spec.env) { _, new in new }
    process.environment = environment
    if let directory = spec.workingDir {
      process.currentDirectoryURL = URL(fileURLWithPath: directory)
    }
    var outputs: [(pipe: OutputPipe, forwarder: LineForwarder)] = []
    if let logHub {
      for stream in ["stdout", "stderr"] {
        let pipe: OutputPipe
        do {
          pipe = try OutputPipe()
        } catch {
          for output in outputs { output.pipe.discard() }
          logger.error(
            "cannot start supervised process: \(error)", metadata: ["component": "\(spec.name)"])
          return Exit(description: "not started: \(error)", succeeded: false)
        }
        let handle = FileHandle(fileDescriptor: pipe.writeEnd, closeOnDealloc: false)
        if stream == "stdout" {
          process.standardOutput = handle
        } else {
          process.standardError = handle
        }
        outputs.append((pipe, LineForwarder(component: spec.name, stream: stream, hub: logHub)))
      }
    }
    let (ended, continuation) = AsyncStream.makeStream(of: Void.self)
    process.terminationHandler = { _ in
      continuation.yield()
      continuation.finish()
    }
    do {
      try process.run()
    } catch {
      for output in outputs { output.pipe.discard() }
      logger.error(
        "cannot start supervised process: \(error)", metadata: ["component": "\(spec.name)"])
      return Exit(description: "not started: \(error)", succeeded: false)
    }
    // Only the child writes now: once it (and any child of its own) exits, the pipes
    // reach their end.
    for (pipe, forwarder) in outputs {
      pipe.closeWriteEnd()
      pipe.startReading(into: forwarder, name: "apiary-output-\(forwarder.stream)")
    }
    running[spec.name] = process
    set(.running, for: spec.name)
    statuses[spec.name]?.pid = process.processIdentifier
    logger.info(
      "started supervised process",
      metadata: ["component": "\(spec.name)", "pid": "\(process.processIdentifier)"])
    let clock = ContinuousClock()
    let started = clock.now
    for await _ in ended {}
    let ran = clock.now - started
    running[spec.name] = nil
    statuses[spec.name]?.pid = nil
    // What the process wrote last: read to the end of its pipes (a child of its own
    // may keep them open, so not for more than a second).
    for output in outputs { await output.forwarder.waitForEnd(timeout: .seconds(1)) }
    let status = process.terminationStatus
    switch process.terminationReason {
    case .exit: return Exit(description: "exit status \(status)", succeeded: status == 0, ran: ran)
    case .uncaughtSignal: return Exit(description: "signal \(status)", succeeded: false, ran: ran)
    @unknown default: return Exit(description: "status \(status)", succeeded: false, ran: ran)
    }
  }

  /// The program's path: `command[0]` itself when it contains a slash (relative to
  /// `workingDir` when set), else the first match in `PATH`.
  private func executable(_ spec: ApiaryConfig.ProcessSpec) throws -> String {
    let program = spec.command[0]
    if program.contains("/") {
      if program.hasPrefix("/") { return program }
      let base = spec.workingDir ?? FileManager.default.currentDirectoryPath
      return (base as NSString).appendingPathComponent(program)
    }
    let path = spec.env["PATH"] ?? environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for folder in path.split(separator: ":") {
      let candidate = "\(folder)/\(program)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw SupervisionError(
      "'\(program)' is not found in PATH (processes[].command[0] of '\(spec.name)')")
  }
}

/// A supervised process could not be started.
public struct SupervisionError: Error, Sendable, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}
