import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The sidecar's log output (`--log-format text|json`), one line per record.
///
/// - text: `<time> <level> [<component>] <message> key=value …`; records without a
///   component read `<time> <level> apiary: <message> …`.
/// - json: one object per line: `time`, `level`, `msg`, then every metadata key
///   (`component`, `type`, `socket`, the record's own fields), as strings.
///
/// Control characters in messages and metadata are escaped in both formats, so a
/// component can never forge a line. Written by hand: swift-log's StreamLogHandler
/// has neither JSON nor the component prefix.
public struct SidecarLogHandler: LogHandler {
  public enum Format: String, Sendable {
    case text
    case json
  }

  public var metadata: Logger.Metadata = [:]
  public let format: Format
  private let level: LogLevelSetting
  private let write: @Sendable (String) -> Void

  /// The shared, run-time adjustable level (`POST /actuator/logger`).
  public var logLevel: Logger.Level {
    get { level.value }
    set { level.value = newValue }
  }

  /// - Parameters:
  ///   - level: The level this handler lets through, shared with the actuator so it
  ///     can change at run time.
  ///   - write: Where each finished line (with its newline) goes; standard error by
  ///     default.
  public init(
    format: Format, level: LogLevelSetting,
    write: @escaping @Sendable (String) -> Void = SidecarLogHandler.standardError
  ) {
    self.format = format
    self.level = level
    self.write = write
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    let merged = metadata(with: event)
    var fields: [(String, String)] = merged.map { ($0.key, "\($0.value)") }.sorted { $0.0 < $1.0 }
    let time = Timestamp.string(Date())
    let message = event.message.description
    switch format {
    case .json:
      var line =
        "{\"time\":\(JSONText.quoted(time)),\"level\":\(JSONText.quoted(event.level.rawValue)),\"msg\":\(JSONText.quoted(message))"
      for (key, value) in fields where !["time", "level", "msg"].contains(key) {
        line += ",\(JSONText.quoted(key)):\(JSONText.quoted(value))"
      }
      write(line + "}\n")
    case .text:
      let component = fields.first { $0.0 == "component" }?.1
      fields.removeAll { $0.0 == "component" }
      var line = "\(time) \(event.level.rawValue) "
      line += component.map { "[\(ProcessOutputRecord.escaped($0))] " } ?? "apiary: "
      line += ProcessOutputRecord.escaped(message)
      for (key, value) in fields {
        line += " \(ProcessOutputRecord.escaped(key))=\(ProcessOutputRecord.escaped(value))"
      }
      write(line + "\n")
    }
  }

  private static let lock = Mutex(())

  /// Writes `line` to standard error in one call.
  public static let standardError: @Sendable (String) -> Void = { line in
    lock.withLock { _ in
      var bytes = Array(line.utf8)
      var offset = 0
      while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes {
          Glibc.write(2, $0.baseAddress! + offset, $0.count - offset)
        }
        if written <= 0 { break }
        offset += written
      }
    }
  }
}

/// A log level that can change while the sidecar runs.
public final class LogLevelSetting: Sendable {
  private let level: Mutex<Logger.Level>

  public init(_ level: Logger.Level) {
    self.level = Mutex(level)
  }

  public var value: Logger.Level {
    get { level.withLock { $0 } }
    set { level.withLock { $0 = newValue } }
  }
}

extension LogHandler {
  /// The handler's metadata with the event's own on top.
  func metadata(with event: LogEvent) -> Logger.Metadata {
    guard let extra = event.metadata else { return metadata }
    return metadata.merging(extra) { _, new in new }
  }
}
