import Foundation
import Logging
import Synchronization

/// Splits a child's output into lines and hands each to the log hub as a record of its
/// component (the hub escapes, cuts long messages and rate-limits).
final class LineForwarder: Sendable {
  private let component: String
  let stream: String
  private let hub: ComponentLogHub
  private let pending = Mutex<[UInt8]>([])
  private let ended: AsyncStream<Void>
  private let endedContinuation: AsyncStream<Void>.Continuation
  /// A line still without its newline is handed on once it is this long, so a child
  /// that never ends its line cannot grow the buffer.
  static let maximumLine = ComponentLogHub.maximumMessageBytes

  init(component: String, stream: String, hub: ComponentLogHub) {
    self.component = component
    self.stream = stream
    self.hub = hub
    (ended, endedContinuation) = AsyncStream.makeStream(of: Void.self)
  }

  func feed(_ data: some Collection<UInt8>) {
    let lines: [[UInt8]] = pending.withLock { buffer in
      buffer.append(contentsOf: data)
      var lines: [[UInt8]] = []
      while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        lines.append(Array(buffer[..<newline]))
        buffer.removeSubrange(...newline)
      }
      if buffer.count > Self.maximumLine {
        lines.append(buffer)
        buffer.removeAll()
      }
      return lines
    }
    for line in lines { emit(line) }
  }

  /// The pipe reached its end: hands on what is left without a final newline.
  func finish() {
    let rest = pending.withLock { buffer in
      defer { buffer.removeAll() }
      return buffer
    }
    if !rest.isEmpty { emit(rest) }
    endedContinuation.finish()
  }

  /// Returns once ``finish()`` ran, or after `timeout`; then hands on what is left
  /// in any case (``finish()`` may run twice: the second finds nothing).
  func waitForEnd(timeout: Duration) async {
    let ended = self.ended
    await withTaskGroup(of: Void.self) { group in
      group.addTask { for await _ in ended {} }
      group.addTask { try? await Task.sleep(for: timeout) }
      await group.next()
      group.cancelAll()
    }
    finish()
  }

  private func emit(_ bytes: [UInt8]) {
    var text = String(decoding: bytes, as: UTF8.self)
    if text.hasSuffix("\r") { text.removeLast() }
    if text.isEmpty { return }
    let record = ProcessOutputRecord(line: text)
    var fields = record.fields
    fields["stream"] = stream
    hub.record(
      ForwardedLogRecord(
        time: Date(), level: record.level, message: record.message, source: component,
        fields: fields))
  }
}

/// One output line of a supervised process: a JSON object's level, message and other
/// fields, or the plain line at level info. Control characters are escaped so that a
/// line can never forge another record.
public struct ProcessOutputRecord: Equatable, Sendable {
  public var level: Logger.Level
  public var message: String
  public var fields: [String: String]

  public init(line: String) {
    level = .info
    fields = [:]
    guard line.hasPrefix("{"),
      let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else {
      // swift-log's text format: "<time> <level> <label>: …"; the time is dropped
      // since the sidecar's record has its own.
      let words = line.split(separator: " ", maxSplits: 2)
      if words.count == 3, let level = Logger.Level(loose: String(words[1])), words[0].contains("T")
      {
        self.level = level
        message = Self.escaped(String(words[2]))
      } else {
        message = Self.escaped(line)
      }
      return
    }
    var message: String?
    for (key, value) in object {
      let text = (value as? String) ?? String(describing: value)
      switch key.lowercased() {
      case "msg", "message":
        message = text
      case "level", "severity", "levelname", "lvl":
        level = Logger.Level(loose: text) ?? .info
      case "time", "timestamp", "ts":
        continue
      default:
        fields[key] = Self.escaped(text)
      }
    }
    self.message = Self.escaped(message ?? line)
  }

  /// `text` with control characters written as escapes (`\n`, `\u{1b}`).
  public static func escaped(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
      return text
    }
    var result = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      default:
        if scalar.properties.generalCategory == .control {
          result += "\\u{\(String(scalar.value, radix: 16))}"
        } else {
          result.unicodeScalars.append(scalar)
        }
      }
    }
    return result
  }
}
