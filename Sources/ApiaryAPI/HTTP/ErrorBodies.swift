import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Every error answer of the HTTP port carries a `{"errorCode", "message"}` body, as
/// the routes' own errors do: unknown paths and methods (404), Hummingbird's errors,
/// and any other error a handler throws (500), which would otherwise go out empty.
struct ErrorBodyMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    do {
      return try await next(request, context)
    } catch let error as APIError {
      return HTTPResponses.error(error)
    } catch let error as HTTPError {
      if error.status == .notFound {
        return HTTPResponses.error(
          APIError(
            .notFound, "ERR_NOT_FOUND",
            "no route for \(request.method) \(request.uri.path): see the Dapr HTTP API (/v1.0/...) and /actuator"))
      }
      var response = HTTPResponses.json(
        ["errorCode": Self.errorCode(error.status), "message": error.body ?? error.status.reasonPhrase],
        status: error.status)
      response.headers.append(contentsOf: error.headers)
      return response
    } catch {
      return HTTPResponses.error(APIError(.failed, "ERR_INTERNAL", "the request failed: \(error)"))
    }
  }

  /// `ERR_` and the reason phrase in capitals, e.g. `ERR_PAYLOAD_TOO_LARGE`.
  static func errorCode(_ status: HTTPResponse.Status) -> String {
    let words = status.reasonPhrase.uppercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber })
    return words.isEmpty ? "ERR_HTTP_\(status.code)" : "ERR_" + words.joined(separator: "_")
  }
}

/// Gives Hummingbird's answer to a request that is not valid HTTP/1.1 (a 400 with
/// `Content-Length: 0` and `Connection: close`, written before the connection closes)
/// a JSON error body. Sits between the HTTP codec and the request handling, so it
/// sees that answer as response parts; the routes' own 400s always have a body and
/// pass through unchanged.
final class MalformedRequestBody: ChannelOutboundHandler, RemovableChannelHandler {
  typealias OutboundIn = HTTPResponsePart
  typealias OutboundOut = HTTPResponsePart

  static let body = ByteBuffer(
    string: #"{"errorCode":"ERR_MALFORMED_REQUEST","message":"the request is not valid HTTP/1.1; the connection is closed"}"#)

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    guard case .head(var head) = unwrapOutboundIn(data), head.status == .badRequest,
      head.headerFields[.contentLength] == "0", head.headerFields[.connection] == "close"
    else {
      context.write(data, promise: promise)
      return
    }
    head.headerFields[.contentLength] = String(Self.body.readableBytes)
    head.headerFields[.contentType] = "application/json"
    context.write(wrapOutboundOut(.head(head)), promise: nil)
    context.write(wrapOutboundOut(.body(Self.body)), promise: promise)
  }
}
