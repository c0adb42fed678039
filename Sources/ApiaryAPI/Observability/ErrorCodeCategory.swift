import HTTPTypes

/// The `category` of `dapr_error_code_total`: daprd's category of each error code
/// (`pkg/messages/errorcodes`), and one for each of apiary's own codes.
enum ErrorCodeCategory {
  static let pluggable = "pluggable-component"

  /// daprd's codes and apiary's, with their categories.
  private static let table: [String: String] = {
    var table: [String: String] = [
      // State
      "ERR_STATE_TRANSACTION": "state", "ERR_STATE_SAVE": "state", "ERR_STATE_GET": "state",
      "ERR_STATE_DELETE": "state", "ERR_STATE_BULK_DELETE": "state", "ERR_STATE_BULK_GET": "state",
      "ERR_NOT_SUPPORTED_STATE_OPERATION": "state", "ERR_STATE_QUERY": "state",
      "ERR_STATE_STORE_NOT_FOUND": "state",
      "ERR_STATE_STORE_NOT_CONFIGURED": "state", "ERR_STATE_STORE_NOT_SUPPORTED": "state",
      "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS": "state",
      // Secrets
      "ERR_SECRET_GET": "secret", "ERR_SECRET_STORE_NOT_FOUND": "secret",
      "ERR_SECRET_STORES_NOT_CONFIGURED": "secret",
      "ERR_PERMISSION_DENIED": "secret",
      // Pub/sub
      "ERR_PUBSUB_EMPTY": "pubsub", "ERR_PUBSUB_NOT_FOUND": "pubsub",
      "ERR_PUBSUB_NOT_CONFIGURED": "pubsub",
      "ERR_TOPIC_NAME_EMPTY": "pubsub", "ERR_PUBSUB_FORBIDDEN": "pubsub",
      "ERR_PUBSUB_PUBLISH_MESSAGE": "pubsub",
      "ERR_PUBSUB_REQUEST_METADATA": "pubsub", "ERR_PUBSUB_CLOUD_EVENTS_SER": "pubsub",
      "ERR_PUBSUB_EVENTS_SER": "pubsub",
      "ERR_PUBLISH_OUTBOX": "pubsub", "ERR_PUBSUB_SUBSCRIBE": "pubsub",
      // Bindings
      "ERR_INVOKE_OUTPUT_BINDING": "binding",
      // Health
      "ERR_HEALTH_NOT_READY": "health", "ERR_HEALTH_APPID_NOT_MATCH": "health",
      "ERR_OUTBOUND_HEALTH_NOT_READY": "health",
      // Common
      "ERR_API_UNIMPLEMENTED": "common", "ERR_BAD_REQUEST": "common", "ERR_BODY_READ": "common",
      "ERR_INTERNAL": "common",
      "ERR_MALFORMED_REQUEST": "common", "ERR_MALFORMED_REQUEST_DATA": "common",
      "ERR_MALFORMED_RESPONSE": "common",
      "ERROR": "common",
      // apiary's own
      "ERR_COMPONENT_NOT_READY": pluggable, "ERR_COMPONENT_TIMEOUT": pluggable,
      "ERR_COMPONENT_NOT_FOUND": pluggable,
      "ERR_HELLO": "common", "ERR_HELLO_NOT_FOUND": "common", "ERR_METADATA_LIMIT": "common",
      "ERR_BODY_TOO_LARGE": "common", "ERR_API_TOKEN": "common", "ERR_NOT_FOUND": "common",
      "ERR_NOT_SUPPORTED": "common",
      "ERR_LOGS_OFF": "common",
    ]
    // The HTTP port's answers for Hummingbird's own errors (`ERR_` and the reason phrase,
    // `ERR_HTTP_<code>` without one).
    let named: [HTTPResponse.Status] = [
      .badRequest, .unauthorized, .forbidden, .notFound, .methodNotAllowed, .notAcceptable,
      .proxyAuthenticationRequired, .requestTimeout, .conflict, .gone, .lengthRequired,
      .preconditionFailed,
      .contentTooLarge, .uriTooLong, .unsupportedMediaType, .rangeNotSatisfiable,
      .expectationFailed,
      .misdirectedRequest, .unprocessableContent, .tooEarly, .upgradeRequired,
      .preconditionRequired,
      .tooManyRequests, .requestHeaderFieldsTooLarge, .unavailableForLegalReasons,
      .internalServerError,
      .notImplemented, .badGateway, .serviceUnavailable, .gatewayTimeout, .httpVersionNotSupported,
      .networkAuthenticationRequired,
    ]
    for status in named + (400...599).map({ HTTPResponse.Status(code: $0) }) {
      let name = ErrorBodyMiddleware.errorCode(status)
      if table[name] == nil { table[name] = "common" }
    }
    return table
  }()

  /// The category of `code`, and whether the code is one of daprd's or apiary's (a
  /// component's own code is not). `ERR_MALFORMED_REQUEST` is daprd's state category
  /// for an illegal key (`DAPR_STATE_ILLEGAL_KEY`), common otherwise.
  static func of(code: String, reason: String?) -> (category: String, known: Bool) {
    if code == "ERR_MALFORMED_REQUEST", reason == "DAPR_STATE_ILLEGAL_KEY" {
      return ("state", true)
    }
    if let category = table[code] { return (category, true) }
    return (pluggable, false)
  }
}
