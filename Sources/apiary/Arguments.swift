import ApiaryRuntime
import ArgumentParser
import GRPCCoreCTransport
import Logging

/// A duration flag's value, written like `30s`, `500ms` or `1m30s`; more than zero.
/// Parsed once, by ArgumentParser, which names the flag when the value is not one.
struct DurationArgument: ExpressibleByArgument, Sendable {
  let duration: Duration
  /// As it was written (shown as the default in `--help`).
  let text: String

  init?(argument: String) {
    guard let duration = DurationParsing.parse(argument), duration > .zero else { return nil }
    self.duration = duration
    text = argument
  }

  /// A default written in the source; it must parse.
  init(_ text: String) {
    guard let parsed = DurationArgument(argument: text) else {
      preconditionFailure("'\(text)' is not a duration")
    }
    self = parsed
  }

  var defaultValueDescription: String { text }
}

/// A size flag's value, written like `4Mi`, `512Ki`, `4MB` or `1000000`; more than zero.
struct ByteSizeArgument: ExpressibleByArgument, Sendable {
  let bytes: Int
  let text: String

  init?(argument: String) {
    guard let bytes = ByteSize.parse(argument), bytes > 0 else { return nil }
    self.bytes = bytes
    text = argument
  }

  init(_ text: String) {
    guard let parsed = ByteSizeArgument(argument: text) else {
      preconditionFailure("'\(text)' is not a size")
    }
    self = parsed
  }

  var defaultValueDescription: String { text }
}

/// `--app-protocol`: how the app is called.
enum AppProtocolArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
  case http
  case grpc
}

/// `--socket-watch`: inotify with polling as the fallback, or polling only.
enum SocketWatchArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
  case auto
  case polling

  var mode: SocketFolderWatcher.Mode { self == .polling ? .polling : .automatic }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension SidecarLogHandler.Format: ExpressibleByArgument, CaseIterable {
  public static var allCases: [SidecarLogHandler.Format] { [.text, .json] }
}
extension TransportKind: ExpressibleByArgument {}
