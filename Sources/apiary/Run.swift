import ApiaryAPI
import ApiaryRuntime
import ApiaryShared
import ArgumentParser
import ComponentKit
import CoreMetrics
import Foundation
import GRPCCoreCTransport
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import Tracing

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

      Applications call the Dapr API: gRPC on --grpc-port (default $DAPR_GRPC_PORT
      or 50001) and HTTP on --http-port (default $DAPR_HTTP_PORT or 3500), both on
      --listen-address (default 127.0.0.1). With --app-port, pub/sub events of the
      app's subscriptions (GET /dapr/subscribe, or AppCallback for --app-protocol
      grpc) and of Subscription files, and input binding events, are delivered to
      the app. When APIARY_API_TOKEN or DAPR_API_TOKEN is set, every call except
      the health checks needs the header dapr-api-token with that value.

      The sockets folder is watched (inotify, else polling every --rescan-interval):
      sockets that appear later start PENDING components; a removed socket takes
      its components DOWN. The sockets folder must be apiary's user's and not
      writable by others (created 0700 when missing), and only sockets whose
      listener runs as an allowed uid are used. The HTTP port (or --actuator-port)
      also serves /actuator/health/liveness, /actuator/health/readiness,
      /actuator/info, /actuator/components, /actuator/logs, /actuator/logger and
      /metrics (Prometheus). gRPC runs on the gRPC core library (--transport core,
      the default) or grpc-swift's NIO transport (--transport nio). Components' own
      logs (ComponentLogs/Tail) join the sidecar's, prefixed [component].
      --config names a YAML file (repeatable) holding Dapr's kind: Configuration
      (secret scopes; tracing and metrics settings) and/or apiary's own settings, a
      document without kind: modules to switch off and component processes for
      Apiary to launch, restart and stop (see Docs/operations.md). kind: Resiliency documents in
      the resources folders set timeouts, retries and circuit breakers.

      Example:  apiary run --resources-path ./components --sockets-dir /tmp/dapr-components-sockets
      """
  )

  @OptionGroup var resourceOptions: ResourceOptions

  @Option(
    name: .customLong("component-wait"),
    help: ArgumentHelp(
      "How long a PENDING component may wait for its socket, e.g. 30s.", valueName: "duration"))
  var componentWait = DurationArgument("30s")

  @Option(
    name: .customLong("discovery-timeout"),
    help: ArgumentHelp("How long each socket may take to answer discovery.", valueName: "duration"))
  var discoveryTimeout = DurationArgument("2s")

  @Option(
    name: .customLong("heartbeat-interval"),
    help: ArgumentHelp("How often each component socket is heartbeated.", valueName: "duration"))
  var heartbeatInterval = DurationArgument("2s")

  @Option(
    name: .customLong("heartbeat-timeout"),
    help: ArgumentHelp("How long one heartbeat may take.", valueName: "duration"))
  var heartbeatTimeout = DurationArgument("1s")

  @Option(
    name: .customLong("failure-threshold"),
    help: "Consecutive failed heartbeats before a component is DOWN.")
  var failureThreshold: Int = 3

  @Option(
    name: .customLong("grpc-port"),
    help: "The Dapr gRPC API's port. Default: $DAPR_GRPC_PORT, else 50001.")
  var grpcPort: Int?

  @Option(
    name: .customLong("http-port"),
    help: "The Dapr HTTP API's port. Default: $DAPR_HTTP_PORT, else 3500.")
  var httpPort: Int?

  @Option(
    name: .customLong("listen-address"),
    help: ArgumentHelp(
      "The address the APIs listen on; 0.0.0.0 for every interface.", valueName: "ip"))
  var listenAddress: String = "127.0.0.1"

  @Option(
    name: .customLong("app-port"),
    help: "The app's port, to deliver pub/sub and input binding events to it.")
  var appPort: Int?

  @Option(name: .customLong("app-protocol"), help: "How the app is called: http or grpc.")
  var appProtocol = AppProtocolArgument.http

  @Option(
    name: .customLong("max-body-size"),
    help: ArgumentHelp(
      "The largest request body or gRPC message accepted, e.g. 4Mi, 512Ki or 1000000.",
      valueName: "size"))
  var maxBodySize = ByteSizeArgument("4Mi")

  @Option(
    name: .customLong("rescan-interval"),
    help: ArgumentHelp(
      "How often the sockets folder is looked at without an inotify event.", valueName: "duration"))
  var rescanInterval = DurationArgument("1s")

  @Option(
    name: .customLong("call-timeout"),
    help: ArgumentHelp(
      "How long one component call (Get, Publish, Invoke, ...) may take before it fails with 504 / DEADLINE_EXCEEDED.",
      valueName: "duration"))
  var callTimeout = DurationArgument("30s")

  @Option(
    name: .customLong("http-idle-timeout"),
    help: ArgumentHelp(
      "How long an HTTP connection may send nothing (between requests, or in the middle of one) before it is closed.",
      valueName: "duration"))
  var httpIdleTimeout = DurationArgument("60s")

  @Option(
    name: .customLong("actuator-port"),
    help:
      "Serve the actuator and /metrics on this port (on --listen-address) instead of the HTTP API's port."
  )
  var actuatorPort: Int?

  @Flag(
    name: .customLong("actuator-show-metadata-values"),
    help:
      "Show the values written in component files in /actuator/components (names only by default; values from envRef and secretKeyRef are never shown)."
  )
  var actuatorShowMetadataValues = false

  @Option(
    name: .customLong("max-connections"),
    help:
      "The most connections each port (HTTP, gRPC, actuator) holds at once; more are closed as they arrive."
  )
  var maxConnections: Int = 512

  @Option(
    name: .customLong("grpc-idle-timeout"),
    help: ArgumentHelp(
      "How long a gRPC connection may have no call before it is closed.", valueName: "duration"))
  var grpcIdleTimeout = DurationArgument("5m")

  @Option(
    name: .customLong("max-metadata-entries"),
    help:
      "The most attributes the app may set through the metadata API (PUT /v1.0/metadata/{key}, SetMetadata)."
  )
  var maxMetadataEntries: Int = 100

  @Option(
    name: .customLong("max-metadata-size"),
    help: ArgumentHelp(
      "The most bytes (keys and values) the app may set through the metadata API, e.g. 64Ki.",
      valueName: "size"))
  var maxMetadataSize = ByteSizeArgument("64Ki")

  @Flag(
    name: .customLong("allow-insecure-sockets-dir"),
    help:
      "Run even when the sockets folder is group- or world-writable or owned by another user (logged)."
  )
  var allowInsecureSocketsDir = false

  @Option(name: .customLong("allowed-component-uids"), help: ComponentUIDs.help)
  var allowedComponentUIDs: String?

  @Option(
    name: .customLong("transport"),
    help: ArgumentHelp(
      "The gRPC transport for the gRPC API, component calls and gRPC app delivery: core (the gRPC core C library) or nio (grpc-swift's NIO HTTP/2). Default: $APIARY_TRANSPORT, else \(TransportKind.default).",
      valueName: "kind"))
  var transport: TransportKind?

  @Option(
    name: .customLong("socket-watch"),
    help: "How the sockets folder is watched: auto (inotify, else polling) or polling.")
  var socketWatch = SocketWatchArgument.auto

  @Option(
    name: .customLong("shutdown-grace"),
    help: ArgumentHelp(
      "On SIGTERM, how long in-flight calls may take to finish, and supervised processes to exit before SIGKILL.",
      valueName: "duration"))
  var shutdownGrace = DurationArgument("5s")

  @Option(
    name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
  var logLevel = Logger.Level.info

  @Option(
    name: .customLong("log-format"),
    help: "text (one line per record, [component] first) or json (one object per line).")
  var logFormat = SidecarLogHandler.Format.text

  @Option(
    name: .customLong("component-log-level"),
    help:
      "The level components' own logs are forwarded from, until POST /actuator/logger changes it.")
  var componentLogLevel = Logger.Level.info

  /// `--transport`, else `APIARY_TRANSPORT`, else the default; a bad value names its source.
  func resolvedTransport(environment: [String: String]) throws -> TransportKind {
    if let transport { return transport }
    if let value = environment["APIARY_TRANSPORT"], !value.isEmpty {
      guard let kind = TransportKind(rawValue: value.lowercased()) else {
        throw ValidationError("APIARY_TRANSPORT '\(value)' is not core or nio")
      }
      return kind
    }
    return .default
  }

  /// `--allowed-component-uids`: nil for `any`, else the set (default: apiary's own uid).
  func resolvedComponentUIDs() throws -> Set<UInt32>? {
    try ComponentUIDs.parse(allowedComponentUIDs)
  }

  /// What ArgumentParser's types cannot say: ranges, and the environment's values.
  func validate() throws {
    _ = try resolvedComponentUIDs()
    guard failureThreshold >= 1 else {
      throw ValidationError("--failure-threshold must be at least 1")
    }
    _ = try resolvedTransport(environment: ProcessInfo.processInfo.environment)
    guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
    guard maxMetadataEntries >= 0 else {
      throw ValidationError("--max-metadata-entries must not be negative")
    }
    for (flag, port) in [
      ("--grpc-port", grpcPort), ("--http-port", httpPort), ("--app-port", appPort),
      ("--actuator-port", actuatorPort),
    ] {
      if let port, !(0...65535).contains(port) {
        throw ValidationError("\(flag) \(port) is not a port number")
      }
    }
  }

  func run() async throws {
    let logging = bootstrapLogging()
    let logger = logging.sidecar
    let environment = ProcessInfo.processInfo.environment
    let settings = try loadSettings()
    let modules = settings.modules
    let options = try sidecarOptions(environment: environment, logger: logger)
    let logHub =
      modules.logForwarding
      ? ComponentLogHub(logger: logging.components, defaultLevel: componentLogLevel) : nil
    let supervisor = makeSupervisor(
      settings: settings, options: options, environment: environment, logHub: logHub, logger: logger
    )
    let metrics = try makeMetrics(settings: settings, logger: logger)
    let tracing = try makeTracing(
      settings: settings, environment: environment, metricsOn: metrics.on, logger: logger)
    // Every file is read and checked before any port opens or process starts.
    let (resources, policies) = try orExit { () throws -> (LoadedResources, ResiliencyPolicies) in
      let resources = try Sidecar.prepare(options: options, logger: logger)
      let policies = try ResiliencyPolicies(
        documents: resources.resiliency, components: resources.components, logger: logger)
      return (resources, policies)
    }
    for section in settings.dapr.unsupportedSections {
      logger.notice("Configuration: spec.\(section) is not supported by apiary and is not applied")
    }
    let socketsFolder = options.socketsDir
    let sidecar = Sidecar(
      options: options, logger: logger, resources: resources, supervisor: supervisor, logHub: logHub
    ) { components in
      FileHandle.standardOutput.write(
        Data(StartupTable(components: components, socketsDir: socketsFolder).render().utf8))
    }
    let ports = try resolvedPorts(environment: environment)
    try checkPortsAreFree(ports: ports, modules: modules)
    let groupBox = Mutex<ServiceGroup?>(nil)
    let api = AppAPI(
      registry: sidecar.registry, options: apiOptions(settings: settings, environment: environment),
      policies: policies,
      observability: Observability(tracer: tracing.tracer, metrics: metrics.api)
    ) {
      guard let group = groupBox.withLock({ $0 }) else { return }
      Task { await group.triggerGracefulShutdown() }
    }
    let actuator =
      modules.actuator
      ? Actuator(
        api: api, supervisor: supervisor, logHub: logHub, sidecarLevel: logging.sidecarLevel,
        showMetadataValues: actuatorShowMetadataValues) : nil
    // Shut down in reverse: the APIs stop taking calls, delivery stops, then the
    // components close and the supervised processes stop. The exporter starts first
    // and stops last, after the APIs and deliveries have ended their spans: what is
    // queued then is flushed on the way out.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
    if let export = tracing.export { services.append(.init(service: export)) }
    services.append(.init(service: sidecar))
    if let delivery = try appDelivery(api: api, transport: options.transport, logger: logger) {
      services.append(.init(service: delivery))
    }
    services.append(.init(service: OutboxRelay(api: api, logger: logger)))
    if modules.grpcApi {
      services.append(
        .init(
          service: GRPCAPIServer(
            api: api, host: listenAddress, port: ports.grpc, logger: logger,
            grace: options.shutdownGrace,
            transport: options.transport, maxConnections: maxConnections,
            idleTimeout: grpcIdleTimeout.duration)))
    } else {
      logger.notice("modules.grpcApi is off: no gRPC API on port \(ports.grpc)")
    }
    services += httpServers(
      api: api, port: ports.http, modules: modules, actuator: actuator, metrics: metrics.endpoint,
      grace: options.shutdownGrace, logger: logger
    ).map { .init(service: $0) }
    try await runGroup(
      services: services, grace: options.shutdownGrace, groupBox: groupBox, logger: logger)
  }

  // MARK: the pieces run() composes

  /// The `--config` files, or the defaults when none is given (a bad file exits 1).
  private func loadSettings() throws -> ApiaryConfig {
    try orExit {
      resourceOptions.config.isEmpty
        ? ApiaryConfig() : try ApiaryConfig.load(paths: resourceOptions.config)
    }
  }

  /// The sidecar's records follow --log-level (changeable through /actuator/logger);
  /// component records pass whatever it says, since their own level, per component,
  /// already filtered them in the log hub.
  private func bootstrapLogging() -> (
    sidecar: Logger, components: Logger, sidecarLevel: LogLevelSetting
  ) {
    let sidecarLevel = LogLevelSetting(logLevel)
    let everything = LogLevelSetting(.trace)
    let format = logFormat
    LoggingSystem.bootstrap { label in
      SidecarLogHandler(
        format: format, level: label == "apiary.components" ? everything : sidecarLevel)
    }
    return (Logger(label: "apiary"), Logger(label: "apiary.components"), sidecarLevel)
  }

  /// The runtime's options from the flags; refuses a sockets folder others can write to
  /// unless --allow-insecure-sockets-dir says otherwise.
  private func sidecarOptions(
    environment: [String: String], logger: Logger
  ) throws -> SidecarOptions {
    var options = SidecarOptions(
      resourcesPaths: resourceOptions.folders,
      socketsDir: SocketsFolder.resolve(
        explicit: resourceOptions.socketsDir, environment: environment),
      appID: resourceOptions.appID, discoveryTimeout: discoveryTimeout.duration,
      componentWait: componentWait.duration,
      rescanInterval: rescanInterval.duration, environment: environment,
      heartbeatInterval: heartbeatInterval.duration, heartbeatTimeout: heartbeatTimeout.duration,
      failureThreshold: failureThreshold)
    options.watchMode = socketWatch.mode
    options.transport = try resolvedTransport(environment: environment)
    options.allowedComponentUIDs = try resolvedComponentUIDs()
    options.callTimeout = callTimeout.duration
    options.shutdownGrace = shutdownGrace.duration
    // Whoever can write to the sockets folder can put a socket there that apiary dials.
    if let problem = SocketsFolderTrust.prepare(options.socketsDir) {
      guard allowInsecureSocketsDir else {
        FileHandle.standardError.write(
          Data("error: \(problem). Pass --allow-insecure-sockets-dir to run anyway.\n".utf8))
        throw ExitCode(1)
      }
      logger.warning("\(problem); running anyway because of --allow-insecure-sockets-dir")
    }
    return options
  }

  private func makeSupervisor(
    settings: ApiaryConfig, options: SidecarOptions, environment: [String: String],
    logHub: ComponentLogHub?,
    logger: Logger
  ) -> ProcessSupervisor? {
    guard !settings.processes.isEmpty else { return nil }
    guard settings.modules.supervision else {
      logger.notice(
        "modules.supervision is off: the \(settings.processes.count) processes of \(resourceOptions.config.joined(separator: ", ")) are not launched"
      )
      return nil
    }
    return ProcessSupervisor(
      processes: settings.processes, socketsDir: options.socketsDir, environment: environment,
      logHub: logHub,
      logger: logger)
  }

  /// Metrics: the metrics module and spec.metrics.enabled must both be on; off,
  /// nothing is bootstrapped, no call path records anything and /metrics is not served.
  private func makeMetrics(
    settings: ApiaryConfig, logger: Logger
  ) throws -> (on: Bool, endpoint: MetricsEndpoint?, api: APIMetrics?) {
    let daprMetrics = settings.dapr.metrics
    let on = settings.modules.metrics && daprMetrics.enabled
    if settings.modules.metrics && !daprMetrics.enabled {
      logger.notice(
        "Configuration: spec.metrics.enabled is false: no metrics are recorded and /metrics answers 404"
      )
    }
    ComponentMetrics.isEnabled = on
    guard on else { return (false, nil, nil) }
    let registry = PrometheusCollectorRegistry()
    var prometheus = PrometheusMetricsFactory(registry: registry)
    // Component calls over a local socket take tens of microseconds to milliseconds;
    // spec.metrics.latencyDistributionBuckets (milliseconds) replaces these.
    prometheus.defaultDurationHistogramBuckets =
      daprMetrics.latencyBuckets.isEmpty
      ? [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .microseconds(2_500_000), .seconds(5),
        .seconds(10),
      ]
      : daprMetrics.latencyBuckets.sorted().map {
        Duration.microseconds(Int64(($0 * 1000).rounded()))
      }
    let rules = try orExit { try MetricLabelRules(daprMetrics.rules) }
    if rules.isEmpty {
      MetricsSystem.bootstrap(prometheus)
    } else {
      MetricsSystem.bootstrap(RuleApplyingMetricsFactory(wrapping: prometheus, rules: rules))
    }
    return (
      true, MetricsEndpoint(registry: registry),
      APIMetrics(appID: resourceOptions.appID, recordErrorCodes: daprMetrics.recordErrorCodes)
    )
  }

  /// Tracing: on when spec.tracing (or OTEL_EXPORTER_OTLP_*) names an exporter and the
  /// sampling rate is not 0; off, no span is made and no exporter runs.
  private func makeTracing(
    settings: ApiaryConfig, environment: [String: String], metricsOn: Bool, logger: Logger
  ) throws -> (tracer: SidecarTracer?, export: (any Service)?) {
    let tracing = try orExit {
      try TracingSettings.resolve(settings.dapr.tracing, environment: environment)
    }
    for notice in tracing.notices { logger.notice("Configuration: \(notice)") }
    guard tracing.isEnabled else { return (nil, nil) }
    var backend: (any Tracer)?
    var export: (any Service)?
    if let exporter = tracing.exporter {
      let drops = SpanDropReporter(
        logger: logger, collector: exporter.url, countInMetrics: metricsOn)
      do {
        let started = try OTelExport.start(
          exporter: exporter, serviceName: resourceOptions.appID, environment: environment,
          drops: drops,
          logger: logger)
        backend = started.tracer
        export = started.service
      } catch {
        FileHandle.standardError.write(
          Data("error: spec.tracing.otel: cannot export to \(exporter.url): \(error)\n".utf8))
        throw ExitCode(1)
      }
    }
    let tracer = SidecarTracer(
      sampler: tracing.sampler, backend: backend, stdout: tracing.stdout ? logger : nil,
      countSpans: metricsOn)
    let destination =
      tracing.exporter.map { "OTLP/\($0.protocol.rawValue) to \($0.url)" } ?? "no exporter"
    logger.info(
      "tracing on: sampling rate \(tracing.samplingRate), \(destination)\(tracing.stdout ? ", spans logged (stdout)" : "")"
    )
    return (tracer, export)
  }

  /// A port in use is named with its flag now, before anything starts.
  private func checkPortsAreFree(
    ports: (grpc: Int, http: Int), modules: ApiaryConfig.Modules
  ) throws {
    var listened: [(String, Int)] = []
    if modules.grpcApi { listened.append(("--grpc-port", ports.grpc)) }
    if let actuatorPort, modules.actuator || modules.metrics {
      listened.append(("--actuator-port", actuatorPort))
    }
    if modules.httpApi || (actuatorPort == nil && (modules.actuator || modules.metrics)) {
      listened.append(("--http-port", ports.http))
    }
    for (flag, port) in listened where port != 0 {
      if let problem = PortCheck.problem(host: listenAddress, port: port) {
        FileHandle.standardError.write(
          Data(
            "error: cannot listen on \(listenAddress):\(port) (\(flag)): \(problem); choose another port with \(flag)\n"
              .utf8))
        throw ExitCode(1)
      }
    }
  }

  private func apiOptions(settings: ApiaryConfig, environment: [String: String]) -> AppAPIOptions {
    var options = AppAPIOptions(
      appID: resourceOptions.appID, maxBodySize: maxBodySize.bytes,
      apiToken: APIToken.from(environment: environment),
      appPort: appPort, appProtocol: appProtocol.rawValue)
    options.maxMetadataEntries = maxMetadataEntries
    options.maxMetadataBytes = maxMetadataSize.bytes
    options.configuration = settings.dapr
    return options
  }

  /// Delivery of events to the app, when --app-port names it.
  private func appDelivery(
    api: AppAPI, transport: TransportKind, logger: Logger
  ) throws -> AppDelivery? {
    guard let appPort else { return nil }
    let channel: any AppChannel =
      appProtocol == .grpc
      ? try GRPCAppChannel(port: appPort, transport: transport)
      : HTTPAppChannel(port: appPort, appID: resourceOptions.appID, logger: logger)
    let app = "the app (\(appProtocol.rawValue) on 127.0.0.1:\(appPort))"
    return AppDelivery(api: api, channel: channel, logger: logger, app: app)
  }

  /// The HTTP servers: the Dapr API on --http-port, and the actuator and /metrics on it
  /// too, or on --actuator-port of their own.
  private func httpServers(
    api: AppAPI, port: Int, modules: ApiaryConfig.Modules, actuator: Actuator?,
    metrics: MetricsEndpoint?,
    grace: Duration, logger: Logger
  ) -> [HTTPAPIServer] {
    func server(port: Int, daprRoutes: Bool, operations: Bool) -> HTTPAPIServer {
      HTTPAPIServer(
        api: api, host: listenAddress, port: port, logger: logger, daprRoutes: daprRoutes,
        actuator: operations ? actuator : nil, metrics: operations ? metrics : nil, grace: grace,
        idleTimeout: httpIdleTimeout.duration, maxConnections: maxConnections)
    }
    let operations = actuator != nil || metrics != nil
    if let actuatorPort, operations {
      let api = modules.httpApi ? [server(port: port, daprRoutes: true, operations: false)] : []
      return [server(port: actuatorPort, daprRoutes: false, operations: true)] + api
    }
    if modules.httpApi || operations {
      return [server(port: port, daprRoutes: modules.httpApi, operations: true)]
    }
    logger.notice("modules httpApi, actuator and metrics are off: nothing listens on port \(port)")
    return []
  }

  private func runGroup(
    services: [ServiceGroupConfiguration.ServiceConfiguration], grace: Duration,
    groupBox: borrowing Mutex<ServiceGroup?>,
    logger: Logger
  ) async throws {
    var configuration = ServiceGroupConfiguration(
      services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    // A backstop: the servers drain for at most `grace` and the processes get `grace`
    // before SIGKILL, so a shutdown that takes much longer is stuck somewhere.
    configuration.maximumGracefulShutdownDuration = grace * 2 + .seconds(10)
    let group = ServiceGroup(configuration: configuration)
    groupBox.withLock { $0 = group }
    do {
      try await group.run()
    } catch {
      // A service's own error comes out as it was thrown; ServiceGroupError says
      // what went wrong with the group itself.
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }

  /// The API ports: the flags, else `DAPR_GRPC_PORT` / `DAPR_HTTP_PORT`, else 50001 / 3500.
  func resolvedPorts(environment: [String: String]) throws -> (grpc: Int, http: Int) {
    func port(_ flag: Int?, _ variable: String, _ fallback: Int) throws -> Int {
      if let flag { return flag }
      guard let text = environment[variable], !text.isEmpty else { return fallback }
      guard let value = Int(text), (0...65535).contains(value) else {
        throw ValidationError("\(variable)='\(text)' is not a port number")
      }
      return value
    }
    return (try port(grpcPort, "DAPR_GRPC_PORT", 50001), try port(httpPort, "DAPR_HTTP_PORT", 3500))
  }

  /// `body`'s value; what it throws is printed as `error: …` and apiary exits 1 (a
  /// file or setting that is wrong names itself in the error).
  private func orExit<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }
}
