import GRPCCore
import GRPCProtobuf

/// Errors a component returns that the sidecar understands, each sent as the gRPC
/// status Dapr's contract defines for it.
public enum ComponentError: Error, Sendable, Equatable {
  /// The request's etag does not match the stored one (or first-write found a value):
  /// FAILED_PRECONDITION with one `google.rpc.BadRequest` field violation on `etag`.
  case etagMismatch(String)
  /// The request's etag is malformed: INVALID_ARGUMENT with one `google.rpc.BadRequest`
  /// field violation on `etag`.
  case etagInvalid(String)
  /// The request is malformed in another way: INVALID_ARGUMENT.
  case invalidArgument(String)
  /// The operation is not supported by this component: UNIMPLEMENTED.
  case unsupported(String)
  /// The backend failed: INTERNAL.
  case backend(String)
  /// What was asked for does not exist (a secret): NOT_FOUND.
  case notFound(String)
}

extension ComponentError: RPCErrorConvertible {
  /// The status this error travels as, with its `google.rpc.Status` details.
  /// Messages are cut to ``ErrorMessage/maximumLength`` characters.
  public var googleRPCStatus: GoogleRPCStatus {
    switch bounded {
    case .etagMismatch(let message):
      GoogleRPCStatus(
        code: .failedPrecondition,
        message: message,
        details: .badRequest(violations: [.init(field: "etag", description: message)])
      )
    case .etagInvalid(let message):
      GoogleRPCStatus(
        code: .invalidArgument,
        message: message,
        details: .badRequest(violations: [.init(field: "etag", description: message)])
      )
    case .invalidArgument(let message):
      GoogleRPCStatus(code: .invalidArgument, message: message, details: [])
    case .unsupported(let message):
      GoogleRPCStatus(code: .unimplemented, message: message, details: [])
    case .backend(let message):
      GoogleRPCStatus(code: .internalError, message: message, details: [])
    case .notFound(let message):
      GoogleRPCStatus(code: .notFound, message: message, details: [])
    }
  }

  /// The same error with its message cut to ``ErrorMessage/maximumLength``.
  var bounded: ComponentError {
    switch self {
    case .etagMismatch(let message): .etagMismatch(ErrorMessage.bounded(message))
    case .etagInvalid(let message): .etagInvalid(ErrorMessage.bounded(message))
    case .invalidArgument(let message): .invalidArgument(ErrorMessage.bounded(message))
    case .unsupported(let message): .unsupported(ErrorMessage.bounded(message))
    case .backend(let message): .backend(ErrorMessage.bounded(message))
    case .notFound(let message): .notFound(ErrorMessage.bounded(message))
    }
  }

  /// The gRPC status code the sidecar receives.
  public var rpcErrorCode: RPCError.Code { googleRPCStatus.rpcErrorCode }
  /// The status message, at most a bounded length.
  public var rpcErrorMessage: String { googleRPCStatus.rpcErrorMessage }
  /// The `grpc-status-details-bin` trailer with the `google.rpc.Status` details.
  public var rpcErrorMetadata: Metadata { googleRPCStatus.rpcErrorMetadata }
}

/// Runs a handler body and turns what it throws into a status the sidecar can act on:
/// errors that know their status keep it; any other error becomes INTERNAL with its
/// description, rather than grpc-swift's message-less UNKNOWN.
@inlinable
func mappingErrors<T>(_ body: () async throws -> T) async throws -> T {
  do {
    return try await body()
  } catch let error as RPCError {
    throw error
  } catch let error as any RPCErrorConvertible {
    throw RPCError(error)
  } catch is CancellationError {
    throw RPCError(code: .cancelled, message: "the call was cancelled")
  } catch {
    throw RPCError(code: .internalError, message: ErrorMessage.bounded(String(describing: error)))
  }
}
