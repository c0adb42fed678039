import ApiaryRuntime
import Foundation

/// A CloudEvents 1.0 envelope in its JSON form, as Dapr publishes and delivers it.
///
/// Written by hand: no listed library speaks CloudEvents. The envelope is kept as
/// JSON text; the attributes the sidecar needs are read from it.
public struct CloudEvent: Sendable, Equatable {
  /// The content type of a JSON envelope.
  public static let contentType = "application/cloudevents+json"
  /// The `type` Dapr gives events it wraps.
  public static let defaultType = "com.dapr.event.sent"

  /// The envelope as JSON (an object).
  public let json: Data
  public let id: String
  public let source: String
  public let type: String
  public let specVersion: String
  public let dataContentType: String
  public let topic: String
  public let pubsubName: String
  /// The payload: `data_base64` decoded, a string `data` as its UTF-8 text unless the
  /// content type is JSON, any other `data` as JSON text.
  public let data: Data
  /// The attributes not listed above, as a JSON object (for gRPC `extensions`).
  public let extensionsJSON: Data

  private static let known: Set<String> = [
    "id", "source", "type", "specversion", "datacontenttype", "topic", "pubsubname", "data", "data_base64",
  ]

  /// Whether `contentType` names a JSON payload (`application/json`, `…+json`).
  public static func isJSON(_ contentType: String) -> Bool {
    let base = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    return base == "application/json" || base.hasSuffix("+json") || base == "text/json"
  }

  /// Wraps a published payload in an envelope, unless it is one already (content
  /// type `application/cloudevents+json`), in which case the missing attributes are
  /// filled in.
  ///
  /// - Throws: ``APIError`` `invalidArgument` when a CloudEvents payload is not a JSON
  ///   object.
  public static func wrap(
    payload: Data, contentType: String, topic: String, pubsubName: String, source: String
  ) throws(APIError) -> CloudEvent {
    var envelope: [String: Any]
    if contentType.lowercased().hasPrefix(Self.contentType) {
      guard let object = try? JSONSerialization.jsonObject(with: payload) as? [String: Any] else {
        throw APIError(
          .invalidArgument, "ERR_PUBSUB_CLOUD_EVENTS_SER",
          "the payload has content type \(Self.contentType) but is not a JSON object")
      }
      envelope = object
    } else {
      envelope = [:]
      if isJSON(contentType), let value = try? JSONSerialization.jsonObject(with: payload, options: .fragmentsAllowed) {
        envelope["data"] = value
      } else if let text = String(data: payload, encoding: .utf8) {
        envelope["data"] = text
      } else {
        envelope["data_base64"] = payload.base64EncodedString()
      }
      envelope["datacontenttype"] = contentType
    }
    func fill(_ key: String, _ value: String) {
      if (envelope[key] as? String)?.isEmpty ?? true { envelope[key] = value }
    }
    fill("id", UUID().uuidString.lowercased())
    fill("source", source)
    fill("type", defaultType)
    fill("specversion", "1.0")
    fill("datacontenttype", "application/json")
    envelope["topic"] = topic
    envelope["pubsubname"] = pubsubName
    return CloudEvent(object: envelope)
  }

  /// The JSON of the envelope ``wrap(payload:contentType:topic:pubsubName:source:)``
  /// makes, written directly: the publish path needs only the bytes, and building the
  /// attributes, a sorted dictionary and the decoded data costs more than the call
  /// itself (see BENCHMARKS.md). A JSON payload is embedded as it came (after checking
  /// that it parses); a CloudEvents payload takes the general path.
  public static func envelopeJSON(
    payload: Data, contentType: String, topic: String, pubsubName: String, source: String
  ) throws(APIError) -> Data {
    if contentType.lowercased().hasPrefix(Self.contentType) {
      return try wrap(payload: payload, contentType: contentType, topic: topic, pubsubName: pubsubName, source: source).json
    }
    var out = Data()
    out.reserveCapacity(payload.count * 4 / 3 + 320)
    if isJSON(contentType), (try? JSONSerialization.jsonObject(with: payload, options: .fragmentsAllowed)) != nil {
      out.append(contentsOf: #"{"data":"#.utf8)
      out.append(payload)
    } else if let text = String(data: payload, encoding: .utf8) {
      out.append(contentsOf: #"{"data":"#.utf8)
      out.append(contentsOf: JSONText.quoted(text).utf8)
    } else {
      out.append(contentsOf: #"{"data_base64":""#.utf8)
      out.append(payload.base64EncodedData())
      out.append(contentsOf: #"""#.utf8)
    }
    let attributes: [(String, String)] = [
      ("datacontenttype", contentType.isEmpty ? "application/json" : contentType),
      ("id", UUID().uuidString.lowercased()),
      ("pubsubname", pubsubName),
      ("source", source),
      ("specversion", "1.0"),
      ("topic", topic),
      ("type", defaultType),
    ]
    for (key, value) in attributes {
      out.append(contentsOf: ",\"\(key)\":\(JSONText.quoted(value))".utf8)
    }
    out.append(contentsOf: "}".utf8)
    return out
  }

  /// Reads a delivered message: a CloudEvents envelope as is, anything else (a raw
  /// payload published by a non-Dapr producer) wrapped as Dapr does.
  public static func read(
    delivered payload: Data, contentType: String?, topic: String, pubsubName: String, messageID: String
  ) -> CloudEvent {
    if let object = try? JSONSerialization.jsonObject(with: payload) as? [String: Any], object["specversion"] != nil {
      var envelope = object
      if (envelope["topic"] as? String)?.isEmpty ?? true { envelope["topic"] = topic }
      if (envelope["pubsubname"] as? String)?.isEmpty ?? true { envelope["pubsubname"] = pubsubName }
      return CloudEvent(object: envelope)
    }
    let wrapped = try? wrap(
      payload: payload, contentType: contentType.flatMap { $0.isEmpty ? nil : $0 } ?? "application/octet-stream",
      topic: topic, pubsubName: pubsubName, source: pubsubName)
    if let wrapped { return wrapped }
    return CloudEvent(object: ["id": messageID, "data_base64": payload.base64EncodedString(), "topic": topic])
  }

  private init(object: [String: Any]) {
    json = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    func string(_ key: String) -> String { (object[key] as? String) ?? "" }
    id = string("id")
    source = string("source")
    type = string("type")
    specVersion = string("specversion")
    dataContentType = string("datacontenttype")
    topic = string("topic")
    pubsubName = string("pubsubname")
    if let encoded = object["data_base64"] as? String, let bytes = Data(base64Encoded: encoded) {
      data = bytes
    } else if let text = object["data"] as? String, !Self.isJSON(string("datacontenttype")) {
      data = Data(text.utf8)
    } else if let value = object["data"], !(value is NSNull) {
      data = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])) ?? Data()
    } else {
      data = Data()
    }
    let extensions = object.filter { !Self.known.contains($0.key) }
    extensionsJSON = (try? JSONSerialization.data(withJSONObject: extensions, options: [.sortedKeys])) ?? Data("{}".utf8)
  }
}
