import ApiaryRuntime
import ComponentKit
import GRPCCore

/// An error the app API answers with. The one place where errors become HTTP
/// statuses and gRPC status codes, so both surfaces answer the same way.
///
/// The HTTP body is `{"errorCode": "ERR_…", "message": "…"}`; the gRPC status carries
/// the message and the same error code in the trailing metadata `error-code`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What went wrong, which fixes the HTTP status and the gRPC code.
  public enum Kind: Sendable, Equatable {
    /// The request is malformed or names an unknown component: 400 / INVALID_ARGUMENT.
    case invalidArgument
    /// The API token is missing or wrong: 401 / UNAUTHENTICATED.
    case unauthenticated
    /// The thing asked for does not exist: 404 / NOT_FOUND.
    case notFound
    /// An etag did not match (or first-write found the key): 409 / ABORTED.
    case conflict
    /// The body is over the size limit: 413 / RESOURCE_EXHAUSTED.
    case tooLarge
    /// The component is not UP, or the component's process is unreachable: 503 / UNAVAILABLE.
    case unavailable
    /// The component cannot do it: 501 / UNIMPLEMENTED.
    case unimplemented
    /// The component answered too late: 504 / DEADLINE_EXCEEDED.
    case timeout
    /// Anything else the component reported: 500 / INTERNAL.
    case failed
  }

  public var kind: Kind
  /// Dapr's error code, e.g. `ERR_STATE_STORE_NOT_FOUND`.
  public var errorCode: String
  public var message: String

  /// The longest message kept whole, in characters: messages quote the bad input
  /// (a key, a component name, a component's own error), which can be megabytes, and
  /// a gRPC status message travels in a header.
  public static let maximumMessageLength = ErrorMessage.maximumLength

  /// - Parameter message: Cut as ``ErrorMessage/bounded(_:)`` cuts it when longer
  ///   than ``maximumMessageLength``: its start and end are kept around a note of how
  ///   much was left out.
  public init(_ kind: Kind, _ errorCode: String, _ message: String) {
    self.kind = kind
    self.errorCode = errorCode
    self.message = ErrorMessage.bounded(message)
  }

  public var description: String { "\(errorCode): \(message)" }

  /// The HTTP status code.
  public var httpStatus: Int {
    switch kind {
    case .invalidArgument: 400
    case .unauthenticated: 401
    case .notFound: 404
    case .conflict: 409
    case .tooLarge: 413
    case .failed: 500
    case .unimplemented: 501
    case .unavailable: 503
    case .timeout: 504
    }
  }

  /// The gRPC status code.
  public var rpcCode: RPCError.Code {
    switch kind {
    case .invalidArgument: .invalidArgument
    case .unauthenticated: .unauthenticated
    case .notFound: .notFound
    case .conflict: .aborted
    case .tooLarge: .resourceExhausted
    case .failed: .internalError
    case .unimplemented: .unimplemented
    case .unavailable: .unavailable
    case .timeout: .deadlineExceeded
    }
  }

  /// The gRPC error, with the Dapr error code in the metadata key `error-code`.
  public var rpcError: RPCError {
    var metadata = Metadata()
    metadata.addString(errorCode, forKey: "error-code")
    return RPCError(code: rpcCode, message: message, metadata: metadata)
  }

  /// The error a building-block call threw, as an API error. `errorCode` is the Dapr
  /// code of the operation (`ERR_STATE_GET`, `ERR_PUBSUB_PUBLISH_MESSAGE`, …); etag
  /// errors get Dapr's etag codes, whatever the operation.
  public static func from(_ error: any Error, errorCode: String, component: String) -> APIError {
    switch error {
    case let error as APIError:
      return error
    case let error as StateStoreError:
      switch error {
      case .etagMismatch(let message):
        return APIError(.conflict, "ERR_STATE_ETAG_MISMATCH", "state store \(component): etag mismatch: \(message)")
      case .etagInvalid(let message):
        return APIError(.invalidArgument, "ERR_STATE_ETAG_INVALID", "state store \(component): invalid etag: \(message)")
      case .bulkDeleteRowMismatch(let message):
        return APIError(.conflict, errorCode, "state store \(component): \(message)")
      case .unsupported(let message):
        return APIError(.unimplemented, errorCode, "\(component): \(message)")
      }
    case let error as SecretStoreError:
      return APIError(.notFound, errorCode, "secret store \(component): \(error)")
    case let error as ComponentCallError:
      let message = "component \(component): \(error.message)"
      switch error.kind {
      case .unavailable: return APIError(.unavailable, errorCode, message)
      case .deadlineExceeded: return APIError(.timeout, errorCode, message)
      case .invalidArgument: return APIError(.invalidArgument, errorCode, message)
      case .unimplemented: return APIError(.unimplemented, errorCode, message)
      case .notFound: return APIError(.notFound, errorCode, message)
      case .failed: return APIError(.failed, errorCode, message)
      }
    default:
      return APIError(.failed, errorCode, "component \(component): \(error)")
    }
  }
}
