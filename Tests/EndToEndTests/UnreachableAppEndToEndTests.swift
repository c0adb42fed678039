import ApiaryTestSupport
import Foundation
import Testing

/// Events for an app that is not there: they wait and are retried, the outage is said
/// once at warning level and its end once, and the failed deliveries are counted.
@Suite("An unreachable app end to end", .serialized)
struct UnreachableAppEndToEndTests {
  @Test(
    "in-memory pub/sub, declarative subscription, nothing on the app port: every message arrives once the app starts; one warning, one return line, failures counted"
  )
  func messagesWaitForTheApp() async throws {
    let appPort = try freeTCPPort()
    // The fixture app answers SUCCESS on /steady every time.
    let subscription = """
      ---
      apiVersion: dapr.io/v2alpha1
      kind: Subscription
      metadata:
        name: waiting
      spec:
        pubsubname: pubsub
        topic: waiting
        routes:
          default: /steady

      """
    try await withE2E(extraResources: subscription, extraArguments: ["--app-port", "\(appPort)"]) {
      sidecar in
      // Ready means the declarative subscriptions are open: nothing published from
      // now on misses them.
      #expect(
        await poll(timeout: .seconds(30)) {
          await httpGet(port: sidecar.httpPort, "/v1.0/healthz")?.status == 204
        })
      let count = 20
      for index in 0..<count {
        let published = await httpRequest(
          port: sidecar.httpPort, "POST", "/v1.0/publish/pubsub/waiting",
          headers: ["Content-Type": "application/json"],
          body: Array(#"{"n": \#(index)}"#.utf8))
        #expect(published?.status == 204, "\(String(describing: published))")
      }
      let warned = await poll(timeout: .seconds(30)) {
        sidecar.apiary.standardError.contains("cannot be reached")
      }
      #expect(warned, "\(sidecar.apiary.standardError.suffix(3000))")
      let failures = await poll(timeout: .seconds(10)) {
        (await httpGet(port: sidecar.httpPort, "/metrics")?.body ?? "")
          .contains(
            #"apiary_app_delivery_failures_total{component="pubsub",outcome="unreachable"}"#)
      }
      #expect(failures)

      let app = try ChildProcess(
        Locations.python,
        [
          Locations.pythonFixture("e2e/http_app.py"), "--port", "\(appPort)", "--events",
          sidecar.folder.file("events.jsonl"),
        ])
      let delivered = await poll(timeout: .seconds(60)) {
        let succeeded = sidecar.appEvents().filter {
          $0["path"] as? String == "/steady" && $0["status"] as? String == "SUCCESS"
        }
        return Set(succeeded.compactMap { $0["id"] as? String }).count == count
      }
      #expect(
        delivered,
        "delivered: \(sidecar.appEvents().count) events\n\(sidecar.apiary.standardError.suffix(3000))"
      )
      let returned = await poll(timeout: .seconds(10)) {
        sidecar.apiary.standardError.contains("answers again after")
      }
      #expect(returned, "\(sidecar.apiary.standardError.suffix(3000))")
      let warnings = sidecar.apiary.standardError.split(separator: "\n").filter {
        $0.contains("cannot be reached")
      }
      #expect(warnings.count == 1, "\(warnings)")
      await app.stop()
    }
  }

  @Test(
    "in-memory pub/sub keeps nothing for a topic no subscription is open on: the message is dropped, counted and logged once"
  )
  func noSubscriberDropped() async throws {
    try await withE2E { sidecar in
      for _ in 0..<3 {
        let published = await httpRequest(
          port: sidecar.httpPort, "POST", "/v1.0/publish/pubsub/nobody-listens",
          headers: ["Content-Type": "application/json"],
          body: Array(#"{"n": 1}"#.utf8))
        #expect(published?.status == 204)
      }
      let metrics = await httpGet(port: sidecar.httpPort, "/metrics")?.body ?? ""
      #expect(
        metrics.contains(
          #"apiary_pubsub_dropped_total{component="pubsub",reason="no_subscriber"} 3"#),
        "\(metrics)")
      let warnings = sidecar.apiary.standardError.split(separator: "\n").filter {
        $0.contains("dropped a message of topic nobody-listens")
      }
      #expect(warnings.count == 1, "\(sidecar.apiary.standardError.suffix(2000))")
    }
  }
}
