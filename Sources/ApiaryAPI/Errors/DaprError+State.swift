import ApiaryRuntime
import GRPCCore
import HTTPTypes

/// The state API's errors, as daprd answers them (spec §1.2).
extension DaprError {
  static let stateStoresHelp = Link(
    description: "Check the list of state stores and the features they support",
    url: "https://docs.dapr.io/reference/components-reference/supported-state-stores/")

  private static func stateResource(_ store: String) -> Resource {
    Resource(type: "state", name: store)
  }

  /// No state store is configured at all.
  static func stateNotConfigured(_ store: String, appID: String) -> DaprError {
    var error = DaprError(
      code: .failedPrecondition, status: .internalServerError,
      errorCode: "ERR_STATE_STORE_NOT_CONFIGURED",
      message: "state store \(store) is not configured", reason: "DAPR_STATE_NOT_CONFIGURED")
    error.httpMetadata = ["appID": appID]
    return error
  }

  /// No state store has that name.
  static func stateNotFound(_ store: String, appID: String) -> DaprError {
    var error = DaprError(
      code: .invalidArgument, status: .badRequest, errorCode: "ERR_STATE_STORE_NOT_FOUND",
      message: "state store \(store) is not found", reason: "DAPR_STATE_NOT_FOUND")
    error.httpMetadata = ["appID": appID]
    return error
  }

  /// A key containing `||`, which would make stored keys ambiguous.
  static func illegalKey(_ key: String, store: String) -> DaprError {
    var error = DaprError(
      code: .invalidArgument, status: .badRequest, errorCode: "ERR_MALFORMED_REQUEST",
      message: "input key/keyPrefix '\(key)' can't contain '||'", reason: "DAPR_STATE_ILLEGAL_KEY")
    error.violations = [Violation(field: key, description: error.message)]
    // daprd's HTTP message is the status's Go error string (spec §1.2).
    error.httpMessage = "api error: code = InvalidArgument desc = " + error.message
    error.resource = stateResource(store)
    return error
  }

  /// A save without a key: legacy on HTTP, rich on gRPC.
  static func emptyKeyOnSave() -> DaprError {
    var error = DaprError(
      code: .invalidArgument, status: .badRequest, errorCode: "ERR_MALFORMED_REQUEST",
      message: "state key cannot be empty", reason: "ERR_STATE_SAVE")
    error.httpMessage = #""key" is a required field"#
    error.httpLegacy = true
    return error
  }

  /// A get, delete or query without a key (daprd lets the component refuse it; apiary
  /// refuses it first, as a malformed request).
  static func emptyKey() -> DaprError {
    DaprError(.invalidArgument, "ERR_MALFORMED_REQUEST", "state key cannot be empty")
  }

