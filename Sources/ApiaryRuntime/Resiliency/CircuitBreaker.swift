import CoreMetrics
import Logging
import Synchronization

/// A circuit breaker as daprd's (gobreaker's) behaves: closed, it counts calls and
/// opens when its `trip` expression says so; open, it refuses every call for
/// `timeout`; half-open, it lets `maxRequests` calls through and closes after as many
/// successes, or opens again at the first failure.
///
/// Each change is logged as daprd logs it (`Circuit breaker "{name}" changed state from
/// closed to open`) and shown in `/metrics`:
/// `apiary_resiliency_breaker_state{component,direction,state}` (1 for the current
/// state) and `apiary_resiliency_breaker_transitions_total{component,direction,from,to}`.
public final class CircuitBreaker: Sendable {
  public enum State: String, Sendable, CaseIterable {
    case closed
    case halfOpen = "half-open"
    case open
  }

  /// Why a call was refused without being made: it stops retries.
  public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
  }

  /// daprd's name: `{policy}-{component}`.
  public let name: String
  let component: String
  let direction: ResiliencyDirection
  let policy: ResiliencyDefinition.CircuitBreaker
  private let trip: CELExpression
  private let logger: Logger

  private struct Counts {
    var requests: Int64 = 0
    var totalSuccesses: Int64 = 0
    var totalFailures: Int64 = 0
    var consecutiveSuccesses: Int64 = 0
    var consecutiveFailures: Int64 = 0
  }

  private struct Machine {
    var state: State = .closed
    var counts = Counts()
    /// When an open breaker turns half-open; when a closed one resets its counts.
    var until: ContinuousClock.Instant?
  }

  private let machine = Mutex(Machine())

  init(
    policyName: String, component: String, direction: ResiliencyDirection,
    policy: ResiliencyDefinition.CircuitBreaker, logger: Logger
  ) throws(ExpressionError) {
    name = "\(policyName)-\(component)"
    self.component = component
    self.direction = direction
    self.policy = policy
    trip = try CELExpression(policy.trip)
    self.logger = logger
    if policy.interval > .zero {
      let interval = policy.interval
      machine.withLock { $0.until = .now + interval }
    }
    show(.closed)
    // The transitions a breaker can make, at 0 until they happen, so dashboards and
    // alerts see the series from the start.
    let transitions: [(State, State)] = [
      (.closed, .open), (.open, .halfOpen), (.halfOpen, .closed), (.halfOpen, .open),
    ]
    for (from, to) in transitions { transitionCounter(from, to).increment(by: 0) }
  }

  /// The state now (an open breaker past its timeout is half-open).
  public var state: State {
    machine.withLock { machine in
      advance(&machine, now: .now).0
    }
  }

  /// Lets a call through, or refuses it.
  ///
  /// - Throws: ``Refusal`` `circuit breaker is open`, or `too many requests` while
  ///   half-open.
  func admit() throws(Refusal) {
    let (refusal, change) = machine.withLock { machine -> (Refusal?, (State, State)?) in
      let (_, change) = advance(&machine, now: .now)
      switch machine.state {
      case .open:
        return (Refusal(description: "circuit breaker is open"), change)
      case .halfOpen where machine.counts.requests >= Int64(policy.maxRequests):
        return (Refusal(description: "too many requests"), change)
      default:
        machine.counts.requests += 1
        return (nil, change)
      }
    }
    if let change { report(change) }
    if let refusal { throw refusal }
  }

  /// Records the outcome of a call that was let through.
  func record(success: Bool) {
    let change = machine.withLock { machine -> (State, State)? in
      let now = ContinuousClock.now
      if success {
        machine.counts.totalSuccesses += 1
        machine.counts.consecutiveSuccesses += 1
        machine.counts.consecutiveFailures = 0
        if machine.state == .halfOpen,
          machine.counts.consecutiveSuccesses >= Int64(policy.maxRequests)
        {
          return move(&machine, to: .closed, now: now)
        }
        return nil
      }
      machine.counts.totalFailures += 1
      machine.counts.consecutiveFailures += 1
      machine.counts.consecutiveSuccesses = 0
      switch machine.state {
      case .halfOpen:
        return move(&machine, to: .open, now: now)
      case .closed where tripped(machine.counts):
        return move(&machine, to: .open, now: now)
      default:
        return nil
      }
    }
    if let change { report(change) }
  }

  private func tripped(_ counts: Counts) -> Bool {
    let variables: [String: CELExpression.Value] = [
      "requests": .int(counts.requests), "totalSuccesses": .int(counts.totalSuccesses),
      "totalFailures": .int(counts.totalFailures),
      "consecutiveSuccesses": .int(counts.consecutiveSuccesses),
      "consecutiveFailures": .int(counts.consecutiveFailures),
    ]
    do {
      return try trip.isTrue(variables)
    } catch {
      logger.warning("circuit breaker \(name): trip '\(policy.trip)' cannot be evaluated: \(error)")
      return false
    }
  }

  /// Open past its timeout becomes half-open; closed past its interval starts counting
  /// anew. Returns the state and the change made, if any.
  private func advance(
    _ machine: inout Machine, now: ContinuousClock.Instant
  ) -> (State, (State, State)?) {
    guard let until = machine.until, now >= until else { return (machine.state, nil) }
    switch machine.state {
    case .open:
      let change = move(&machine, to: .halfOpen, now: now)
      return (machine.state, change)
    case .closed:
      machine.counts = Counts()
      machine.until = now + policy.interval
      return (machine.state, nil)
    case .halfOpen:
      return (machine.state, nil)
    }
  }

  private func move(
    _ machine: inout Machine, to state: State, now: ContinuousClock.Instant
  ) -> (State, State)? {
    let from = machine.state
    guard from != state else { return nil }
    machine.state = state
    machine.counts = Counts()
    switch state {
    case .open: machine.until = now + policy.timeout
    case .closed: machine.until = policy.interval > .zero ? now + policy.interval : nil
    case .halfOpen: machine.until = nil
    }
    return (from, state)
  }

  private func report(_ change: (State, State)) {
    logger.info(
      "Circuit breaker \"\(name)\" changed state from \(change.0.rawValue) to \(change.1.rawValue)",
      metadata: ["component": "\(component)", "direction": "\(direction.rawValue)"])
    transitionCounter(change.0, change.1).increment()
    show(change.1)
  }

  private func transitionCounter(_ from: State, _ to: State) -> Counter {
    Counter(
      label: "apiary_resiliency_breaker_transitions_total",
      dimensions: [
        ("component", component), ("direction", direction.rawValue), ("from", from.rawValue),
        ("to", to.rawValue),
      ])
  }

  private func show(_ current: State) {
    for state in State.allCases {
      Gauge(
        label: "apiary_resiliency_breaker_state",
        dimensions: [
          ("component", component), ("direction", direction.rawValue), ("state", state.rawValue),
        ]
      ).record(state == current ? 1 : 0)
    }
  }
}
