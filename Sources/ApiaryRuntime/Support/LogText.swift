import Foundation
import Logging

/// How the sidecar writes times: ISO 8601 in UTC with milliseconds
/// (`2026-11-22T04:43:27.145Z`), in its log lines and in the actuator's JSON alike.
public enum Timestamp {
  public static func string(_ date: Date) -> String {
    date.formatted(
      .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(
        separator: .omitted))
  }
}

extension Logger.Level {
  /// The level a name stands for, as components, log libraries and Layotto's actuator
  /// write it: swift-log's names plus `warn`, `err`, `fatal`, `panic`, `crit`,
  /// `information`, any case. Nil for anything else.
  public init?(loose name: String) {
    switch name.lowercased() {
    case "trace": self = .trace
    case "debug": self = .debug
    case "info", "information": self = .info
    case "notice": self = .notice
    case "warn", "warning": self = .warning
    case "error", "err": self = .error
    case "critical", "fatal", "panic", "crit": self = .critical
    default: return nil
    }
  }
}
