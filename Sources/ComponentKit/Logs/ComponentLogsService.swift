import ApiaryContracts
import ApiaryShared
import GRPCCore
import Logging

/// `apiary.proto.components.v1.ComponentLogs`: streams the component's log records to
/// the sidecar, from a ``ComponentLogStore`` fed by ``ComponentLogHandler``.
public struct ComponentLogsService: Apiary_Proto_Components_V1_ComponentLogs.SimpleServiceProtocol {
  /// The store whose records are streamed.
  public let store: ComponentLogStore

  /// Creates the service over `store`.
  public init(store: ComponentLogStore) {
    self.store = store
  }

  /// Streams the records at or above the request's level: those kept, then each new
  /// one, until the sidecar ends the call.
  public func tail(
    request: Apiary_Proto_Components_V1_TailLogsRequest,
    response: RPCWriter<Apiary_Proto_Components_V1_LogRecord>,
    context: ServerContext
  ) async throws {
    for await record in store.tail(minimum: Logger.Level(request.minLevel)) {
      try await response.write(record)
    }
  }
}
