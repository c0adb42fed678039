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
    await withTaskGroup(of: Void.self) { group in
      for spec in specs {
        let path = Self.socketPath(of: spec, in: socketsDir)
        group.addTask { await self.waitForSocket(spec, path: path) }
      }
    }
  }

  private func waitForSocket(_ spec: ApiaryConfig.ProcessSpec, path: String) async {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: spec.startTimeout)
    while clock.now < deadline {
      if FileKind.of(path) == .socket { return }
      if let state = statuses[spec.name]?.state, state == .exited || state == .stopped { return }
      try? await Task.sleep(for: .milliseconds(50))
    }
    logger.warning(
      "supervised process did not create its socket within \(spec.startTimeout) (startTimeout); continuing without waiting",
      metadata: ["component": "\(spec.name)", "socket": "\(path)"])
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
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: grace)
    while running.values.contains(where: \.isRunning), clock.now < deadline {
      try? await Task.sleep(for: .milliseconds(20))
    }
    for (name, process) in running where process.isRunning {
      logger.warning(
        "supervised process still running after \(grace): SIGKILL",
        metadata: ["component": "\(name)", "pid": "\(process.processIdentifier)"])
      kill(process.processIdentifier, SIGKILL)
    }
    for loop in loops { await loop.value }
    loops.removeAll()
  }

  /// Runs `spec` until the supervisor stops or its policy says not to restart it.
  private func supervise(_ spec: ApiaryConfig.ProcessSpec) async {
    var backoff = spec.initialBackoff
    let clock = ContinuousClock()
    while !stopping {
      let exit = await runOnce(spec)
      if stopping {
        statuses[spec.name]?.state = .stopped
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
        statuses[spec.name]?.state = .exited
        logger.notice(
          "supervised process exited (\(exit)); not restarted (restart: \(spec.restart.rawValue))",
          metadata: ["component": "\(spec.name)"])
        break
      }
      if exit.ran >= spec.maxBackoff { backoff = spec.initialBackoff }
      statuses[spec.name]?.state = .backoff
      logger.warning(
        "supervised process exited (\(exit)); restarting in \(backoff)",
        metadata: ["component": "\(spec.name)"])
      let wakeAt = clock.now.advanced(by: backoff)
      while !stopping, clock.now < wakeAt {
        try? await Task.sleep(for: min(.milliseconds(50), wakeAt - clock.now))
      }
      if stopping {
        statuses[spec.name]?.state = .stopped
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
    statuses[spec.name]?.state = .running
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
