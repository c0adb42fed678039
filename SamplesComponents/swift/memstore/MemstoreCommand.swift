import ArgumentParser
import ComponentKit
import Foundation
import Logging

/// The memstore sample: an in-memory state store and a hello component on one socket.
@main
struct MemstoreCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "memstore",
    abstract: "A sample Apiary/Dapr pluggable component: in-memory state store and hello.",
    discussion: """
      Serves dapr.proto.components.v1.StateStore (ETAG, TRANSACTIONAL) with
      TransactionalStateStore, and spec.proto.pluggable.v1.hello.Hello, on one Unix
      socket, plus reflection, health and ComponentLogs. The sidecar discovers it as
      state.<name> and hello.<name>, where <name> is the socket file name without
      its extension. Stop it with Ctrl-C or SIGTERM; it removes its socket.
      """
  )

  @Option(
    help:
      "The socket to serve. Default: <sockets folder>/memstore.sock, the folder from APIARY_SOCKETS_DIR, DAPR_COMPONENTS_SOCKETS_FOLDER or /tmp/dapr-components-sockets."
  )
  var socket: String?

  @Option(
    help: "Log level written to stderr (trace, debug, info, notice, warning, error, critical).")
  var logLevel: Logger.Level = .info

  func run() async throws {
    let path = SocketsFolder.socketPath(name: "memstore", explicit: socket)
    let logs = ComponentLogStore()
    ComponentLogHandler.bootstrap(store: logs, echoLevel: logLevel)
    let logger = Logger(label: "memstore")
    try await ComponentServer.serve(
      socketPath: path,
      components: [.stateStore { MemStore() }, .hello { Greeter() }],
      logStore: logs,
      logger: logger
    )
  }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
