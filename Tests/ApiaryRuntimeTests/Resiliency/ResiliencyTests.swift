import Foundation
import Logging
import Testing
import Yams

@testable import ApiaryRuntime

/// Resiliency documents, policy resolution, retries, timeouts and breakers (spec §5).
@Suite("resiliency")
struct ResiliencyTests {
  func parse(_ yaml: String, file: String = "r.yaml") throws -> ResiliencyDefinition {
    let fixture = try ResourceFixture()
    defer { fixture.remove() }
    try fixture.write(file, yaml)
    let resources = try fixture.loadResources()
    return try #require(resources.resiliency.first, "\(fixture.logs.messages(at: .error))")
  }

  static let document = """
    apiVersion: dapr.io/v1alpha1
    kind: Resiliency
    metadata:
      name: policies
    spec:
      policies:
        timeouts:
          quick: 500ms
          bare: 250
        retries:
          three: {policy: constant, duration: 10ms, maxRetries: 3}
          backoff:
            policy: exponential
            maxInterval: 2s
            matching: {httpStatusCodes: "429,500-599", gRPCStatusCodes: "14"}
          DefaultPubsubComponentInboundRetryPolicy: {duration: 1s, maxRetries: 2}
        circuitBreakers:
          breaker: {maxRequests: 1, timeout: 30s, trip: consecutiveFailures > 2}
      targets:
        components:
          orders:
            outbound: {timeout: quick, retry: three, circuitBreaker: breaker}
    """

  func definition(_ name: String, _ type: String) -> ComponentDefinition {
    ComponentDefinition(
      name: name, type: type, source: DefinitionSource(file: "c.yaml", document: 1))
  }

