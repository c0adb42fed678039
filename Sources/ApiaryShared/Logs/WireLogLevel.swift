import ApiaryContracts
import Logging

extension Apiary_Proto_Components_V1_LogLevel {
  /// The wire log level of a swift-log level.
  package init(_ level: Logger.Level) {
    switch level {
    case .trace: self = .trace
    case .debug: self = .debug
    case .info: self = .info
    case .notice: self = .notice
    case .warning: self = .warning
    case .error: self = .error
    case .critical: self = .critical
    }
  }
}

extension Logger.Level {
  /// The swift-log level of a wire log level.
  package init(_ level: Apiary_Proto_Components_V1_LogLevel) {
    switch level {
    case .trace: self = .trace
    case .debug: self = .debug
    case .info: self = .info
    case .notice: self = .notice
    case .warning: self = .warning
    case .error: self = .error
    case .critical: self = .critical
    case .UNRECOGNIZED: self = .critical
    }
  }
}
