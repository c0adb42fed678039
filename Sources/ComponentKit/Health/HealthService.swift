import ApiaryContracts
import GRPCCore
import Synchronization

/// `grpc.health.v1.Health`: reports SERVING for the whole server (the empty service
/// name) and for each service it was told about; NOT_FOUND for any other name.
///
/// A component that wants to report trouble calls ``setStatus(_:for:)``; `Watch`
/// streams every change to its watchers.
public final class HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  private struct State {
    var statuses: [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus]
    var watchers:
      [Int: (
        name: String,
        continuation: AsyncStream<Grpc_Health_V1_HealthCheckResponse.ServingStatus>.Continuation
      )] = [:]
    var nextWatcher = 0
  }

  private let state: Mutex<State>

  /// Creates a health service where the server and each of `services` are SERVING.
  public init(services: [String]) {
    var statuses: [String: Grpc_Health_V1_HealthCheckResponse.ServingStatus] = ["": .serving]
    for name in services { statuses[name] = .serving }
    self.state = Mutex(State(statuses: statuses))
  }

  /// Sets the status reported for `service` ("" is the whole server) and tells its
  /// watchers.
  public func setStatus(
    _ status: Grpc_Health_V1_HealthCheckResponse.ServingStatus, for service: String = ""
  ) {
    let toNotify = state.withLock { state in
      state.statuses[service] = status
      return state.watchers.values.filter { $0.name == service }.map(\.continuation)
    }
    for continuation in toNotify { continuation.yield(status) }
  }

  /// Marks every known service NOT_SERVING, as a server does when it begins to stop.
  public func markAllNotServing() {
    let names = state.withLock { Array($0.statuses.keys) }
    for name in names { setStatus(.notServing, for: name) }
  }

  /// The status of `request.service`; NOT_FOUND for a service it does not know.
  public func check(
    request: Grpc_Health_V1_HealthCheckRequest,
    context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard let status = state.withLock({ $0.statuses[request.service] }) else {
      throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
    }
    var response = Grpc_Health_V1_HealthCheckResponse()
    response.status = status
    return response
  }

  /// Streams the status of `request.service`: now, then at each change, until the
  /// server stops (SERVICE_UNKNOWN for a service it does not know).
  public func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    let (stream, continuation) = AsyncStream<Grpc_Health_V1_HealthCheckResponse.ServingStatus>
      .makeStream(
        bufferingPolicy: .bufferingNewest(1)
      )
    let id = state.withLock { state in
      let id = state.nextWatcher
      state.nextWatcher += 1
      state.watchers[id] = (request.service, continuation)
      continuation.yield(state.statuses[request.service] ?? .serviceUnknown)
      return id
    }
    defer { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
    try await withTaskCancellationHandler {
      for await status in stream {
        var message = Grpc_Health_V1_HealthCheckResponse()
        message.status = status
        try await response.write(message)
      }
    } onCancel: {
      continuation.finish()
    }
  }

  /// Ends every `Watch` stream, so a graceful shutdown is not held open by watchers.
  public func finishWatchers() {
    let continuations = state.withLock { state in
      let all = state.watchers.values.map(\.continuation)
      state.watchers.removeAll()
      return all
    }
    for continuation in continuations { continuation.finish() }
  }
}
