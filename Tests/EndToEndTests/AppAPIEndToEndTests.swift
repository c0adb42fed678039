import ApiaryTestSupport
import Foundation
import Testing

/// The Dapr API end to end: a real `apiary run` with real components, called by the
/// real Dapr Python SDK (and plain HTTP), delivering to real Python apps.
@Suite("App API end to end (Dapr Python SDK)", .serialized)
struct AppAPIEndToEndTests {
  @Test(
    "gRPC through the Dapr SDK: state, streaming subscription with RETRY then SUCCESS, bindings, secrets, metadata, SayHello, limits"
  )
  func sdk() async throws {
    try await withE2E { sidecar in
      try await sidecar.check(
        "sdk_checks.py",
        [
          "state", "pubsub_streaming", "publish_unknown", "binding", "secrets", "metadata",
          "say_hello", "too_large",
          "unimplemented",
        ])
      // The same state cases against the built-in store: one API path for both.
      try await sidecar.check("sdk_checks.py", ["state"], arguments: ["--store", "builtin-store"])
    }
  }

  @Test(
    "HTTP routes: state with bulk and transaction, publish, bindings, secrets, hello, health, metadata, limits"
  )
  func http() async throws {
    try await withE2E { sidecar in
      try await sidecar.check(
        "http_checks.py", ["state", "publish", "binding", "secrets", "hello", "health", "metadata"])
      try await sidecar.check("http_checks.py", ["state"], arguments: ["--store", "builtin-store"])
    }
  }

  @Test("the API token: required on gRPC and HTTP except health checks, accepted when right")
  func token() async throws {
    try await withE2E(token: "e2e-secret-token") { sidecar in
      try await sidecar.check("sdk_checks.py", ["token_required"])
      try await sidecar.check(
        "sdk_checks.py", ["token_accepted"], environment: ["DAPR_API_TOKEN": "e2e-secret-token"])
      try await sidecar.check("http_checks.py", ["token", "health"])
    }
  }

  @Test("a component that is not UP answers 503 / UNAVAILABLE at once")
  func notReady() async throws {
    try await withE2E(heartbeatInterval: "200ms") { sidecar in
      sidecar.memstore.signal(SIGKILL)
      let down = await poll(timeout: .seconds(20), every: .milliseconds(100)) {
        let result = try? await sidecar.http("GET", "/v1.0/metadata")
        return result?.body.contains(#""apiary.component.statestore.state":"DOWN""#) ?? false
      }
      #expect(
        down,
        "statestore never went DOWN after its process was killed:\n\(sidecar.apiary.standardError.suffix(2000))"
      )
      try await sidecar.check("sdk_checks.py", ["not_ready"])
      try await sidecar.check("http_checks.py", ["not_ready"])
    }
  }

