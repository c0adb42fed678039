import ApiaryContracts
import ApiaryShared
import Foundation
import GRPCCore
import GRPCProtobuf
import Logging

/// Follows `apiary.proto.components.v1.ComponentLogs/Tail` of one component socket for
/// the sidecar's whole life and hands every record to the ``ComponentLogHub``.
///
/// The stream asks for the source's minimum level. It is opened again when it ends
/// (the component restarted: the channel reconnects) after a short pause, and at once
/// when the level changes (`POST /actuator/logger`).
public struct ComponentLogTailer: Sendable {
  public let source: String
  public let socket: String
  /// The component types the socket serves, for the records' `type`.
  public let types: [String]
  let channel: ComponentChannel
  let hub: ComponentLogHub
  let logger: Logger
  /// The pause before a stream that ended is opened again.
  let retryDelay: Duration

  public init(
    source: String, channel: ComponentChannel, types: [String], hub: ComponentLogHub,
    logger: Logger,
    retryDelay: Duration = .milliseconds(500)
  ) {
    self.source = source
    self.socket = channel.socketPath
    self.types = types
    self.channel = channel
    self.hub = hub
    self.logger = logger
    self.retryDelay = retryDelay
  }

  /// Tails until cancelled.
  public func run() async {
    hub.register(source)
    while !Task.isCancelled {
      // Watch for a level change first, then read the level: no change falls between.
      let changes = hub.levelChanges(for: source)
      let level = hub.level(of: source)
      // Tail until the stream ends or the level changes, whichever comes first.
      let levelChanged = await withTaskGroup(of: Bool.self) { group in
        group.addTask { await self.tailOnce(minimum: level) }
        group.addTask {
          for await _ in changes { return true }
          return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
      }
      if levelChanged {
        logger.debug(
          "re-opening the log stream with a new level", metadata: ["component": "\(source)"])
        continue
      }
      try? await Task.sleep(for: retryDelay)
    }
  }

  /// One Tail call; returns false when it ended (for any reason).
  private func tailOnce(minimum: Logger.Level) async -> Bool {
    var request = Apiary_Proto_Components_V1_TailLogsRequest()
    request.minLevel = Apiary_Proto_Components_V1_LogLevel(minimum)
    var options = CallOptions.defaults
    options.waitForReady = false
    let client = Apiary_Proto_Components_V1_ComponentLogs.Client(wrapping: channel.client)
    let hub = self.hub
    let source = self.source
    let base: [String: String] = ["socket": socket, "type": types.joined(separator: ",")]
    do {
      try await client.tail(request: ClientRequest(message: request), options: options) {
        response in
        for try await record in response.messages {
          var fields = base
          for (key, value) in record.fields where fields[key] == nil { fields[key] = value }
          if !record.logger.isEmpty { fields["logger"] = record.logger }
          hub.record(
            ForwardedLogRecord(
              time: record.hasTime ? record.time.date : Date(), level: Logger.Level(record.level),
              message: record.message, source: source, fields: fields))
        }
      }
    } catch {
      // The component went away or restarted; the caller tries again.
    }
    return false
  }
}
