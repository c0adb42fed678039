import ApiaryRuntime
import ArgumentParser
import ComponentKit
import Foundation
import Logging
import ServiceLifecycle

/// `apiary run`: the sidecar.
struct Run: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run the sidecar: load component files, discover sockets, initialise the components.",
    discussion: """
      Reads every *.yaml / *.yml in each --resources-path (Dapr's component format),
      discovers the component sockets, and initialises each configured component:
      secret stores first when other components read secrets from them. With no
      component files at all it starts a built-in state store named 'statestore'
      and a pub/sub named 'pubsub'.

      Built-in types: state.in-memory, pubsub.in-memory, secretstores.local.env,
      secretstores.local.file. Pluggable types come from the sockets folder:
      state.<name>, pubsub.<name>, bindings.<name>, secretstores.<name>, hello.<name>.

      A component whose socket does not exist yet is PENDING and starts as soon as
      the socket appears; it fails after --component-wait. Every component socket
      is heartbeated; after --failure-threshold failed beats its components are
      DOWN, and when it answers again (its process restarted) they are
      initialised again with the same metadata. A component that fails
      stops start-up (exit 1) unless its file says spec.ignoreErrors: true.
      Stops on SIGTERM or SIGINT, closing components in reverse order.

      Example:  apiary run --resources-path ./components --sockets-dir /tmp/dapr-components-sockets
      """
  )

  @Option(
    name: .customLong("resources-path"),
    help: ArgumentHelp("A folder of component files; repeat for several. Default: ./components when it exists.", valueName: "dir"))
  var resourcesPaths: [String] = []

  @Option(name: .customLong("sockets-dir"), help: ArgumentHelp("The folder of component sockets.", valueName: "dir"))
  var socketsDir: String?

  @Option(name: .customLong("app-id"), help: "This application's id; components scoped to other apps are skipped.")
  var appID: String = "apiary"

  @Option(
    name: .customLong("component-wait"),
    help: ArgumentHelp("How long a PENDING component may wait for its socket, e.g. 30s.", valueName: "duration"))
  var componentWait: String = "30s"

  @Option(
    name: .customLong("discovery-timeout"),
    help: ArgumentHelp("How long each socket may take to answer discovery.", valueName: "duration"))
  var discoveryTimeout: String = "2s"

  @Option(
    name: .customLong("heartbeat-interval"),
    help: ArgumentHelp("How often each component socket is heartbeated.", valueName: "duration"))
  var heartbeatInterval: String = "2s"

  @Option(
    name: .customLong("heartbeat-timeout"),
    help: ArgumentHelp("How long one heartbeat may take.", valueName: "duration"))
  var heartbeatTimeout: String = "1s"

  @Option(name: .customLong("failure-threshold"), help: "Consecutive failed heartbeats before a component is DOWN.")
  var failureThreshold: Int = 3

  @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
  var logLevel: String = "info"

  func validate() throws {
    guard failureThreshold >= 1 else { throw ValidationError("--failure-threshold must be at least 1") }
    for (flag, value) in [
      ("--component-wait", componentWait), ("--discovery-timeout", discoveryTimeout),
      ("--heartbeat-interval", heartbeatInterval), ("--heartbeat-timeout", heartbeatTimeout),
    ] {
      guard let parsed = DurationParsing.parse(value), parsed > .zero else {
        throw ValidationError("\(flag) '\(value)' is not a duration; write it like 30s or 500ms")
      }
    }
    guard Logger.Level(rawValue: logLevel) != nil else {
      throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
    }
  }

  func run() async throws {
    let level = Logger.Level(rawValue: logLevel) ?? .info
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "apiary")
    let environment = ProcessInfo.processInfo.environment
    var paths = resourcesPaths
    if paths.isEmpty, FileKind.of("components") == .directory {
      paths = ["components"]
    }
    let options = SidecarOptions(
      resourcesPaths: paths,
      socketsDir: SocketsFolder.resolve(explicit: socketsDir, environment: environment),
      appID: appID,
      discoveryTimeout: DurationParsing.parse(discoveryTimeout) ?? .seconds(2),
      componentWait: DurationParsing.parse(componentWait) ?? .seconds(30),
      environment: environment,
      heartbeatInterval: DurationParsing.parse(heartbeatInterval) ?? .seconds(2),
      heartbeatTimeout: DurationParsing.parse(heartbeatTimeout) ?? .seconds(1),
      failureThreshold: failureThreshold
    )
    let sidecar = Sidecar(options: options, logger: logger) { components in
      FileHandle.standardOutput.write(Data(StartupTable(components: components, socketsDir: options.socketsDir).render().utf8))
    }
    let group = ServiceGroup(
      configuration: .init(
        services: [.init(service: sidecar)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      )
    )
    do {
      try await group.run()
    } catch {
      FileHandle.standardError.write(Data("error: \(Self.describe(error))\n".utf8))
      throw ExitCode(1)
    }
  }

  /// The error a service group reports, unwrapped to the service's own error.
  static func describe(_ error: any Error) -> String {
    if let error = error as? ServiceGroupError, let underlying = Mirror(reflecting: error).descendant("underlyingError") {
      return "\(underlying)"
    }
    return "\(error)"
  }
}
