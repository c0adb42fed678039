import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Every error answer of the HTTP port carries a `{"errorCode", "message"}` body, as
/// the routes' own errors do: unknown paths and methods (404), Hummingbird's errors,
/// and any other error a handler throws (500), which would otherwise go out empty.
///
/// Each error answered is counted in `dapr_error_code_total` when the metrics record
/// error codes.
struct ErrorBodyMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  /// Where error codes are counted; nil: not counted.
  var metrics: APIMetrics? = nil

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    do {
      return try await next(request, context)
    } catch let error as DaprError {
      metrics?.error(code: error.errorCode, reason: error.reason)
      return error.httpResponse
    } catch let error as HTTPError {
      if request.method == .connect {
        // No route takes CONNECT (Apiary is no proxy); its answer cannot carry a body.
        metrics?.error(code: Self.errorCode(.methodNotAllowed), reason: nil)
        return Response(status: .methodNotAllowed, headers: [.allow: "GET, POST, PUT, DELETE"])
      }
      if error.status == .notFound {
        metrics?.error(code: "ERR_NOT_FOUND", reason: nil)
        return DaprError(
          .notFound, "ERR_NOT_FOUND",
          "no route for \(request.method) \(request.uri.path): see the Dapr HTTP API (/v1.0/...) and /actuator"
        ).httpResponse
      }
      metrics?.error(code: Self.errorCode(error.status), reason: nil)
      var response = HTTPResponses.json(
        [
          "errorCode": Self.errorCode(error.status),
          "message": error.body ?? error.status.reasonPhrase,
        ],
        status: error.status)
      response.headers.append(contentsOf: error.headers)
      return response
    } catch {
      // Any other error reaching the HTTP layer: daprd's 500 {"errorCode":"ERROR"}.
      metrics?.error(code: "ERROR", reason: nil)
      return DaprError(
        code: .internalError, status: .internalServerError, errorCode: "ERROR", message: "\(error)"
      )
      .httpResponse
    }
  }

  /// `ERR_` and the reason phrase in capitals, e.g. `ERR_PAYLOAD_TOO_LARGE`.
  static func errorCode(_ status: HTTPResponse.Status) -> String {
    let words = status.reasonPhrase.uppercased().split(whereSeparator: {
      !$0.isLetter && !$0.isNumber
    })
    return words.isEmpty ? "ERR_HTTP_\(status.code)" : "ERR_" + words.joined(separator: "_")
  }
}

/// Two answers that only the connection can mend, between the HTTP codec and the
/// request handling (it sees requests and responses as parts):
///
/// - Hummingbird's answer to a request that is not valid HTTP/1.1 (a 400 with
///   `Content-Length: 0` and `Connection: close`, written before the connection
///   closes) gets a JSON error body. The routes' own 400s always have a body and pass
///   through unchanged.
/// - A response to `CONNECT` goes out without a body or length (NIO's encoder frames
///   every CONNECT response as a tunnel switch), so the client could only find its end
///   when the connection closes: the connection is closed after it.
final class ConnectionLevelAnswers: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPRequestPart
  typealias InboundOut = HTTPRequestPart
  typealias OutboundIn = HTTPResponsePart
  typealias OutboundOut = HTTPResponsePart

  static let body = ByteBuffer(
    string:
      #"{"errorCode":"ERR_MALFORMED_REQUEST","message":"the request is not valid HTTP/1.1; the connection is closed"}"#
  )

  private var answeringConnect = false

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .head(let head) = unwrapInboundIn(data), head.method == .connect {
      answeringConnect = true
    }
    context.fireChannelRead(data)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    switch unwrapOutboundIn(data) {
    case .head(var head)
    where head.status == .badRequest && head.headerFields[.contentLength] == "0"
      && head.headerFields[.connection] == "close":
      head.headerFields[.contentLength] = String(Self.body.readableBytes)
      head.headerFields[.contentType] = "application/json"
      context.write(wrapOutboundOut(.head(head)), promise: nil)
      context.write(wrapOutboundOut(.body(Self.body)), promise: promise)
    case .end where answeringConnect:
      answeringConnect = false
      // Completions run on the channel's event loop, where the context belongs.
      let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
      context.writeAndFlush(data).whenComplete { result in
        bound.value.close(promise: nil)
        promise?.completeWith(result)
      }
    default:
      context.write(data, promise: promise)
    }
  }
}
