import ComponentKit
import Foundation
import GRPCCore
import GRPCProtobuf
import HTTPTypes
import Hummingbird

/// An error the app API answers with, as daprd answers it: the one place where errors
/// become gRPC statuses and HTTP responses (see `../shared/spec/dapr-behaviour.md` §1).
///
/// Handlers throw it. On gRPC (``RPCErrorConvertible``) it is the status code, the
/// message and, for Dapr's rich errors, `grpc-status-details-bin` holding a
/// `google.rpc.Status` with the same code and message and the details (an
/// `ErrorInfo` with domain `dapr.io`, and `ResourceInfo`, `BadRequest`, `Help` where
/// daprd sends them). On HTTP (``HTTPResponseError``) it is the status and the JSON body
/// `{"errorCode", "message", "details"}`, details in Go's field names. A legacy error
/// (no ``reason``) has no details on either surface.
///
/// The situations of the spec are the static constructors in the `DaprError+…` files,
/// so every message text is written once.
public struct DaprError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A `google.rpc.ResourceInfo`.
  public struct Resource: Sendable, Equatable {
    public var type: String
    public var name: String
    public var owner: String = ""
    public var description: String = ""
  }

  /// A `google.rpc.BadRequest` field violation.
  public struct Violation: Sendable, Equatable {
    public var field: String
    public var description: String
  }

  /// A `google.rpc.Help` link.
  public struct Link: Sendable, Equatable {
    public var description: String
    public var url: String
  }

  /// The domain of every ErrorInfo daprd sends.
  public static let domain = "dapr.io"

  /// The gRPC status code.
  public var code: RPCError.Code
  /// The HTTP status.
  public var status: HTTPResponse.Status
  /// The message, the same on both surfaces unless ``httpMessage`` is set.
  public var message: String
  /// The HTTP body's `errorCode` (daprd's legacy tag, e.g. `ERR_STATE_STORE_NOT_FOUND`).
  public var errorCode: String
  /// The ErrorInfo reason (e.g. `DAPR_STATE_NOT_FOUND`); nil for a legacy error.
  public var reason: String?
  /// The ErrorInfo metadata on gRPC.
  public var metadata: [String: String] = [:]
  /// The ErrorInfo metadata on HTTP, where daprd adds the app id or the request's
  /// metadata; nil: the same as ``metadata``.
  public var httpMetadata: [String: String]?
  public var resource: Resource?
  public var violations: [Violation] = []
  public var links: [Link] = []
  /// The message on HTTP, where daprd words it differently; nil: ``message``.
  public var httpMessage: String?
  /// Whether the HTTP body leaves the details out (daprd answers some errors rich on
  /// gRPC but legacy on HTTP).
  public var httpLegacy = false

  /// The longest message kept whole, in characters: messages quote the bad input
  /// (a key, a component's own error), which can be megabytes, and a gRPC status
  /// message travels in a header.
  public static let maximumMessageLength = ErrorMessage.maximumLength

  /// An error with a complete wording; `message` is cut as ``ErrorMessage/bounded(_:)``
  /// cuts it when longer than ``maximumMessageLength``.
  public init(
    code: RPCError.Code, status: HTTPResponse.Status, errorCode: String, message: String,
    reason: String? = nil,
    metadata: [String: String] = [:]
  ) {
    self.code = code
    self.status = status
    self.errorCode = errorCode
    self.message = ErrorMessage.bounded(message)
    self.reason = reason
    self.metadata = metadata
  }

  public var description: String { "\(errorCode): \(message)" }

  // MARK: - gRPC

  /// The `google.rpc.Status` details, in daprd's order: BadRequest and Help, then
  /// ResourceInfo, then ErrorInfo. Empty for a legacy error.
  var rpcDetails: [ErrorDetails] {
    guard let reason else { return [] }
    var details: [ErrorDetails] = []
    if !violations.isEmpty {
      details.append(
        .badRequest(
          violations: violations.map { .init(field: $0.field, description: $0.description) }))
    }
    if !links.isEmpty {
      details.append(.help(links: links.map { .init(url: $0.url, description: $0.description) }))
    }
    if let resource {
      details.append(
        .resourceInfo(
          type: resource.type, name: resource.name, errorDescription: resource.description,
          owner: resource.owner))
    }
    details.append(.errorInfo(reason: reason, domain: Self.domain, metadata: metadata))
    return details
  }

  // MARK: - HTTP

  /// The HTTP body: `{"errorCode", "message"}`, plus `details` for a rich error.
  public var httpBody: [String: Any] {
    var body: [String: Any] = [
      "errorCode": errorCode, "message": ErrorMessage.bounded(httpMessage ?? message),
    ]
    guard let reason, !httpLegacy else { return body }
    var details: [[String: Any]] = []
    if !violations.isEmpty {
      details.append([
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "field_violations": violations.map { ["field": $0.field, "description": $0.description] },
      ])
    }
    if !links.isEmpty {
      details.append([
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": links.map { ["description": $0.description, "url": $0.url] },
      ])
    }
    if let resource {
      details.append([
        "@type": "type.googleapis.com/google.rpc.ResourceInfo", "resource_type": resource.type,
        "resource_name": resource.name, "owner": resource.owner,
        "description": resource.description,
      ])
    }
    let shown = httpMetadata ?? metadata
    details.append([
      "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": Self.domain,
      "metadata": shown.isEmpty ? NSNull() : shown as Any,
    ])
    body["details"] = details
    return body
  }

  /// The HTTP response.
  public var httpResponse: Response {
    HTTPResponses.json(httpBody, status: status)
  }
}

extension DaprError: RPCErrorConvertible {
  public var rpcErrorCode: RPCError.Code { code }
  public var rpcErrorMessage: String { message }

  /// `grpc-status-details-bin` for a rich error, and apiary's `error-code` trailer
  /// (the HTTP errorCode) on every error.
  public var rpcErrorMetadata: Metadata {
    var metadata: Metadata = ["error-code": .string(errorCode)]
    let details = rpcDetails
    if !details.isEmpty {
      metadata.add(
        contentsOf: GoogleRPCStatus(code: code, message: message, details: details).rpcErrorMetadata
      )
    }
    return metadata
  }
}

extension DaprError: HTTPResponseError {
  public func response(from request: Request, context: some RequestContext) throws -> Response {
    httpResponse
  }
}
