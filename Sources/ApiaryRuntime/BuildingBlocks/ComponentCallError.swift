import GRPCCore
import GRPCProtobuf

/// A call to a component failed for a reason that is not the building block's own
/// (those are ``StateStoreError``, ``SecretStoreError``): the component could not be
/// reached, timed out, rejected the request or failed.
public struct ComponentCallError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What kind of failure, for mapping to API statuses in one place.
  public enum Kind: Sendable, Equatable {
    /// The component is not reachable (down, restarting, socket gone): retry later.
    case unavailable
    /// The component did not answer in time.
    case deadlineExceeded
    /// The component rejected the request as malformed.
    case invalidArgument
    /// The component does not implement the operation.
    case unimplemented
    /// Something the component did not find.
    case notFound
    /// Any other failure of the component.
    case failed
  }

  /// The status a component answered with, as it came.
  public struct Status: Sendable, Equatable {
    public var code: RPCError.Code
    public var message: String
    /// Its `google.rpc.Status` details, when it sent some.
    public var details: GoogleRPCStatus?

    public init(code: RPCError.Code, message: String, details: GoogleRPCStatus? = nil) {
      self.code = code
      self.message = message
      self.details = details
    }

    /// As daprd embeds a component's status in its own messages (Go's gRPC error
    /// text): `rpc error: code = Unknown desc = outbox error`.
    public var goText: String { "rpc error: code = \(code.goName) desc = \(message)" }
  }

  public var kind: Kind
  /// Apiary's sentence, naming the component and the call, for logs.
  public var message: String
  /// The status the component answered with; nil when it never answered (not
  /// reachable, no answer in time, an answer that did not decode).
  public var status: Status?

  public init(_ kind: Kind, _ message: String, status: Status? = nil) {
    self.kind = kind
    self.message = message
    self.status = status
  }

  public var description: String { message }

  /// What a daprd message embeds as `{err}`: the component's status in Go's words,
  /// or apiary's sentence when there is none.
  public var daprText: String { status?.goText ?? message }
}

extension RPCError.Code {
  /// The name Go's gRPC gives the code (`InvalidArgument`, `Unknown`, …).
  public var goName: String {
    switch self {
    case .cancelled: "Canceled"
    case .unknown: "Unknown"
    case .invalidArgument: "InvalidArgument"
    case .deadlineExceeded: "DeadlineExceeded"
    case .notFound: "NotFound"
    case .alreadyExists: "AlreadyExists"
    case .permissionDenied: "PermissionDenied"
    case .resourceExhausted: "ResourceExhausted"
    case .failedPrecondition: "FailedPrecondition"
    case .aborted: "Aborted"
    case .outOfRange: "OutOfRange"
    case .unimplemented: "Unimplemented"
    case .internalError: "Internal"
    case .unavailable: "Unavailable"
    case .dataLoss: "DataLoss"
    case .unauthenticated: "Unauthenticated"
    default: "Code(\(rawValue))"
    }
  }
}