  /// An HTTP body that does not decode (legacy).
  static func malformedBody(_ problem: String) -> DaprError {
    DaprError(
      .invalidArgument, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: \(problem)")
  }

  /// The component's Get failed.
  static func stateGet(key: String, store: String, _ error: any Error) -> DaprError {
    if let passed = componentRich(error) ?? componentTransport(error, component: store) {
      return passed
    }
    return DaprError(
      code: .internalError, status: .internalServerError, errorCode: "ERR_STATE_GET",
      message: "fail to get \(key) from state store \(store): \(text(of: error))",
      reason: "ERR_STATE_GET")
  }

  /// The component's BulkGet failed: daprd passes it unwrapped on gRPC.
  static func stateBulkGet(store: String, _ error: any Error) -> DaprError {
    if let passed = componentRich(error) ?? componentTransport(error, component: store) {
      return passed
    }
    let code = (error as? ComponentCallError)?.status?.code ?? .unknown
    return DaprError(
      code: code, status: .internalServerError, errorCode: "ERR_STATE_BULK_GET",
      message: text(of: error))
  }

  /// The component's Set or BulkSet failed; etag errors keep their own status.
  static func stateSave(store: String, _ error: any Error) -> DaprError {
    if let passed = componentRich(error) ?? componentTransport(error, component: store) {
      return passed
    }
    let prefix = "failed saving state in state store \(store): "
    switch error as? StateStoreError {
    case .etagMismatch?:
      return DaprError(
        code: .aborted, status: .conflict, errorCode: "ERR_STATE_SAVE",
        message: prefix + text(of: error), reason: "ERR_STATE_SAVE")
    case .etagInvalid?:
      return DaprError(
        code: .invalidArgument, status: .badRequest, errorCode: "ERR_STATE_SAVE",
        message: prefix + text(of: error), reason: "ERR_STATE_SAVE")
    default:
      return DaprError(
        code: .internalError, status: .internalServerError, errorCode: "ERR_STATE_SAVE",
        message: prefix + text(of: error), reason: "ERR_STATE_SAVE")
    }
  }

  /// The component's Delete failed; etag errors keep their own status.
  static func stateDelete(key: String, store: String, _ error: any Error) -> DaprError {
    if let passed = componentRich(error) ?? componentTransport(error, component: store) {
      return passed
    }
    let (code, status) = etagStatus(error)
    return DaprError(
      code: code, status: status, errorCode: "ERR_STATE_DELETE",
      message: "failed deleting state with key \(key): \(text(of: error))",
      reason: "ERR_STATE_DELETE")
  }

  /// The component's BulkDelete failed (gRPC DeleteBulkState).
  static func stateBulkDelete(store: String, _ error: any Error) -> DaprError {
    if let passed = componentRich(error) ?? componentTransport(error, component: store) {
      return passed
    }
    let (code, status) = etagStatus(error)
    return DaprError(
      code: code, status: status, errorCode: "ERR_STATE_DELETE",
      message: "failed deleting state in state store \(store): \(text(of: error))",
      reason: "ERR_STATE_BULK_DELETE")
  }

  /// A store without the TRANSACTIONAL feature asked for a transaction.
  static func transactionsNotSupported(_ store: String) -> DaprError {
    var error = DaprError(
      code: .unimplemented, status: .internalServerError,
      errorCode: "ERR_STATE_STORE_NOT_SUPPORTED",
      message: "state store \(store) doesn't support transactions",
      reason: "DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED")
    error.links = [stateStoresHelp]
    error.resource = stateResource(store)
    return error
  }

  /// A transaction operation that is neither upsert nor delete.
  static func unsupportedOperation(_ operation: String) -> DaprError {
    DaprError(
      code: .unimplemented, status: .badRequest, errorCode: "ERR_NOT_SUPPORTED_STATE_OPERATION",
      message: "operation type \(operation) not supported",
      reason: "ERR_NOT_SUPPORTED_STATE_OPERATION")
  }

  /// A transaction larger than the store's `MultiMaxSize`.
  static func tooManyOperations(_ count: Int, max: Int, store: String) -> DaprError {
    var error = DaprError(
      code: .invalidArgument, status: .badRequest,
      errorCode: "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS",
      message:
        "the transaction contains \(count) operations, which is more than what the state store supports: \(max)",
      reason: "DAPR_STATE_TOO_MANY_TRANSACTIONS",
      metadata: ["currentOpsTransaction": "\(count)", "maxOpsPerTransaction": "\(max)"])
    error.resource = stateResource(store)
    return error
  }

  /// The component's Transact failed (etag errors too).
  static func stateTransaction(store: String, _ error: any Error) -> DaprError {
    if let passed = componentRich(error) ?? componentTransport(error, component: store) {
      return passed
    }
    return DaprError(
      code: .internalError, status: .internalServerError, errorCode: "ERR_STATE_TRANSACTION",
      message: "error while executing state transaction: \(text(of: error))",
      reason: "ERR_STATE_TRANSACTION")
  }

  /// The outbox's internal publish failed: nothing was saved.
  static func outboxPublish(appID: String, _ error: any Error) -> DaprError {
    let text = text(of: error)
    return DaprError(
      code: .internalError, status: .internalServerError, errorCode: "ERR_PUBLISH_OUTBOX",
      message: "error while publishing outbox message: \(text)", reason: "DAPR_PUBSUB_OUTBOX",
      metadata: ["appID": appID, "error": text])
  }

  /// A built-in store that cannot query.
  static func queryingNotSupported(_ store: String) -> DaprError {
    var error = DaprError(
      code: .internalError, status: .internalServerError,
      errorCode: "ERR_STATE_STORE_NOT_SUPPORTED",
      message: "state store does not support querying", reason: "DAPR_STATE_QUERYING_NOT_SUPPORTED")
    error.resource = stateResource(store)
    return error
  }

  /// A query that does not parse, or that the component failed.
  static func queryFailed(_ store: String, detail: String) -> DaprError {
    var error = DaprError(
      code: .internalError, status: .internalServerError, errorCode: "ERR_STATE_QUERY",
      message: "state store \(store) query failed: \(detail)", reason: "DAPR_STATE_QUERY_FAILED")
    error.resource = stateResource(store)
    return error
  }

  /// An etag error's status, else INTERNAL / 500.
  private static func etagStatus(_ error: any Error) -> (RPCError.Code, HTTPResponse.Status) {
    switch error as? StateStoreError {
    case .etagMismatch?: (.aborted, .conflict)
    case .etagInvalid?: (.invalidArgument, .badRequest)
    default: (.internalError, .internalServerError)
    }
  }
}