  @Test(
    "a document reads: durations (a bare integer is milliseconds), retries with matching codes, breakers, targets"
  )
  func parses() throws {
    let document = try parse(Self.document)
    #expect(document.timeouts == ["quick": .milliseconds(500), "bare": .milliseconds(250)])
    #expect(
      document.retries["three"]?.maxRetries == 3
        && document.retries["three"]?.duration == .milliseconds(10))
    #expect(
      document.retries["backoff"]?.exponential == true
        && document.retries["backoff"]?.httpStatusCodes == [429...429, 500...599])
    #expect(document.retries["backoff"]?.grpcStatusCodes == [14...14])
    #expect(document.circuitBreakers["breaker"]?.trip == "consecutiveFailures > 2")
    #expect(
      document.components["orders"]?.outbound?.retry == "three"
        && document.components["orders"]?.inbound == nil)
  }

  @Test(
    "resolution: a target wins for both directions; otherwise daprd's default names, most specific first"
  )
  func resolution() throws {
    let policies = try ResiliencyPolicies(
      documents: [try parse(Self.document)],
      components: [
        definition("orders", "state.redis"), definition("bus", "pubsub.redis"),
        definition("vault", "secretstores.x"),
      ],
      logger: Logger(label: "test"))
    let orders = try #require(policies.policy(component: "orders", direction: .outbound))
    #expect(
      orders.timeout == .milliseconds(500) && orders.retry?.maxRetries == 3
        && orders.breaker?.name == "breaker-orders")
    // A target with only outbound leaves inbound without any policy.
    #expect(policies.policy(component: "orders", direction: .inbound) == nil)
    #expect(policies.policy(component: "bus", direction: .inbound)?.retry?.maxRetries == 2)
    #expect(policies.policy(component: "bus", direction: .outbound) == nil)
    #expect(policies.policy(component: "vault", direction: .outbound) == nil)
  }

  @Test("a target naming no component or no policy refuses start-up, naming the file and the name")
  func unknownNames() throws {
    let document = try parse(
      Self.document.replacingOccurrences(of: "retry: three", with: "retry: four"))
    #expect(throws: ConfigurationError.self) {
      try ResiliencyPolicies(
        documents: [document], components: [definition("orders", "state.x")],
        logger: Logger(label: "t"))
    }
    do {
      _ = try ResiliencyPolicies(
        documents: [document], components: [definition("orders", "state.x")],
        logger: Logger(label: "t"))
    } catch {
      #expect(
        error.description.contains(
          "spec.targets.components.orders.outbound.retry names no retry policy 'four'"))
      #expect(error.description.contains("r.yaml, document 1"))
    }
    let orphan = try parse(Self.document)
    do {
      _ = try ResiliencyPolicies(
        documents: [orphan], components: [definition("other", "state.x")],
        logger: Logger(label: "t"))
      Issue.record("an unknown target was accepted")
    } catch {
      #expect(
        error.description.contains("spec.targets.components.orders names no configured component"))
    }
  }

  @Test(
    "a malformed document is skipped with an error naming the file and the field, as daprd skips it"
  )
  func malformed() throws {
    let fixture = try ResourceFixture()
    defer { fixture.remove() }
    try fixture.write(
      "bad.yaml",
      Self.document.replacingOccurrences(of: "policy: constant", with: "policy: sometimes"))
    let resources = try fixture.loadResources()
    #expect(resources.resiliency.isEmpty)
    #expect(
      fixture.logs.messages(at: .error).first?.contains(
        "bad.yaml, document 1: spec.policies.retries.three.policy 'sometimes' is not constant or exponential"
      ) == true,
      "\(fixture.logs.messages(at: .error))")
  }

  /// Fails `failures` times, then answers.
  final class Flaky: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    private(set) var calls = 0
    init(failures: Int) { remaining = failures }
    func call() throws -> String {
      lock.lock()
      defer { lock.unlock() }
      calls += 1
      if remaining > 0 {
        remaining -= 1
        throw ComponentCallError(
          .failed, "boom", status: .init(code: .unavailable, message: "boom"))
      }
      return "ok"
    }
  }

  func policy(
    retry: ResiliencyDefinition.Retry?, timeout: Duration? = nil, breaker: CircuitBreaker? = nil
  ) -> ComponentPolicy {
    ComponentPolicy(
      timeout: timeout, retry: retry, breaker: breaker, operation: "component[test] output",
      logger: Logger(label: "t"))
  }

  @Test("constant retries: maxRetries after the first try, then the last error")
  func retries() async throws {
    var retry = ResiliencyDefinition.Retry()
    retry.duration = .milliseconds(1)
    retry.maxRetries = 2
    let flaky = Flaky(failures: 2)
    #expect(try await policy(retry: retry).run { try flaky.call() } == "ok")
    #expect(flaky.calls == 3)
    let hopeless = Flaky(failures: 5)
    await #expect(throws: ComponentCallError.self) {
      try await policy(retry: retry).run { try hopeless.call() }
    }
    #expect(hopeless.calls == 3)
  }

  @Test("matching codes: a gRPC code outside the list is not retried; etag errors never are")
  func matching() async throws {
    var retry = ResiliencyDefinition.Retry()
    retry.duration = .milliseconds(1)
    retry.maxRetries = 5
    retry.grpcStatusCodes = [4...4]
    let flaky = Flaky(failures: 5)
    await #expect(throws: ComponentCallError.self) {
      try await policy(retry: retry).run { try flaky.call() }
    }
    #expect(flaky.calls == 1)
    let etag = Flaky(failures: 0)
    retry.grpcStatusCodes = []
    await #expect(throws: StateStoreError.self) {
      try await policy(retry: retry).run { () throws -> String in
        _ = try etag.call()
        throw StateStoreError.etagMismatch("m")
      }
    }
    #expect(etag.calls == 1)
  }

  @Test("a timeout ends an attempt with daprd's 'context deadline exceeded', and is retried")
  func timeouts() async throws {
    var retry = ResiliencyDefinition.Retry()
    retry.duration = .milliseconds(1)
    retry.maxRetries = 1
    let attempts = Flaky(failures: 0)
    let error = await #expect(throws: PolicyTimeout.self) {
      try await policy(retry: retry, timeout: .milliseconds(20)).run { () async throws -> String in
        _ = try attempts.call()
        try await Task.sleep(for: .seconds(10))
        return "late"
      }
    }
    #expect(error?.description == "context deadline exceeded")
    #expect(attempts.calls == 2)
  }

  @Test(
    "a breaker opens at its trip, refuses while open, lets one probe through half-open and closes on success"
  )
  func breaker() async throws {
    var settings = ResiliencyDefinition.CircuitBreaker()
    settings.trip = "consecutiveFailures > 1"
    settings.timeout = .milliseconds(100)
    let breaker = try CircuitBreaker(
      policyName: "cb", component: "orders", direction: .outbound, policy: settings,
      logger: Logger(label: "t"))
    let guarded = policy(retry: nil, breaker: breaker)
    let flaky = Flaky(failures: 2)
    for _ in 0..<2 {
      await #expect(throws: ComponentCallError.self) { try await guarded.run { try flaky.call() } }
    }
    #expect(breaker.state == .open)
    let refusal = await #expect(throws: CircuitBreaker.Refusal.self) {
      try await guarded.run { try flaky.call() }
    }
    #expect(refusal?.description == "circuit breaker is open")
    #expect(flaky.calls == 2)
    let halfOpen = await poll(timeout: .seconds(5)) { breaker.state == .halfOpen }
    #expect(halfOpen)
    #expect(try await guarded.run { try flaky.call() } == "ok")
    #expect(breaker.state == .closed)
  }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
private func poll(timeout: Duration, _ condition: () -> Bool) async -> Bool {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if condition() { return true }
    try? await Task.sleep(for: .milliseconds(10))
  }
  return condition()
}
