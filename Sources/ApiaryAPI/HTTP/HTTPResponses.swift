import Foundation
import Hummingbird

/// Building HTTP responses and reading request bodies for the Dapr HTTP API.
enum HTTPResponses {
  static let json: HTTPFields = [.contentType: "application/json"]

  /// A JSON response from a JSON-serialisable value (dictionaries, arrays, strings…).
  static func json(_ value: Any, status: HTTPResponse.Status = .ok) -> Response {
    let data =
      (try? JSONSerialization.data(
        withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]))
      ?? Data()
    return Response(
      status: status, headers: json, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
  }

  /// A JSON response from a typed body, written as ``json(_:status:)`` writes JSON
  /// (sorted keys, slashes as they are).
  static func json(encoding value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? encoder.encode(value)) ?? Data()
    return Response(
      status: status, headers: json, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
  }

  static let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }()

  /// Raw bytes with `contentType`.
  static func bytes(
    _ data: Data, contentType: String?, status: HTTPResponse.Status = .ok
  ) -> Response {
    var headers = HTTPFields()
    if let contentType, !contentType.isEmpty { headers[.contentType] = contentType }
    return Response(
      status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
  }

  static let noContent = Response(status: .noContent)

  /// A state value as it appears in a JSON document: embedded when it is JSON,
  /// else as text, else base64.
  static func embedded(_ data: Data) -> Any {
    if let value = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) {
      return value
    }
    if let text = String(data: data, encoding: .utf8) { return text }
    return data.base64EncodedString()
  }
}

extension Request {
  /// The body, at most `limit` bytes.
  ///
  /// - Throws: ``DaprError`` `tooLarge` (413) when the body is larger.
  func collectBody(limit: Int) async throws(DaprError) -> Data {
    let tooLarge = DaprError.bodyTooLarge(limit: limit)
    if let declared = headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
    do {
      let buffer = try await body.collect(upTo: limit)
      return Data(buffer: buffer)
    } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
      throw tooLarge
    } catch {
      throw DaprError.bodyRead("\(error)")
    }
  }

  /// The body parsed as JSON.
  ///
  /// - Throws: ``DaprError`` `tooLarge`, or `invalidArgument` (`ERR_MALFORMED_REQUEST`)
  ///   saying what is wrong with the JSON.
  func jsonBody(limit: Int) async throws(DaprError) -> Any {
    let data = try await collectBody(limit: limit)
    do {
      return try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
    } catch {
      throw Self.notJSON(error)
    }
  }

  /// The body decoded as `Body`.
  ///
  /// - Parameters:
  ///   - shapeProblem: What is thrown when the body is JSON of another shape.
  ///   - notJSON: What is thrown when the body is not JSON at all; by default
  ///     `ERR_MALFORMED_REQUEST` saying what is wrong with the JSON, as ``jsonBody(limit:)``.
  /// - Throws: ``DaprError`` `tooLarge`, `notJSON` or `shapeProblem`.
  func decodedBody<Body: Decodable>(
    _ type: Body.Type, limit: Int, shapeProblem: DaprError, notJSON: DaprError? = nil
  ) async throws(DaprError) -> Body {
    let data = try await collectBody(limit: limit)
    do {
      return try JSONDecoder().decode(Body.self, from: data)
    } catch {
      // Foundation's parser says best what is wrong with text that is not JSON.
      do {
        _ = try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
      } catch {
        throw notJSON ?? Self.notJSON(error)
      }
      throw shapeProblem
    }
  }

  private static func notJSON(_ error: any Error) -> DaprError {
    DaprError(
      .invalidArgument, "ERR_MALFORMED_REQUEST",
      "the request body is not valid JSON: \(JSONProblem.describe(error))")
  }

  /// The `metadata.<name>=<value>` query parameters, as Dapr passes request metadata.
  var queryMetadata: [String: String] {
    var metadata: [String: String] = [:]
    for (key, value) in uri.queryParameters where key.hasPrefix("metadata.") {
      metadata[String(key.dropFirst("metadata.".count))] = String(value)
    }
    return metadata
  }
}

/// Foundation's JSON error as one short sentence.
enum JSONProblem {
  static func describe(_ error: any Error) -> String {
    let nsError = error as NSError
    if let debug = nsError.userInfo[NSDebugDescriptionErrorKey] as? String { return debug }
    return "\(error)"
  }
}

extension Data {
  init(buffer: ByteBuffer) {
    self = buffer.withUnsafeReadableBytes { Data($0) }
  }
}
