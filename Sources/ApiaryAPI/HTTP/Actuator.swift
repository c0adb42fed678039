import ApiaryRuntime
import Foundation
import Hummingbird
import Prometheus

/// The operator's endpoints on the HTTP port, in Layotto's shapes:
///
/// - `GET /actuator/health/liveness`: the sidecar process itself; 200 while it serves.
/// - `GET /actuator/health/readiness`: 200 when UP; 503 while starting (INIT) or while
///   a component without `ignoreErrors` is not UP (DOWN).
/// - `GET /actuator/info`: `{"app": {"name", "version", "compiled"}}`.
/// - `GET /actuator/components`: every component with its full detail.
/// - `GET /metrics`: Prometheus text (``MetricsEndpoint``).
public struct Actuator: Sendable {
  let api: AppAPI
  let supervisor: ProcessSupervisor?
  let startedAt = Date()

  public init(api: AppAPI, supervisor: ProcessSupervisor?) {
    self.api = api
    self.supervisor = supervisor
  }

  /// The paths that answer without the API token: probes and info.
  static let openPaths: Set<String> = ["/actuator/health/liveness", "/actuator/health/readiness", "/actuator/info"]

  func addRoutes(to router: Router<BasicRequestContext>) {
    let actuator = self
    router.get("/actuator/health/liveness") { _, _ in HTTPResponses.json(actuator.liveness()) }
    router.get("/actuator/health/readiness") { _, _ in
      let (readiness, body) = await actuator.readiness()
      return HTTPResponses.json(body, status: readiness == .up ? .ok : .serviceUnavailable)
    }
    router.get("/actuator/info") { _, _ in HTTPResponses.json(actuator.info()) }
    router.get("/actuator/components") { _, _ in HTTPResponses.json(await actuator.components()) }
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
    let readiness = await api.registry.readiness
    var components: [String: Any] = [:]
    for status in await api.registry.all {
      var details: [String: Any] = [
        "type": status.type, "socket": status.source, "consecutiveFailures": status.consecutiveFailures,
      ]
      details["lastHeartbeat"] = status.lastHeartbeat.map(Self.timestamp) ?? NSNull()
      details["reason"] = status.reason ?? NSNull()
      components[status.name] = ["status": status.state.rawValue, "details": details]
    }
    return (readiness, ["status": readiness.rawValue, "components": components])
  }

  func info() -> [String: Any] {
    let app: [String: Any] = [
      "name": "apiary", "version": ApiaryVersion.current, "compiled": Self.compiled.map { $0 as Any } ?? NSNull(),
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
        "name": status.name, "type": status.type, "version": status.version, "state": status.state.rawValue,
        "socket": status.source, "capabilities": status.capabilities, "ignoreErrors": status.ignoreErrors,
        "since": Self.timestamp(status.since), "consecutiveFailures": status.consecutiveFailures,
      ]
      entry["reason"] = status.reason ?? NSNull()
      entry["lastHeartbeat"] = status.lastHeartbeat.map(Self.timestamp) ?? NSNull()
      entry["metadata"] = await api.registry.component(named: status.name)?.metadata ?? [:]
      if let process = bySocket[status.source] {
        var details: [String: Any] = ["state": process.state, "restarts": process.restarts]
        details["pid"] = process.pid.map { Int($0) } ?? NSNull()
        details["lastExit"] = process.lastExit ?? NSNull()
        entry["process"] = details
      }
      list.append(entry)
    }
    return list
  }

  static func timestamp(_ date: Date) -> String {
    date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
  }

  /// When the running executable was built: its file's modification time.
  static let compiled: String? = {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: "/proc/self/exe"),
      let date = attributes[.modificationDate] as? Date
    else { return nil }
    return timestamp(date)
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
      if let bytes = ProcessResources.residentMemoryBytes() { endpoint.residentMemory.set(Double(bytes)) }
      var buffer: [UInt8] = []
      endpoint.registry.emit(into: &buffer)
      return HTTPResponses.bytes(Data(buffer), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
  }
}
