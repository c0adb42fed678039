import ApiaryRuntime
import Foundation
import GRPCCore
import HTTPTypes

/// Bindings, secrets and bodies: daprd's legacy errors (spec §1.4), code and message only.
extension DaprError {
  /// An output binding call failed; `problem` is daprd's inner text. Rich on gRPC
  /// (an ErrorInfo with the errorCode as reason), legacy on HTTP.
  static func invokeBinding(_ name: String, problem: String) -> DaprError {
    var error = DaprError(
      code: .internalError, status: .internalServerError, errorCode: "ERR_INVOKE_OUTPUT_BINDING",
      message: "error invoking output binding \(name): \(problem)",
      reason: "ERR_INVOKE_OUTPUT_BINDING")
    error.httpLegacy = true
    return error
  }

  /// An output binding call the component failed.
  static func invokeBinding(_ name: String, _ error: any Error) -> DaprError {
    componentRich(error) ?? componentTransport(error, component: name)
      ?? invokeBinding(name, problem: text(of: error))
  }

  /// No secret store is configured at all.
  static func secretStoresNotConfigured() -> DaprError {
    DaprError(
      code: .failedPrecondition, status: .internalServerError,
      errorCode: "ERR_SECRET_STORES_NOT_CONFIGURED",
      message: "secret store is not configured")
  }

  /// No secret store has that name (401 on HTTP, as daprd answers).
  static func secretStoreNotFound(_ store: String) -> DaprError {
    DaprError(
      code: .invalidArgument, status: .unauthorized, errorCode: "ERR_SECRET_STORE_NOT_FOUND",
      message: "failed finding secret store with key \(store)")
  }

  /// A key the Configuration's secret scopes deny.
  static func secretDenied(key: String, store: String) -> DaprError {
    DaprError(
      code: .permissionDenied, status: .forbidden, errorCode: "ERR_PERMISSION_DENIED",
      message: "access denied by policy to get \(goQuoted(key)) from \(goQuoted(store))")
  }

  /// The component's Get failed (a missing secret too).
  static func secretGet(key: String, store: String, _ error: any Error) -> DaprError {
    componentRich(error) ?? componentTransport(error, component: store)
      ?? DaprError(
        code: .internalError, status: .internalServerError, errorCode: "ERR_SECRET_GET",
        message:
          "failed getting secret with key \(key) from secret store \(store): \(text(of: error))")
  }

  /// The component's BulkGet failed.
  static func secretBulkGet(store: String, _ error: any Error) -> DaprError {
    componentRich(error) ?? componentTransport(error, component: store)
      ?? DaprError(
        code: .internalError, status: .internalServerError, errorCode: "ERR_SECRET_GET",
        message: "failed getting secrets from secret store \(store): \(text(of: error))")
  }

  /// A request body that could not be read.
  static func bodyRead(_ problem: String) -> DaprError {
    DaprError(.invalidArgument, "ERR_BODY_READ", "failed to read request body: \(problem)")
  }

  /// `text` as Go's `%q` writes it: in double quotes, with `"` and `\` escaped.
  static func goQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7f {
          out += String(format: "\\x%02x", scalar.value)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}
