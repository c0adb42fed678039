import ApiaryAPI
import ApiaryRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing

@Suite("HTTP API observability: label audit, error codes, trace headers")
struct HTTPObservabilityTests {
  let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

  func application(
    tracer: SidecarTracer?, registry: PrometheusCollectorRegistry, recordErrorCodes: Bool = true
  ) -> some ApplicationProtocol {
    let metrics = APIMetrics(
      factory: PrometheusMetricsFactory(registry: registry), appID: "audit-app",
      recordErrorCodes: recordErrorCodes)
    let api = AppAPI(
      registry: ComponentRegistry(),
      options: AppAPIOptions(appID: "audit-app", maxBodySize: 1 << 20),
      observability: Observability(tracer: tracer, metrics: metrics))
    return Application(router: HTTPAPI(api: api, logger: Logger(label: "test")).router())
  }

  func scrape(_ registry: PrometheusCollectorRegistry) -> String {
    var buffer: [UInt8] = []
    registry.emit(into: &buffer)
    return String(decoding: buffer, as: UTF8.self)
  }

  /// `name{labels} value` lines of `text` for metric family `name`, as label dictionaries.
  func series(_ text: String, _ name: String) -> [[String: String]] {
    let pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/
    return text.split(separator: "\n").filter { $0.hasPrefix(name + "{") }.map { line in
      var labels: [String: String] = [:]
      for match in line.matches(of: pair) { labels[String(match.1)] = String(match.2) }
      return labels
    }
  }

  @Test("keys, topics and secret names never reach a label: routes are patterns, statuses codes")
  func labelAudit() async throws {
    let registry = PrometheusCollectorRegistry()
    let key = "key-\(UUID().uuidString.lowercased())"
    let topic = "topic-\(UUID().uuidString.lowercased())"
    let secret = "secret-\(UUID().uuidString.lowercased())"
    let store = "store-\(UUID().uuidString.lowercased())"
    try await application(tracer: nil, registry: registry).test(.router) { client in
      try await client.execute(uri: "/v1.0/state/\(store)/\(key)", method: .get) {
        #expect($0.status.code >= 400)
      }
      try await client.execute(
        uri: "/v1.0/state/statestore/\(key)?metadata.\(secret)=1", method: .delete
      ) { _ in }
      try await client.execute(
        uri: "/v1.0/publish/pubsub/\(topic)/more", method: .post, body: ByteBuffer(string: "x")
      ) {
        #expect($0.status.code >= 400)
      }
      try await client.execute(uri: "/v1.0/secrets/vault/\(secret)", method: .get) {
        #expect($0.status.code >= 400)
      }
      try await client.execute(uri: "/v1.0/\(key)/unknown", method: .get) {
        #expect($0.status == .notFound)
      }
      try await client.execute(uri: "/v1.0/healthz", method: .get) { _ in }
    }
    let text = scrape(registry)
    for unique in [key, topic, secret, store] {
      #expect(!text.contains(unique), "\(unique) appears in /metrics")
    }
    let requests = series(text, "apiary_http_server_requests_total")
    let routes = Set(requests.compactMap { $0["route"] })
    #expect(
      routes == [
        "/v1.0/state/{store}/{key}", "/v1.0/publish/{pubsub}/**", "/v1.0/secrets/{store}/{key}",
        "NotFound",
        "/v1.0/healthz",
      ], "\(routes)")
    for labels in requests + series(text, "apiary_http_server_request_duration_seconds_count") {
      #expect(Set(labels.keys) == ["method", "route", "status"])
      #expect(["GET", "POST", "DELETE"].contains(labels["method"] ?? ""))
      #expect(Int(labels["status"] ?? "") != nil)
    }
    let errors = series(text, "dapr_error_code_total")
    #expect(!errors.isEmpty)
    for labels in errors {
      #expect(Set(labels.keys) == ["app_id", "category", "error_code"])
      #expect(labels["error_code"]?.hasPrefix("ERR_") == true)
    }
    #expect(
      errors.contains {
        $0["category"] == "state" && $0["error_code"]?.hasPrefix("ERR_STATE_STORE_") == true
      }, "\(errors)")
    #expect(errors.contains { $0["category"] == "secret" }, "\(errors)")
    #expect(errors.contains { $0["category"] == "common" && $0["error_code"] == "ERR_NOT_FOUND" })
  }

  @Test("recordErrorCodes off: no dapr_error_code_total")
  func errorCodesOff() async throws {
    let registry = PrometheusCollectorRegistry()
    try await application(tracer: nil, registry: registry, recordErrorCodes: false).test(.router) {
      client in
      try await client.execute(uri: "/v1.0/state/nope/k", method: .get) {
        #expect($0.status.code >= 400)
      }
    }
    let text = scrape(registry)
    #expect(!text.contains("dapr_error_code_total"))
    #expect(text.contains("apiary_http_server_requests_total"))
  }

  @Test("tracing on: the answer carries the sidecar span's traceparent, in the caller's trace")
  func traceparentAnswered() async throws {
    let tracer = SidecarTracer(sampler: TraceSampler(rate: 1), backend: nil)
    try await application(tracer: tracer, registry: PrometheusCollectorRegistry()).test(.router) {
      client in
      try await client.execute(
        uri: "/v1.0/state/nope/k", method: .get,
        headers: [.init("traceparent")!: traceparent, .init("tracestate")!: "a=b"]
      ) { response in
        let answered = try #require(
          TraceContext(traceparent: response.headers[.init("traceparent")!]))
        #expect(answered.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(answered.spanID != "00f067aa0ba902b7")
        #expect(answered.isSampled)
        #expect(response.headers[.init("tracestate")!] == "a=b")
      }
      // Health checks are not traced, as daprd's are not.
      try await client.execute(
        uri: "/v1.0/healthz", method: .get, headers: [.init("traceparent")!: traceparent]
      ) {
        #expect($0.headers[.init("traceparent")!] == nil)
      }
    }
  }

  @Test("tracing off: no traceparent in answers")
  func tracingOff() async throws {
    try await application(tracer: nil, registry: PrometheusCollectorRegistry()).test(.router) {
      client in
      try await client.execute(
        uri: "/v1.0/state/nope/k", method: .get, headers: [.init("traceparent")!: traceparent]
      ) {
        #expect($0.headers[.init("traceparent")!] == nil)
      }
    }
  }
}
