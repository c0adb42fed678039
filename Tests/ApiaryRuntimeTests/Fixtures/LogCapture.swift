import Logging
import Synchronization

/// Collects what a `Logger` logs, so tests can assert on the exact lines.
final class LogCapture: Sendable {
  /// One logged line.
  struct Line: Sendable, Equatable {
    var level: Logger.Level
    var message: String
    var metadata: [String: String] = [:]
  }

  private let lines = Mutex<[Line]>([])

  /// A logger whose every line (trace and up) lands in this capture.
  var logger: Logger {
    Logger(label: "apiary.test") { _ in Handler(capture: self) }
  }

  /// Every line, in order.
  var all: [Line] { lines.withLock { $0 } }

  /// The messages logged at `level`, in order.
  func messages(at level: Logger.Level) -> [String] {
    lines.withLock { $0.filter { $0.level == level }.map(\.message) }
  }

  fileprivate func append(_ line: Line) {
    lines.withLock { $0.append(line) }
  }

  private struct Handler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
      get { metadata[key] }
      set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
      var merged: [String: String] = [:]
      for (key, value) in metadata { merged[key] = "\(value)" }
      for (key, value) in event.metadata ?? [:] { merged[key] = "\(value)" }
      capture.append(Line(level: event.level, message: event.message.description, metadata: merged))
    }
  }
}
