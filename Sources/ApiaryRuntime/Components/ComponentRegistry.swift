import Foundation

/// What the sidecar knows of one configured component, for tables, metadata and health.
public struct ComponentStatus: Sendable, Equatable {
  public var name: String
  public var type: String
  public var version: String
  /// "built-in", the socket path, or "" while unknown (PENDING).
  public var source: String
  public var state: ComponentState
  /// Why it is FAILED, DOWN or PENDING.
  public var reason: String?
  public var capabilities: [String]
  /// `spec.ignoreErrors`: readiness does not wait for this component.
  public var ignoreErrors: Bool = false
  /// When its socket last answered a heartbeat (nil for built-ins and before the first).
  public var lastHeartbeat: Date? = nil
  /// Failed heartbeats in a row.
  public var consecutiveFailures: Int = 0
  /// When it last changed state.
  public var since: Date = Date()
}

/// The sidecar's readiness, in Layotto's vocabulary: INIT while starting, DOWN while
/// a component that matters (no `ignoreErrors`) is not UP, else UP.
public enum Readiness: String, Sendable, Equatable {
  case up = "UP"
  case down = "DOWN"
  case initializing = "INIT"
}

/// The configured components by name: their state, and the live ones the API calls.
public actor ComponentRegistry {
  private var statuses: [String: ComponentStatus] = [:]
  private var live: [String: InitializedComponent] = [:]
  /// Names in the order they were configured.
  private var configured: [String] = []
  /// Names in the order they came UP, for closing in reverse.
  private var initialized: [String] = []
  /// How to initialise each pluggable component again, by name.
  private var restarts: [String: Restart] = [:]
  private var started = false
  /// Who waits in ``waitUntilStarted()``, woken by ``markStarted(subscriptions:)``.
  private var startWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
  private var nextWaiter: UInt64 = 0
  private var subscriptions: [SubscriptionDefinition] = []

  public init() {}

  /// Whether start-up has finished: every component that could start has been
  /// initialised (PENDING ones may still follow).
  public var isStarted: Bool { started }

  /// The declarative subscriptions of the resources folders, scoped to this app.
  public var declaredSubscriptions: [SubscriptionDefinition] { subscriptions }

  func markStarted(subscriptions: [SubscriptionDefinition]) {
    self.subscriptions = subscriptions
    started = true
    let waiters = startWaiters.values
    startWaiters.removeAll()
    for waiter in waiters { waiter.resume() }
  }

  /// Returns once start-up has finished; throws `CancellationError` when cancelled
  /// first (for example because start-up failed and the sidecar is stopping).
  public func waitUntilStarted() async throws {
    if started { return }
    nextWaiter += 1
    let id = nextWaiter
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { continuation in
        if started {
          continuation.resume()
        } else if Task.isCancelled {
          continuation.resume(throwing: CancellationError())
        } else {
          startWaiters[id] = continuation
        }
      }
    } onCancel: {
      Task { await self.stopWaiting(id) }
    }
  }

  private func stopWaiting(_ id: UInt64) {
    startWaiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
  }

  /// Records a configured component and its state.
  func record(
    _ definition: ComponentDefinition, state: ComponentState, source: String = "",
    reason: String? = nil
  ) {
    if statuses[definition.name] == nil { configured.append(definition.name) }
    statuses[definition.name] = ComponentStatus(
      name: definition.name, type: definition.type, version: definition.version, source: source,
      state: state,
      reason: reason, capabilities: [], ignoreErrors: definition.ignoreErrors)
    ComponentMetrics.state(of: definition.name, is: state)
  }

  /// Records a component that came UP.
  func up(_ component: InitializedComponent) {
    live[component.name] = component
    initialized.removeAll { $0 == component.name }
    initialized.append(component.name)
    if statuses[component.name] == nil { configured.append(component.name) }
    statuses[component.name] = ComponentStatus(
      name: component.name, type: component.type, version: component.version,
      source: component.source.description,
      state: .up, reason: nil, capabilities: component.capabilities,
      ignoreErrors: statuses[component.name]?.ignoreErrors ?? false)
    ComponentMetrics.state(of: component.name, is: .up)
  }

  /// Remembers how to initialise the pluggable component `name` again (same factory,
  /// same resolved metadata), for the heartbeat's recovery.
  func setRestart(_ name: String, _ restart: Restart) {
    restarts[name] = restart
  }

  /// The pluggable components that are UP or DOWN, grouped by socket.
  func pluggableSockets() -> [String: [RegisteredPluggable]] {
    var sockets: [String: [RegisteredPluggable]] = [:]
    for name in configured {
      guard let restart = restarts[name], let status = statuses[name],
        status.state == .up || status.state == .down
      else {
        continue
      }
      sockets[restart.channel.socketPath, default: []].append(
        RegisteredPluggable(
          name: name, type: status.type, state: status.state, kind: live[name]?.kind,
          channel: restart.channel,
          restart: restart))
    }
    return sockets
  }

  /// Marks `name` DOWN with `reason`; calls to it fail at once until it is UP again.
  func markDown(_ name: String, reason: String) {
    guard var status = statuses[name] else { return }
    if status.state != .down { status.since = Date() }
    status.state = .down
    status.reason = reason
    statuses[name] = status
    ComponentMetrics.state(of: name, is: .down)
  }

  /// Records the outcome of a heartbeat of `socket`: every component on it gets the
  /// time of the last answer and the count of failures in a row.
  func recordHeartbeat(socket: String, answered: Bool, consecutiveFailures: Int) {
    let now = Date()
    for name in configured where restarts[name]?.channel.socketPath == socket {
      guard var status = statuses[name] else { continue }
      if answered { status.lastHeartbeat = now }
      status.consecutiveFailures = consecutiveFailures
      statuses[name] = status
    }
  }

  /// The names of the UP components served by `socket`.
  func components(onSocket socket: String) -> [String] {
    configured.filter { restarts[$0]?.channel.socketPath == socket && statuses[$0]?.state == .up }
  }

  /// The sidecar's readiness: INIT until start-up has finished, DOWN while a
  /// component without `ignoreErrors` is not UP, else UP.
  public var readiness: Readiness {
    guard started else { return .initializing }
    let blocking = statuses.values.contains { !$0.ignoreErrors && $0.state != .up }
    return blocking ? .down : .up
  }

  /// Records that `name` was initialised again and is UP.
  func reinitialised(_ name: String, kind: ComponentKind, capabilities: [String]) {
    guard var component = live[name], var status = statuses[name] else { return }
    component.kind = kind
    component.capabilities = capabilities
    live[name] = component
    status.state = .up
    status.reason = nil
    status.capabilities = capabilities
    status.since = Date()
    statuses[name] = status
    ComponentMetrics.state(of: name, is: .up)
  }

  /// The live component `name`, if it is UP.
  public func component(named name: String) -> InitializedComponent? {
    guard statuses[name]?.state == .up else { return nil }
    return live[name]
  }

  /// The status of `name`, if it is configured.
  public func status(of name: String) -> ComponentStatus? { statuses[name] }

  /// Every configured component, in configuration order.
  public var all: [ComponentStatus] { configured.compactMap { statuses[$0] } }

  /// Closes every live component, in reverse order of initialisation.
  public func closeAll() async {
    for name in initialized.reversed() {
      if let component = live[name] { await component.close() }
    }
    live.removeAll()
    initialized.removeAll()
  }
}

/// How to initialise a pluggable component again.
struct Restart: Sendable {
  let channel: ComponentChannel
  let timeout: Duration
  let make: @Sendable () async throws -> (ComponentKind, [String])
}

/// A pluggable component as the heartbeat sees it.
struct RegisteredPluggable: Sendable {
  let name: String
  let type: String
  let state: ComponentState
  let kind: ComponentKind?
  let channel: ComponentChannel
  let restart: Restart
}
