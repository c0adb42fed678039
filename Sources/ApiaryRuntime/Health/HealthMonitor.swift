import ApiaryContracts
import ApiaryShared
import GRPCCore
import Logging

/// Heartbeats every component socket and heals what it finds.
///
/// Every `interval`, per socket: the contract's `Ping` when a component on it has one,
/// else `grpc.health.v1.Health/Check`, else a reflection listing; each within `timeout`.
/// After `failureThreshold` consecutive failures the socket's components go DOWN (the
/// API then fails their calls at once). When the socket answers again — its process
/// restarted — each component is initialised again with the same metadata and goes UP.
/// A component that answers "not initialised" (its process restarted between two
/// beats) is initialised again too. A socket whose file is gone fails its beats, even
/// if the old connection still answers. Each transition is logged once, with its reason.
public actor HealthMonitor {
  private let registry: ComponentRegistry
  private let interval: Duration
  private let timeout: Duration
  private let failureThreshold: Int
  private let logger: Logger
  private var failures: [String: Int] = [:]
  /// Sockets being checked now: a check the watcher asks for never overlaps a beat's.
  private var checking: Set<String> = []

  public init(
    registry: ComponentRegistry, interval: Duration = .seconds(2), timeout: Duration = .seconds(1),
    failureThreshold: Int = 3, logger: Logger
  ) {
    self.registry = registry
    self.interval = interval
    self.timeout = timeout
    self.failureThreshold = max(1, failureThreshold)
    self.logger = logger
  }

  /// Beats until the task is cancelled.
  public func run() async {
    while !Task.isCancelled {
      do {
        try await Task.sleep(for: interval)
      } catch {
        return
      }
      await beat()
    }
  }

  /// One round over every socket.
  public func beat() async {
    let sockets = await registry.pluggableSockets()
    await withTaskGroup(of: Void.self) { group in
      for (socket, members) in sockets {
        group.addTask { await self.check(socket: socket, members: members) }
      }
    }
  }

  private enum Outcome {
    case healthy
    /// The process answers but has lost its instances (it restarted).
    case restarted(String)
    case failed(String)
  }

  /// Checks `socket` now instead of at the next beat: the watcher saw it appear again.
  public func beat(socket: String) async {
    guard let members = await registry.pluggableSockets()[socket] else { return }
    await check(socket: socket, members: members)
  }

  /// The watcher saw `socket` disappear: its UP components go DOWN at once, without
  /// waiting for failed beats.
  public func socketRemoved(_ socket: String) async {
    guard let members = await registry.pluggableSockets()[socket] else { return }
    failures[socket] = max(failures[socket] ?? 0, failureThreshold)
    await registry.recordHeartbeat(
      socket: socket, answered: false, consecutiveFailures: failures[socket] ?? 0)
    for member in members where member.state == .up {
      await registry.markDown(member.name, reason: "its socket \(socket) was removed")
      logger.warning(
        "component is DOWN: its socket was removed",
        metadata: ["component": "\(member.name)", "type": "\(member.type)", "socket": "\(socket)"])
    }
  }

  private func check(socket: String, members: [RegisteredPluggable]) async {
    guard checking.insert(socket).inserted else { return }
    defer { checking.remove(socket) }
    // A socket file that is gone counts as a failed beat even when the connection
    // opened before still answers: the process may live on, but nothing new can reach
    // it, and re-initialising it through the old connection would wipe the state of a
    // process that never restarted. Its components heal when the socket is back.
    let outcome: Outcome =
      FileKind.of(socket) == .socket
      ? await probe(members) : .failed("its socket file \(socket) is gone")
    let anyDown = members.contains { $0.state == .down }
    if case .failed = outcome {
      // Counted below.
    } else {
      failures[socket] = 0
      await registry.recordHeartbeat(socket: socket, answered: true, consecutiveFailures: 0)
    }
    switch outcome {
    case .healthy where !anyDown:
      break
    case .healthy, .restarted:
      let why: String =
        if case .restarted(let reason) = outcome { reason } else { "it answers again" }
      await reinitialise(members, socket: socket, why: why)
    case .failed(let reason):
      let count = (failures[socket] ?? 0) + 1
      failures[socket] = count
      await registry.recordHeartbeat(socket: socket, answered: false, consecutiveFailures: count)
      for member in members { ComponentMetrics.heartbeatFailed(component: member.name) }
      guard count >= failureThreshold else { return }
      for member in members where member.state == .up {
        await registry.markDown(member.name, reason: reason)
        logger.warning(
          "component is DOWN after \(count) failed heartbeats of its socket: \(reason)",
          metadata: [
            "component": "\(member.name)", "type": "\(member.type)", "socket": "\(socket)",
          ])
      }
    }
  }

  private func probe(_ members: [RegisteredPluggable]) async -> Outcome {
    do {
      if let pingable = members.lazy.compactMap({ $0.kind?.pingable }).first {
        try await pingable.ping(timeout: timeout)
      } else if let channel = members.first?.channel {
        try await healthCheck(channel)
      }
      return .healthy
    } catch let error as ComponentCallError {
      switch error.kind {
      case .unavailable, .deadlineExceeded: return .failed(error.message)
      default: return .restarted(error.message)
      }
    } catch let error as RPCError where error.code == .failedPrecondition {
      return .restarted(error.message)
    } catch {
      return .failed(String(describing: error))
    }
  }

  /// grpc.health.v1 Check of the whole server; a server without Health answers
  /// UNIMPLEMENTED, which still proves it is alive.
  private func healthCheck(_ channel: ComponentChannel) async throws {
    var options = CallOptions.defaults
    options.timeout = timeout
    options.waitForReady = false
    do {
      _ = try await Grpc_Health_V1_Health.Client(wrapping: channel.client).check(
        Grpc_Health_V1_HealthCheckRequest(), options: options)
    } catch let error as RPCError where error.code == .unimplemented {
      return
    } catch let error as RPCError {
      throw ComponentCallError(
        error.code == .deadlineExceeded ? .deadlineExceeded : .unavailable, error.message)
    }
  }

  private func reinitialise(_ members: [RegisteredPluggable], socket: String, why: String) async {
    for member in members {
      do {
        let (kind, capabilities) = try await withDeadline(member.restart.timeout) {
          try await member.restart.make()
        }
        await registry.reinitialised(member.name, kind: kind, capabilities: capabilities)
        logger.notice(
          "component is UP again, initialised anew (its socket's heartbeat: \(why))",
          metadata: [
            "component": "\(member.name)", "type": "\(member.type)", "socket": "\(socket)",
          ])
      } catch {
        if member.state == .up {
          await registry.markDown(member.name, reason: "re-initialisation failed: \(error)")
          logger.warning(
            "component is DOWN: re-initialisation failed: \(error)",
            metadata: [
              "component": "\(member.name)", "type": "\(member.type)", "socket": "\(socket)",
            ])
        }
      }
    }
  }
}
