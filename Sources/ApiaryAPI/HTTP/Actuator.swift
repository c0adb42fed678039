import ApiaryRuntime
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus

/// The operator's endpoints on the HTTP port, in Layotto's shapes:
///
/// - `GET /actuator/health/liveness`: the sidecar process itself; 200 while it serves.
/// - `GET /actuator/health/readiness`: 200 when UP; 503 while starting (INIT) or while
///   a component without `ignoreErrors` is not UP (DOWN).
/// - `GET /actuator/info`: `{"app": {"name", "version", "compiled"}}`.
/// - `GET /actuator/components`: every component with its full detail.
/// - `GET /actuator/logs?component=NAME&limit=100&level=warning`: a component's recent
///   log records; `GET /actuator/logs/stream?component=NAME`: live, as Server-Sent
///   Events.
/// - `GET /actuator/logger`, `POST /actuator/logger {"component", "level"}`: the log
///   levels, changed at run time (`apiary` or empty: the sidecar itself).
/// - `GET /metrics`: Prometheus text (``MetricsEndpoint``).
///
/// With an API token set, the two probes answer without it (kubelets carry no
/// secrets) but then show the status alone; their details (components, types,
/// sockets, reasons, pid) need the token, as every other route here does.
public struct Actuator: Sendable {
  let api: AppAPI
  let logHub: ComponentLogHub?
  /// The supervised process and log source behind each component.
  let processes: ComponentProcesses
  let sidecarLevel: LogLevelSetting?
  let showMetadataValues: Bool
  let startedAt = Date()

  /// - Parameter showMetadataValues: Whether `/actuator/components` shows the literal
  ///   values of the components' metadata (`--actuator-show-metadata-values`); by
  ///   default it shows their names only. Values from `envRef` and `secretKeyRef` are
  ///   never shown.
  public init(
    api: AppAPI, supervisor: ProcessSupervisor?, logHub: ComponentLogHub? = nil,
    sidecarLevel: LogLevelSetting? = nil,
    showMetadataValues: Bool = false
  ) {
    self.api = api
    self.logHub = logHub
    self.processes = ComponentProcesses(
      registry: api.registry, supervisor: supervisor, logHub: logHub)
    self.sidecarLevel = sidecarLevel
    self.showMetadataValues = showMetadataValues
  }

  /// The paths that answer without the API token: the probes, status only.
  static let openPaths: Set<String> = ["/actuator/health/liveness", "/actuator/health/readiness"]

  /// What a redacted value reads as.
  static let redacted = "******"

  /// Whether `request` may see details: no token is set, or it carries the token.
  func mayShowDetails(_ request: Request) -> Bool {
    guard let token = api.options.apiToken else { return true }
    return APIToken(token).accepts(HTTPField.Name(APIToken.header).flatMap { request.headers[$0] })
  }

  func addRoutes(to router: Router<BasicRequestContext>) {
    let actuator = self
    router.get("/actuator/health/liveness") { request, _ in
      HTTPResponses.json(encoding: actuator.liveness(details: actuator.mayShowDetails(request)))
    }
    router.get("/actuator/health/readiness") { request, _ in
      let (readiness, body) = await actuator.readiness(details: actuator.mayShowDetails(request))
      return HTTPResponses.json(
        encoding: body, status: readiness == .up ? .ok : .serviceUnavailable)
    }
    router.get("/actuator/info") { _, _ in HTTPResponses.json(encoding: actuator.info()) }
    router.get("/actuator/components") { _, _ in
      HTTPResponses.json(encoding: await actuator.components())
    }
    router.get("/actuator/logs") { request, _ in
      await Self.respond { try await actuator.logs(request.uri.queryParameters) }
    }
    router.get("/actuator/logs/stream") { request, _ in
      await Self.respond { try await actuator.logStream(request.uri.queryParameters) }
    }
    router.get("/actuator/logger") { _, _ in HTTPResponses.json(encoding: actuator.levels()) }
    router.post("/actuator/logger") { request, _ in
      await Self.respond {
        let change = try await request.decodedBody(
          ActuatorBody.LevelChange.self, limit: 65536, shapeProblem: Self.levelChangeShape,
          notJSON: Self.levelChangeShape)
        return try await actuator.setLevel(change)
      }
    }
  }

