import ApiaryContracts
import ApiaryShared
import Foundation
import Logging
import SwiftProtobuf

/// A swift-log `LogHandler` that turns every log entry into a `LogRecord` for the
/// sidecar's `ComponentLogs/Tail` stream.
///
/// Installing it is all a Swift component needs for its logs to reach the sidecar:
///
/// ```swift
/// let logs = ComponentLogStore()
/// LoggingSystem.bootstrap { label in ComponentLogHandler(label: label, store: logs) }
/// ```
///
/// Its level follows the sidecar (see ``ComponentLogStore/minimumLevel``); setting
/// `logLevel` changes the level used while no sidecar is tailing.
///
/// To also print the records locally, pass an `echo` handler (e.g. swift-log's
/// `StreamLogHandler.standardError`) instead of combining the two with swift-log's
/// `MultiplexLogHandler`: that one fixes its level when it is made, so the sidecar
/// could never lower it at run time (`POST /actuator/logger`).
public struct ComponentLogHandler: LogHandler {
  /// Installs, process-wide, a handler for every logger that feeds `store` and echoes
  /// to standard error at `echoLevel` or above: the logging set-up of a typical
  /// component's `main`.
  public static func bootstrap(store: ComponentLogStore, echoLevel: Logger.Level) {
    LoggingSystem.bootstrap { label in
      var console = StreamLogHandler.standardError(label: label)
      console.logLevel = echoLevel
      return ComponentLogHandler(label: label, store: store, echo: console)
    }
  }

  /// The logger label, sent as `LogRecord.logger`.
  public let label: String
  /// Where the records go.
  public let store: ComponentLogStore
  /// Metadata added to every record of this logger.
  public var metadata: Logger.Metadata = [:]
  /// Adds metadata to each record at the time it is logged.
  public var metadataProvider: Logger.MetadataProvider?
  /// Also gets the records at or above its own level.
  public var echo: (any LogHandler)?

  /// Creates a handler for the logger `label` that feeds `store`, and `echo` too.
  public init(
    label: String, store: ComponentLogStore, echo: (any LogHandler)? = nil,
    metadataProvider: Logger.MetadataProvider? = nil
  ) {
    self.echo = echo
    self.label = label
    self.store = store
    self.metadataProvider = metadataProvider
  }

  /// The lower of the sidecar's (read each time, so it follows the sidecar) and the
  /// echo's.
  public var logLevel: Logger.Level {
    get { min(store.minimumLevel, echo?.logLevel ?? .critical) }
    set { store.defaultLevel = newValue }
  }

  /// One entry of ``metadata``.
  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  /// Echoes the record when it reaches the echo's level, and keeps it for the sidecar
  /// when it reaches the level the sidecar asked for.
  public func log(event: LogEvent) {
    if let echo, event.level >= echo.logLevel { echo.log(event: event) }
    guard event.level >= store.minimumLevel else { return }
    var record = Apiary_Proto_Components_V1_LogRecord()
    record.time = Google_Protobuf_Timestamp(date: Date())
    record.level = Apiary_Proto_Components_V1_LogLevel(event.level)
    record.message = event.message.description
    record.logger = label
    var merged = self.metadata
    if let provided = metadataProvider?.get() {
      merged.merge(provided) { _, new in new }
    }
    if let explicit = event.metadata {
      merged.merge(explicit) { _, new in new }
    }
    if let error = event.error {
      merged["error"] = "\(error)"
    }
    for (key, value) in merged {
      record.fields[key] = value.description
    }
    store.append(record)
  }
}
