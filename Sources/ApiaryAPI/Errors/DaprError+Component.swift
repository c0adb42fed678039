import ApiaryRuntime
import GRPCCore
import GRPCProtobuf
import HTTPTypes

/// How a component's error reaches the app (spec §1.5).
extension DaprError {
  /// The text daprd embeds as `{err}` for a component error: its status in Go's words
  /// (`rpc error: code = Unknown desc = …`), an etag error's own message, or apiary's
  /// sentence.
  static func text(of error: any Error) -> String {
    switch error {
    case let error as ComponentCallError: error.daprText
    case let error as StateStoreError:
      switch error {
      // components-contrib's ETagError wording, which daprd quotes in every message.
      case .etagMismatch(let message): "possible etag mismatch. error from state store: \(message)"
      case .etagInvalid(let message): "invalid etag value: \(message)"
      case .bulkDeleteRowMismatch(let message), .unsupported(let message): message
      case .queryNotSupported: error.description
      }
    case let error as DaprError: error.message
    default: "\(error)"
    }
  }

  /// A component's rich error passed to the app as it is: a status whose details hold
  /// exactly one ErrorInfo with metadata `kit_error: "true"`; `http_code` and `tag`
  /// give the HTTP status and errorCode. Nil for any other error.
  static func componentRich(_ error: any Error) -> DaprError? {
    guard let status = (error as? ComponentCallError)?.status, let details = status.details else {
      return nil
    }
    let infos = details.details.compactMap(\.errorInfo)
    guard infos.count == 1, let info = infos.first, info.metadata["kit_error"] == "true" else {
      return nil
    }
    let httpCode = info.metadata["http_code"].flatMap(Int.init) ?? 500
    var metadata = info.metadata
    for key in ["kit_error", "http_code", "tag"] { metadata[key] = nil }
    return DaprError(
      code: status.code, status: HTTPResponse.Status(code: httpCode),
      errorCode: info.metadata["tag"].flatMap { $0.isEmpty ? nil : $0 } ?? info.reason,
      message: status.message,
      reason: info.reason, metadata: metadata)
  }
}
