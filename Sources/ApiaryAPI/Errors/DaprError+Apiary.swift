import ApiaryRuntime
import GRPCCore
import HTTPTypes

extension DaprError {
  /// The kinds of apiary's own errors, those daprd has no counterpart for (a component
  /// that is not UP, a body over the limit, the actuator's routes): each fixes the HTTP
  /// status and the gRPC code. They are legacy errors: no details.
  public enum Kind: Sendable, Equatable {
    /// The request is malformed: 400 / INVALID_ARGUMENT.
    case invalidArgument
    /// The API token is missing or wrong: 401 / UNAUTHENTICATED.
    case unauthenticated
    /// The thing asked for does not exist: 404 / NOT_FOUND.
    case notFound
    /// The body or the app's metadata is over a limit: 413 / RESOURCE_EXHAUSTED.
    case tooLarge
    /// The component is not UP, or its process is unreachable: 503 / UNAVAILABLE.
    case unavailable
    /// Not implemented: 501 / UNIMPLEMENTED.
    case unimplemented
    /// The component answered too late: 504 / DEADLINE_EXCEEDED.
    case timeout
    /// Anything else: 500 / INTERNAL.
    case failed

    var code: RPCError.Code {
      switch self {
      case .invalidArgument: .invalidArgument
      case .unauthenticated: .unauthenticated
      case .notFound: .notFound
      case .tooLarge: .resourceExhausted
      case .unavailable: .unavailable
      case .unimplemented: .unimplemented
      case .timeout: .deadlineExceeded
      case .failed: .internalError
      }
    }

    var status: HTTPResponse.Status {
      switch self {
      case .invalidArgument: .badRequest
      case .unauthenticated: .unauthorized
      case .notFound: .notFound
      case .tooLarge: .contentTooLarge
      case .unavailable: .serviceUnavailable
      case .unimplemented: .notImplemented
      case .timeout: .gatewayTimeout
      case .failed: .internalServerError
      }
    }
  }

  /// One of apiary's own errors (a legacy error: code and message, no details).
  public init(_ kind: Kind, _ errorCode: String, _ message: String) {
    self.init(code: kind.code, status: kind.status, errorCode: errorCode, message: message)
  }

  /// A component that exists but is not UP: apiary answers at once, never waiting.
  static func componentNotReady(
    _ noun: String, _ name: String, state: String, reason: String?
  ) -> DaprError {
    DaprError(
      .unavailable, "ERR_COMPONENT_NOT_READY",
      "\(noun) \(name) is \(state)\(reason.map { ": \($0)" } ?? "")")
  }

  /// An HTTP body over `--max-body-size`.
  static func bodyTooLarge(limit: Int) -> DaprError {
    DaprError(
      .tooLarge, "ERR_BODY_TOO_LARGE",
      "the request body is larger than the limit of \(limit) bytes (--max-body-size)")
  }

  /// A component call that failed in a way only apiary has: not reachable (its
  /// process is down) or no answer within `--call-timeout`; nil for any other error,
  /// which the operation's own Dapr error reports.
  static func componentTransport(_ error: any Error, component: String) -> DaprError? {
    guard let error = error as? ComponentCallError else { return nil }
    switch error.kind {
    case .unavailable:
      return DaprError(
        .unavailable, "ERR_COMPONENT_NOT_READY", "component \(component): \(error.message)")
    case .deadlineExceeded:
      return DaprError(
        .timeout, "ERR_COMPONENT_TIMEOUT", "component \(component): \(error.message)")
    default:
      return nil
    }
  }
}
