import ApiaryRuntime
import ArgumentParser
import ComponentKit
import Foundation
import Logging

/// `apiary discover`: one scan of the sockets folder.
struct Discover: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Scan the sockets folder once and list the components found.",
    discussion: """
      Dials every Unix socket in the folder and lists its gRPC services with server
      reflection (v1, then v1alpha). Each socket providing a known service becomes a
      component type: state.<name>, pubsub.<name>, bindings.<name>,
      secretstores.<name> or hello.<name>, where <name> is the socket's file name
      without its last extension, lower-cased.

      Sockets that refuse, hang or speak no gRPC are listed as skipped with the
      reason; they never hold up the others. As with 'apiary run', a socket whose
      listener runs as a user not in --allowed-component-uids (default: apiary's own
      uid) is skipped. Exits 0 even when some are skipped, 1 when the folder cannot
      be read.

      Example:  apiary discover --sockets-dir /tmp/dapr-components-sockets --json
      """
  )

  @Option(
    name: .customLong("sockets-dir"),
    help: ArgumentHelp("The folder of component sockets.", valueName: "dir"))
  var socketsDir: String?

  @Flag(
    help:
      "Print the result as JSON: {socketsDir, components: [{socket, name, reflection, services, types}], skipped: [{socket, reason}]}."
  )
  var json = false

  @Option(
    help: ArgumentHelp(
      "How long each socket may take to answer, e.g. 2s or 500ms.", valueName: "duration"))
  var timeout = DurationArgument("2s")

  @Flag(
    name: .shortAndLong,
    help: "Also log debug lines (e.g. folder entries that are not sockets) to stderr.")
  var verbose = false

  @Option(name: .customLong("allowed-component-uids"), help: ComponentUIDs.help)
  var allowedComponentUIDs: String?

  func validate() throws {
    _ = try ComponentUIDs.parse(allowedComponentUIDs)
  }

  func run() async throws {
    let level: Logger.Level = verbose ? .debug : .warning
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let folder = SocketsFolder.resolve(
      explicit: socketsDir, environment: ProcessInfo.processInfo.environment)
    // The same peer check as 'apiary run': another user's socket is listed as skipped.
    let discovery = Discovery(
      socketsDir: folder, timeout: timeout.duration,
      allowedPeerUIDs: try ComponentUIDs.parse(allowedComponentUIDs))
    let report: DiscoveryReport
    do {
      report = try await discovery.scan()
    } catch {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(1)
    }
    if json {
      print(report.json)
    } else {
      print(DiscoveryTable(report: report).render(), terminator: "")
    }
  }
}
