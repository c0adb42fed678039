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
  let supervisor: ProcessSupervisor?
  let logHub: ComponentLogHub?
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
    self.supervisor = supervisor
    self.logHub = logHub
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
      let body = actuator.liveness()
      return HTTPResponses.json(
        actuator.mayShowDetails(request) ? body : ["status": body["status"] ?? "UP"])
    }
    router.get("/actuator/health/readiness") { request, _ in
      let (readiness, body) = await actuator.readiness()
      let shown = actuator.mayShowDetails(request) ? body : ["status": readiness.rawValue]
      return HTTPResponses.json(shown, status: readiness == .up ? .ok : .serviceUnavailable)
    }
    router.get("/actuator/info") { _, _ in HTTPResponses.json(actuator.info()) }
    router.get("/actuator/components") { _, _ in HTTPResponses.json(await actuator.components()) }
    router.get("/actuator/logs") { request, _ in
      await Self.respond { try await actuator.logs(request.uri.queryParameters) }
    }
    router.get("/actuator/logs/stream") { request, _ in
      await Self.respond { try await actuator.logStream(request.uri.queryParameters) }
    }
    router.get("/actuator/logger") { _, _ in HTTPResponses.json(actuator.levels()) }
    router.post("/actuator/logger") { request, _ in
      await Self.respond {
        let body = try await request.collectBody(limit: 65536)
        return try await actuator.setLevel(body)
      }
    }
  }

  private static func respond(_ body: () async throws -> Response) async -> Response {
    do {
      return try await body()
    } catch let error as DaprError {
      return error.httpResponse
    } catch {
      return DaprError(.failed, "ERR_INTERNAL", "\(error)").httpResponse
    }
  }

  /// The log source of `name`: a source the hub knows, or the socket of the
  /// configured component `name`.
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
    if logHub.sources[name] != nil { return (logHub, name) }
    if let socket = await api.registry.status(of: name)?.source,
      let source = await logSource(socket: socket)
    {
      return (logHub, source)
    }
    throw DaprError(
      .notFound, "ERR_COMPONENT_NOT_FOUND",
      "no logs for component '\(name)': it is not configured, or it neither serves ComponentLogs nor is supervised"
    )
  }

  /// The log source of the component process behind `socket`: the one its Tail
  /// stream feeds (named after the socket), else the supervised process serving it.
  func logSource(socket: String) async -> String? {
    guard let logHub, socket.hasPrefix("/") else { return nil }
    let byName = componentName(forSocketFileName: (socket as NSString).lastPathComponent)
    if logHub.sources[byName] != nil { return byName }
    if let process = await supervisor?.all.first(where: { $0.socket == socket }),
      logHub.sources[process.name] != nil
    {
      return process.name
    }
    return nil
  }

  static func level(_ text: String, field: String) throws(DaprError) -> Logger.Level {
    guard let level = Logger.Level(loose: text) else {
      throw DaprError(
        .invalidArgument, "ERR_MALFORMED_REQUEST",
        "\(field) '\(text)' is not one of trace, debug, info, notice, warn, error, fatal")
    }
    return level
  }

  static func json(_ record: ForwardedLogRecord) -> [String: Any] {
    [
      "time": Timestamp.string(record.time), "level": record.level.rawValue, "msg": record.message,
      "fields": record.fields,
    ]
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
    let records = hub.recent(source, limit: limit, minimum: minimum).map(Self.json)
    return HTTPResponses.json(["component": source, "records": records])
  }

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
          let data =
            (try? JSONSerialization.data(withJSONObject: Self.json(record), options: [.sortedKeys]))
            ?? Data()
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

  func setLevel(_ body: Data) async throws -> Response {
    guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
      let levelText = object["level"] as? String
    else {
      throw DaprError(
        .invalidArgument, "ERR_MALFORMED_REQUEST",
        #"the body must be a JSON object like {"component": "memstore", "level": "debug"}"#)
    }
    let level = try Self.level(levelText, field: "level")
    let name = object["component"] as? String ?? ""
    if name.isEmpty || name == "apiary" {
      guard let sidecarLevel else {
        throw DaprError(
          .unimplemented, "ERR_NOT_SUPPORTED", "the sidecar's level cannot be changed here")
      }
      sidecarLevel.value = level
      return HTTPResponses.json(["component": "apiary", "level": level.rawValue])
    }
    let (hub, source) = try await logSource(name)
    hub.setLevel(level, for: source)
    return HTTPResponses.json(["component": source, "level": level.rawValue])
  }

  func liveness() -> [String: Any] {
    [
      "status": "UP",
      "components": [
        "apiary": [
          "status": "UP",
          "details": [
            "pid": Int(ProcessInfo.processInfo.processIdentifier),
            "uptimeSeconds": Int(Date().timeIntervalSince(startedAt)),
          ] as [String: Any],
        ] as [String: Any]
      ],
    ]
  }

  func readiness() async -> (Readiness, [String: Any]) {
    let readiness = await api.readiness
    var components: [String: Any] = [:]
    for status in await api.registry.all {
      var details: [String: Any] = [
        "type": status.type, "socket": status.source,
        "consecutiveFailures": status.consecutiveFailures,
      ]
      details["lastHeartbeat"] = status.lastHeartbeat.map(Timestamp.string) ?? NSNull()
      details["reason"] = status.reason ?? NSNull()
      components[status.name] = ["status": status.state.rawValue, "details": details]
    }
    return (readiness, ["status": readiness.rawValue, "components": components])
  }

  func info() -> [String: Any] {
    let app: [String: Any] = [
      "name": "apiary", "version": ApiaryVersion.current,
      "compiled": Self.compiled.map { $0 as Any } ?? NSNull(),
    ]
    return ["app": app]
  }

  /// Every component with everything the sidecar knows of it.
  func components() async -> [[String: Any]] {
    let processes = await supervisor?.all ?? []
    var bySocket: [String: ProcessSupervisor.Status] = [:]
    for process in processes { bySocket[process.socket] = process }
    var list: [[String: Any]] = []
    for status in await api.registry.all {
      var entry: [String: Any] = [
        "name": status.name, "type": status.type, "version": status.version,
        "state": status.state.rawValue,
        "socket": status.source, "capabilities": status.capabilities,
        "ignoreErrors": status.ignoreErrors,
        "since": Timestamp.string(status.since), "consecutiveFailures": status.consecutiveFailures,
      ]
      entry["reason"] = status.reason ?? NSNull()
      entry["lastHeartbeat"] = status.lastHeartbeat.map(Timestamp.string) ?? NSNull()
      entry["metadata"] = shownMetadata(await api.registry.component(named: status.name))
      if let logHub, status.source.hasPrefix("/") {
        if let source = await logSource(socket: status.source), let logs = logHub.sources[source] {
          entry["logs"] =
            ["source": source, "level": logs.level.rawValue, "dropped": logs.dropped]
            as [String: Any]
        } else {
          entry["logs"] = "none"
        }
      }
      if let process = bySocket[status.source] {
        var details: [String: Any] = [
          "state": process.state.rawValue, "restarts": process.restarts,
        ]
        details["pid"] = process.pid.map { Int($0) } ?? NSNull()
        details["lastExit"] = process.lastExit ?? NSNull()
        entry["process"] = details
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