  private static let levelChangeShape = DaprError(
    .invalidArgument, "ERR_MALFORMED_REQUEST",
    #"the body must be a JSON object like {"component": "memstore", "level": "debug"}"#)

  private static func respond(_ body: () async throws -> Response) async -> Response {
    do {
      return try await body()
    } catch let error as DaprError {
      return error.httpResponse
    } catch {
      return DaprError(.failed, "ERR_INTERNAL", "\(error)").httpResponse
    }
  }

  /// The log source of `name`: a source the hub knows, or that of the configured
  /// component `name`.
  func logSource(_ name: String?) async throws(DaprError) -> (hub: ComponentLogHub, source: String)
  {
    guard let logHub else {
      throw DaprError(
        .notFound, "ERR_LOGS_OFF", "log forwarding is off (modules.logForwarding: false)")
    }
    guard let name, !name.isEmpty else {
      throw DaprError(
        .invalidArgument, "ERR_MALFORMED_REQUEST", "the query parameter 'component' is required")
    }
    guard let source = await processes.logSource(named: name) else {
      throw DaprError(
        .notFound, "ERR_COMPONENT_NOT_FOUND",
        "no logs for component '\(name)': it is not configured, or it neither serves ComponentLogs nor is supervised"
      )
    }
    return (logHub, source)
  }

  static func level(_ text: String, field: String) throws(DaprError) -> Logger.Level {
    guard let level = Logger.Level(loose: text) else {
      throw DaprError(
        .invalidArgument, "ERR_MALFORMED_REQUEST",
        "\(field) '\(text)' is not one of trace, debug, info, notice, warn, error, fatal")
    }
    return level
  }

  func logs(_ query: Parameters) async throws -> Response {
    let (hub, source) = try await logSource(query["component"].map(String.init))
    var limit = 100
    if let text = query["limit"] {
      guard let value = Int(text), value >= 0 else {
        throw DaprError(
          .invalidArgument, "ERR_MALFORMED_REQUEST", "limit '\(text)' is not a non-negative number")
      }
      limit = value
    }
    let minimum = try query["level"].map { try Self.level(String($0), field: "level") } ?? .trace
    let records = hub.recent(source, limit: limit, minimum: minimum).map(ActuatorBody.Record.init)
    return HTTPResponses.json(encoding: ActuatorBody.Records(component: source, records: records))
  }

  /// Server-Sent Events: one `data:` line of JSON per record (slashes escaped, as
  /// Foundation writes them by default).
  static let streamEncoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
  }()

  func logStream(_ query: Parameters) async throws -> Response {
    let (hub, source) = try await logSource(query["component"].map(String.init))
    let records = hub.follow(source)
    var headers = HTTPFields()
    headers[.contentType] = "text/event-stream"
    headers[.cacheControl] = "no-cache"
    return Response(
      status: .ok, headers: headers,
      body: ResponseBody { writer in
        try await writer.write(ByteBuffer(string: ": following \(source)\n\n"))
        for await record in records {
          let data = (try? Self.streamEncoder.encode(ActuatorBody.Record(record))) ?? Data()
          try await writer.write(
            ByteBuffer(string: "data: \(String(decoding: data, as: UTF8.self))\n\n"))
        }
        try await writer.finish(nil)
      })
  }

  func levels() -> [String: String] {
    var levels: [String: String] = [:]
    for (source, entry) in logHub?.sources ?? [:] { levels[source] = entry.level.rawValue }
    if let sidecarLevel { levels["apiary"] = sidecarLevel.value.rawValue }
    return levels
  }

  func setLevel(_ change: ActuatorBody.LevelChange) async throws -> Response {
    let level = try Self.level(change.level, field: "level")
    if change.component.isEmpty || change.component == "apiary" {
      guard let sidecarLevel else {
        throw DaprError(
          .unimplemented, "ERR_NOT_SUPPORTED", "the sidecar's level cannot be changed here")
      }
      sidecarLevel.value = level
      return HTTPResponses.json(
        encoding: ActuatorBody.Level(component: "apiary", level: level.rawValue))
    }
    let (hub, source) = try await logSource(change.component)
    hub.setLevel(level, for: source)
    return HTTPResponses.json(
      encoding: ActuatorBody.Level(component: source, level: level.rawValue))
  }

  func liveness(details: Bool) -> ActuatorBody.Probe<ActuatorBody.Process> {
    guard details else { return ActuatorBody.Probe(status: "UP") }
    let process = ActuatorBody.Process(
      status: "UP",
      details: .init(
        pid: Int(ProcessInfo.processInfo.processIdentifier),
        uptimeSeconds: Int(Date().timeIntervalSince(startedAt))))
    return ActuatorBody.Probe(status: "UP", components: ["apiary": process])
  }