  @Test(
    "an HTTP app gets the declarative subscription (RETRY then SUCCESS), a programmatic one and input binding events"
  )
  func httpApp() async throws {
    try await withE2E(app: .http) { sidecar in
      try await sidecar.check("http_checks.py", ["health"])
      // The built-in pub/sub keeps no messages for topics nobody subscribes to yet.
      try await waitForSubscriptions(sidecar, ["orders", "programmatic"])
      try await publish(sidecar, topic: "orders", body: #"{"order": 7}"#)
      try await publish(sidecar, topic: "programmatic", body: #"{"n": 1}"#)
      let delivered = await poll(timeout: .seconds(20), every: .milliseconds(100)) {
        let events = sidecar.appEvents()
        let orders = events.filter { $0["path"] as? String == "/orders" }
        let programmatic = events.filter { $0["path"] as? String == "/programmatic" }
        let bindings = events.filter { $0["path"] as? String == "/events" }
        return orders.count >= 2 && !programmatic.isEmpty && bindings.count >= 2
      }
      let events = sidecar.appEvents()
      #expect(delivered, "events delivered to the app: \(events)")
      let orders = events.filter { $0["path"] as? String == "/orders" }
      // The app answers RETRY the first time it sees an event id, SUCCESS after.
      #expect(orders.map { $0["status"] as? String } == ["RETRY", "SUCCESS"], "\(orders)")
      #expect(
        Set(orders.compactMap { $0["id"] as? String }).count == 1,
        "the retry must redeliver the same event: \(orders)")
      #expect(orders.allSatisfy { $0["content_type"] as? String == "application/cloudevents+json" })
      if let body = orders.first?["body"] as? String,
        let event = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
      {
        #expect(event["specversion"] as? String == "1.0")
        #expect(event["topic"] as? String == "orders")
        #expect(event["pubsubname"] as? String == "pubsub")
        #expect(event["source"] as? String == "e2e")
        #expect((event["data"] as? [String: Any])?["order"] as? Int == 7)
      } else {
        Issue.record("the /orders delivery is not a JSON CloudEvent: \(orders)")
      }
      let bindings = events.filter { $0["path"] as? String == "/events" }.compactMap {
        $0["body"] as? String
      }
      #expect(Set(bindings) == ["tick-1", "tick-2"], "input binding events: \(bindings)")
      // Nothing is delivered twice once the app said SUCCESS.
      try await Task.sleep(for: .seconds(1))
      #expect(sidecar.appEvents().filter { $0["path"] as? String == "/orders" }.count == 2)
    }
  }

  @Test(
    "a gRPC app (AppCallback) gets its programmatic subscription's events and input binding events")
  func grpcApp() async throws {
    try await withE2E(app: .grpc) { sidecar in
      try await waitForSubscriptions(sidecar, ["grpc-topic"])
      try await publish(sidecar, topic: "grpc-topic", body: #"{"g": 1}"#)
      let delivered = await poll(timeout: .seconds(20), every: .milliseconds(100)) {
        let events = sidecar.appEvents()
        return events.contains { $0["kind"] as? String == "topic" }
          && events.filter { $0["kind"] as? String == "binding" }.count >= 2
      }
      let events = sidecar.appEvents()
      #expect(delivered, "events delivered to the gRPC app: \(events)")
      let topic = events.first { $0["kind"] as? String == "topic" }
      #expect(topic?["topic"] as? String == "grpc-topic")
      #expect(topic?["pubsub_name"] as? String == "pubsub")
      #expect(topic?["data"] as? String == #"{"g":1}"#)
      #expect(topic?["data_content_type"] as? String == "application/json")
      #expect(topic?["path"] as? String == "/grpc-topic")
      let bindings = events.filter { $0["kind"] as? String == "binding" }
      #expect(Set(bindings.compactMap { $0["data"] as? String }) == ["tick-1", "tick-2"])
      #expect(bindings.allSatisfy { $0["name"] as? String == "events" })
    }
  }

  /// Waits until the metadata API lists subscriptions to every topic of `topics`.
  private func waitForSubscriptions(_ sidecar: E2EEnvironment, _ topics: [String]) async throws {
    let subscribed = await poll(timeout: .seconds(20), every: .milliseconds(100)) {
      guard
        let result = try? await sidecar.http("GET", "/v1.0/metadata"),
        let metadata = try? JSONSerialization.jsonObject(with: Data(result.body.utf8))
          as? [String: Any],
        let subscriptions = metadata["subscriptions"] as? [[String: Any]]
      else { return false }
      let listed = Set(subscriptions.compactMap { $0["topic"] as? String })
      return topics.allSatisfy(listed.contains)
    }
    #expect(
      subscribed,
      "the sidecar never subscribed to \(topics):\n\(sidecar.apiary.standardError.suffix(3000))")
  }

  private func publish(_ sidecar: E2EEnvironment, topic: String, body: String) async throws {
    let result = try await sidecar.http("POST", "/v1.0/publish/pubsub/\(topic)", json: body)
    #expect(result.status == 204, "publish to \(topic): \(result.status) \(result.body)")
  }
}
