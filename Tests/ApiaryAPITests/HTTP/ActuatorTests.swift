import ApiaryAPI
import ApiaryRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing

@Suite("actuator and metrics routes")
struct ActuatorTests {
  func application(token: String? = nil, daprRoutes: Bool = true) -> some ApplicationProtocol {
    let api = AppAPI(
      registry: ComponentRegistry(),
      options: AppAPIOptions(appID: "app", maxBodySize: 1024, apiToken: token))
    let registry = PrometheusCollectorRegistry()
    registry.makeCounter(
      descriptor: MetricNameDescriptor(
        metricName: "test_calls", unitName: "total", helpText: "test"),
      labels: [("component", "x")]
    ).increment(by: Int64(3))
    let router = HTTPAPI(api: api, logger: Logger(label: "test")).router(
      daprRoutes: daprRoutes, actuator: Actuator(api: api, supervisor: nil),
      metrics: MetricsEndpoint(registry: registry))
    return Application(router: router)
  }

  func json(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any]) ?? [:]
  }

  @Test("before start-up finishes: liveness 200 UP, readiness 503 INIT, healthz 500")
  func starting() async throws {
    try await application().test(.router) { client in
      try await client.execute(uri: "/actuator/health/liveness", method: .get) { response in
        #expect(response.status == .ok)
        #expect(json(response.body)["status"] as? String == "UP")
      }
      try await client.execute(uri: "/actuator/health/readiness", method: .get) { response in
        #expect(response.status == .serviceUnavailable)
        #expect(json(response.body)["status"] as? String == "INIT")
        #expect((json(response.body)["components"] as? [String: Any])?.isEmpty == true)
      }
      try await client.execute(uri: "/v1.0/healthz", method: .get) { response in
        #expect(response.status == .internalServerError)
        #expect(json(response.body)["errorCode"] as? String == "ERR_HEALTH_NOT_READY")
      }
    }
  }

  @Test("unknown paths and methods answer 404 with a JSON error body naming the method and path")
  func notFound() async throws {
    for token in [nil, "secret"] {
      try await application(token: token).test(.router) { client in
        for (method, path) in [
          (HTTPRequest.Method.get, "/nope"), (.delete, "/v1.0/healthz"), (.patch, "/v1.0/state/s"),
        ] {
          try await client.execute(
            uri: path, method: method, headers: [.init("dapr-api-token")!: "secret"]
          ) { response in
            #expect(response.status == .notFound, "\(method) \(path)")
            #expect(json(response.body)["errorCode"] as? String == "ERR_NOT_FOUND")
            #expect(
              (json(response.body)["message"] as? String)?.contains("\(method) \(path)") == true)
          }
        }
      }
    }
  }

  @Test("info names the app and its version; /metrics is Prometheus text with resident memory")
  func infoAndMetrics() async throws {
    try await application().test(.router) { client in
      try await client.execute(uri: "/actuator/info", method: .get) { response in
        let app = json(response.body)["app"] as? [String: Any]
        #expect(app?["name"] as? String == "apiary")
        #expect(app?["version"] as? String == ApiaryVersion.current)
        // The executable's build time: its file's modification time, not the start of
        // the process (what /proc/self/exe's own time would give).
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let built =
          try FileManager.default.attributesOfItem(atPath: executable)[.modificationDate] as? Date
        #expect(
          app?["compiled"] as? String == built.map(Timestamp.string), "\(String(describing: app))")
      }
      try await client.execute(uri: "/metrics", method: .get) { response in
        let text = String(buffer: response.body)
        #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(text.contains(#"test_calls_total{component="x"} 3"#))
        #expect(text.contains("# TYPE process_resident_memory_bytes gauge"))
        let resident = text.split(separator: "\n").first {
          $0.hasPrefix("process_resident_memory_bytes ")
        }
        #expect((resident?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 1_000_000)
      }
      try await client.execute(uri: "/actuator/components", method: .get) { response in
        #expect(response.status == .ok)
        #expect(String(buffer: response.body) == "[]")
      }
    }
  }

  @Test(
    "with a token: probes (status only) and metrics stay open; info, details and the component list need the token"
  )
  func token() async throws {
    try await application(token: "secret").test(.router) { client in
      for path in ["/actuator/health/liveness", "/actuator/health/readiness", "/metrics"] {
        try await client.execute(uri: path, method: .get) { response in
          #expect(response.status != .unauthorized, "\(path)")
        }
      }
      for path in ["/actuator/health/liveness", "/actuator/health/readiness"] {
        try await client.execute(uri: path, method: .get) { response in
          #expect(
            json(response.body).keys.sorted() == ["status"],
            "\(path): \(String(buffer: response.body))")
        }
        try await client.execute(
          uri: path, method: .get, headers: [.init("dapr-api-token")!: "secret"]
        ) { response in
          #expect(
            json(response.body)["components"] != nil, "\(path): \(String(buffer: response.body))")
        }
      }
      for path in ["/actuator/info", "/actuator/components", "/actuator/logs", "/actuator/logger"] {
        try await client.execute(uri: path, method: .get) { response in
          #expect(response.status == .unauthorized, "\(path)")
        }
      }
      try await client.execute(
        uri: "/actuator/logger", method: .post, body: ByteBuffer(string: #"{"level":"debug"}"#)
      ) {
        response in
        #expect(response.status == .unauthorized)
      }
      try await client.execute(
        uri: "/actuator/components", method: .get, headers: [.init("dapr-api-token")!: "secret"]
      ) {
        response in
        #expect(response.status == .ok)
      }
    }
  }

  @Test("with the httpApi module off the /v1.0 routes are gone and the actuator stays")
  func daprRoutesOff() async throws {
    try await application(daprRoutes: false).test(.router) { client in
      try await client.execute(uri: "/v1.0/metadata", method: .get) { response in
        #expect(response.status == .notFound)
      }
      try await client.execute(uri: "/actuator/health/liveness", method: .get) { response in
        #expect(response.status == .ok)
      }
    }
  }
}
