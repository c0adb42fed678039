import ArgumentParser
import ComponentKit
import Foundation
import Logging

/// The ticker sample: an input binding that emits an event every N milliseconds.
@main
struct TickerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ticker",
    abstract: "A sample Apiary/Dapr pluggable component: an input binding that ticks.",
    discussion: """
      Serves dapr.proto.components.v1.InputBinding on one Unix socket, plus reflection,
      health and ComponentLogs. The sidecar discovers it as bindings.<name>, where <name>
      is the socket file name without its extension. Metadata: intervalMs (default
      1000), message (copied into every event). Stop it with Ctrl-C or SIGTERM; it
      removes its socket.
      """
  )

  @Option(
    help:
      "The socket to serve. Default: <sockets folder>/ticker.sock, the folder from APIARY_SOCKETS_DIR, DAPR_COMPONENTS_SOCKETS_FOLDER or /tmp/dapr-components-sockets."
  )
  var socket: String?

  @Option(
    help: "Log level written to stderr (trace, debug, info, notice, warning, error, critical).")
  var logLevel: Logger.Level = .info

  func run() async throws {
    let path = SocketsFolder.socketPath(name: "ticker", explicit: socket)
    let logs = ComponentLogStore()
    ComponentLogHandler.bootstrap(store: logs, echoLevel: logLevel)
    try await ComponentServer.serve(
      socketPath: path,
      components: [.inputBinding { Ticker() }],
      logStore: logs,
      logger: Logger(label: "ticker")
    )
  }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