  func readiness(details: Bool) async -> (Readiness, ActuatorBody.Probe<ActuatorBody.Component>) {
    let readiness = await api.readiness
    guard details else { return (readiness, ActuatorBody.Probe(status: readiness.rawValue)) }
    var components: [String: ActuatorBody.Component] = [:]
    for status in await api.registry.all {
      components[status.name] = ActuatorBody.Component(
        status: status.state.rawValue,
        details: .init(
          type: status.type, socket: status.source,
          consecutiveFailures: status.consecutiveFailures,
          lastHeartbeat: .init(status.lastHeartbeat.map(Timestamp.string)),
          reason: .init(status.reason)))
    }
    return (readiness, ActuatorBody.Probe(status: readiness.rawValue, components: components))
  }

  func info() -> ActuatorBody.Info {
    ActuatorBody.Info(
      app: .init(name: "apiary", version: ApiaryVersion.current, compiled: .init(Self.compiled)))
  }

  /// Every component with everything the sidecar knows of it.
  func components() async -> [ActuatorBody.ComponentEntry] {
    var list: [ActuatorBody.ComponentEntry] = []
    for status in await api.registry.all {
      var entry = ActuatorBody.ComponentEntry(
        name: status.name, type: status.type, version: status.version,
        state: status.state.rawValue, socket: status.source, capabilities: status.capabilities,
        ignoreErrors: status.ignoreErrors, since: Timestamp.string(status.since),
        consecutiveFailures: status.consecutiveFailures, reason: .init(status.reason),
        lastHeartbeat: .init(status.lastHeartbeat.map(Timestamp.string)),
        metadata: shownMetadata(await api.registry.component(named: status.name)))
      if processes.mayHaveLogs(status) {
        if let source = await processes.logSource(of: status),
          let logs = logHub?.sources[source]
        {
          entry.logs = .source(name: source, level: logs.level.rawValue, dropped: logs.dropped)
        } else {
          entry.logs = ActuatorBody.ComponentEntry.Logs.none
        }
      }
      if let process = await processes.process(of: status) {
        entry.process = .init(
          state: process.state.rawValue, restarts: process.restarts,
          pid: .init(process.pid.map { Int($0) }), lastExit: .init(process.lastExit))
      }
      list.append(entry)
    }
    return list
  }

  /// A component's metadata as `/actuator/components` shows it: every name, with
  /// its value redacted unless ``showMetadataValues`` is set and the value was written
  /// in the component file (never one from `envRef` or `secretKeyRef`).
  func shownMetadata(_ component: InitializedComponent?) -> [String: String] {
    guard let component else { return [:] }
    var shown: [String: String] = [:]
    for (name, value) in component.metadata {
      let fromFile =
        !component.environmentKeys.contains(name) && !component.secretKeys.contains(name)
      shown[name] = showMetadataValues && fromFile ? value : Self.redacted
    }
    for name in component.secretKeys { shown[name] = Self.redacted }
    return shown
  }

  /// When the running executable was built: the modification time of its file
  /// (`/proc/self/exe` resolved first: the link itself is as old as the process).
  static let compiled: String? = {
    let manager = FileManager.default
    guard let path = try? manager.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
      let attributes = try? manager.attributesOfItem(atPath: path),
      let date = attributes[.modificationDate] as? Date
    else { return nil }
    return Timestamp.string(date)
  }()
}

/// `GET /metrics`: the Prometheus registry that swift-metrics was bootstrapped with,
/// plus `process_resident_memory_bytes` measured at each scrape.
public struct MetricsEndpoint: Sendable {
  let registry: PrometheusCollectorRegistry
  let residentMemory: Gauge

  public init(registry: PrometheusCollectorRegistry) {
    self.registry = registry
    residentMemory = registry.makeGauge(
      descriptor: MetricNameDescriptor(
        namespace: "process", metricName: "resident_memory", unitName: "bytes",
        helpText: "Resident memory size of the sidecar process in bytes."))
  }

  func addRoutes(to router: Router<BasicRequestContext>) {
    let endpoint = self
    router.get("/metrics") { _, _ in
      if let bytes = ProcessResources.residentMemoryBytes() {
        endpoint.residentMemory.set(Double(bytes))
      }
      var buffer: [UInt8] = []
      endpoint.registry.emit(into: &buffer)
      return HTTPResponses.bytes(
        Data(buffer), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
  }
}
