import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process started by a test: its output goes to files (so a chatty child never
/// blocks on a full pipe), and it is killed when the test no longer needs it.
public final class ChildProcess: @unchecked Sendable {
  // @unchecked: `process` is only mutated before `run()` returns, in `init`; Foundation's
  // Process is thread-safe for the calls made afterwards (terminate, isRunning,
  // terminationStatus, waitUntilExit).
  private let process = Process()
  private let stdoutURL: URL
  private let stderrURL: URL
  /// The private folder (mode 0700) holding the output files, removed with them.
  private let outputFolder: TemporaryFolder
  /// The command line, for failure messages.
  public let commandLine: String

  /// Starts `executable` with `arguments`; `environment` entries are added to this
  /// process's environment. Its output goes to files (mode 0600) in a folder of its
  /// own (mode 0700), removed by ``stop(grace:)`` or when the value goes away.
  public init(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:]
  ) throws {
    _ = brokenPipesIgnored
    outputFolder = try TemporaryFolder(prefix: "apiary-child")
    stdoutURL = URL(fileURLWithPath: outputFolder.file("stdout"))
    stderrURL = URL(fileURLWithPath: outputFolder.file("stderr"))
    _ = FileManager.default.createFile(
      atPath: stdoutURL.path, contents: nil, attributes: [.posixPermissions: 0o600])
    _ = FileManager.default.createFile(
      atPath: stderrURL.path, contents: nil, attributes: [.posixPermissions: 0o600])
    commandLine = ([executable] + arguments).joined(separator: " ")
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
    process.standardError = try FileHandle(forWritingTo: stderrURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }

  /// The private folder holding the process's output files.
  public var outputPath: String { outputFolder.path }

  /// Whether the process is still running.
  public var isRunning: Bool { process.isRunning }

  /// The process id.
  public var pid: Int32 { process.processIdentifier }

  /// What the process wrote to stdout so far.
  public var standardOutput: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

  /// What the process wrote to stderr so far.
  public var standardError: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

  /// Sends `signal` (SIGTERM by default).
  public func signal(_ signal: Int32 = SIGTERM) {
    if process.isRunning { kill(process.processIdentifier, signal) }
  }

  /// Waits up to `timeout` for the process to exit; its exit status, or nil if it is
  /// still running.
  public func waitForExit(timeout: Duration) async -> Int32? {
    let exited = await poll(timeout: timeout) { !self.process.isRunning }
    return exited ? process.terminationStatus : nil
  }

  /// Stops the process: SIGTERM, then SIGKILL when it has not exited within `grace`.
  public func stop(grace: Duration = .seconds(3)) async {
    signal(SIGTERM)
    if await waitForExit(timeout: grace) == nil {
      signal(SIGKILL)
      _ = await waitForExit(timeout: .seconds(5))
    }
    outputFolder.remove()
  }

  /// A test that forgot ``stop(grace:)`` leaves neither a process nor files behind.
  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    outputFolder.remove()
  }

  /// Runs a command to completion (killed after `timeout`) and returns its status and
  /// output.
  public static func run(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:],
    timeout: Duration = .seconds(60)
  ) async throws -> (status: Int32, stdout: String, stderr: String) {
    let child = try ChildProcess(executable, arguments, environment: environment)
    guard let status = await child.waitForExit(timeout: timeout) else {
      let partial = child.standardError
      await child.stop(grace: .milliseconds(100))
      throw TestSupportError(
        "\(child.commandLine) did not finish within \(timeout); stderr so far:\n\(partial)")
    }
    let result = (status, child.standardOutput, child.standardError)
    await child.stop()
    return result
  }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; whether it held.
public func poll(
  timeout: Duration,
  every interval: Duration = .milliseconds(20),
  _ condition: @Sendable () async -> Bool
) async -> Bool {
  let clock = ContinuousClock()
  let deadline = clock.now.advanced(by: timeout)
  while clock.now < deadline {
    if await condition() { return true }
    try? await Task.sleep(for: interval)
  }
  return await condition()
}
