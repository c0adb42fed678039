import ApiaryRuntime
import Foundation

/// A CloudEvents 1.0 envelope in its JSON form, as Dapr publishes and delivers it
/// (spec §6.4).
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
  /// The attributes gRPC has no field for, as a JSON object (its `extensions`).
  public let extensionsJSON: Data
  /// The envelope as a value, for routing rules and the expiration check.
  public let value: JSONValue

  /// The attributes gRPC carries in fields of their own; every other one, `topic` and
  /// `pubsubname` included, goes into `extensions`, as daprd sends them.
  private static let known: Set<String> = [
    "id", "source", "type", "specversion", "datacontenttype", "data", "data_base64",
  ]

  /// Whether `contentType` names a JSON payload (`application/json`, `…+json`).
  public static func isJSON(_ contentType: String) -> Bool {
    let base = baseType(contentType)
    return base == "application/json" || base.hasSuffix("+json") || base == "text/json"
  }

  /// The media type without parameters, lower-cased.
  static func baseType(_ contentType: String) -> String {
    contentType.split(separator: ";").first.map {
      $0.trimmingCharacters(in: .whitespaces).lowercased()
    } ?? ""
  }

  /// Whether `contentType` is a CloudEvents envelope.
  static func isEnvelope(_ contentType: String) -> Bool {
    baseType(contentType) == Self.contentType
  }

  /// RFC 3339 now, as the `time` attribute.
  public static func timestamp(_ date: Date = Date()) -> String {
    date.formatted(.iso8601)
  }

  /// What a publish request asks of its envelope, beyond the payload: the
  /// `cloudevent.*` overrides (matched case-insensitively), a TTL, and the request's
  /// trace context.
  public struct Publication: Sendable {
    public var appID: String
    public var topic: String
    public var pubsubName: String
    public var metadata: [String: String]
    public var trace: TraceContext?
    /// Whether the pub/sub applies a TTL itself (`MESSAGE_TTL`): then no `expiration`.
    public var componentHandlesTTL = false

    public init(
      appID: String, topic: String, pubsubName: String, metadata: [String: String] = [:],
      trace: TraceContext? = nil
    ) {
      self.appID = appID
      self.topic = topic
      self.pubsubName = pubsubName
      self.metadata = metadata
      self.trace = trace
    }

    /// A `cloudevent.<name>` override, any case.
    func override(_ name: String) -> String? {
      let wanted = "cloudevent.\(name)"
      return metadata.first { $0.key.lowercased() == wanted }.map(\.value).flatMap {
        $0.isEmpty ? nil : $0
      }
    }

    /// The TTL in seconds (`ttlInSeconds`, else `ttl`), when set and valid.
    var ttlSeconds: Int? {
      (metadata["ttlInSeconds"] ?? metadata["ttl"]).flatMap { Int($0) }.flatMap {
        $0 > 0 ? $0 : nil
      }
    }
  }

  /// The envelope of a published payload, as daprd builds it: a new envelope, or the
  /// payload's own when it is sent as `application/cloudevents+json` (then only
  /// `topic` and `pubsubname` are forced and the missing attributes filled in).
  ///
  /// - Throws: ``DaprError`` `cloudEventCreation` when a CloudEvents payload is not a
  ///   JSON object.
  public static func envelope(
    payload: Data, contentType: String, _ publication: Publication
  ) throws(DaprError) -> Data {
    if isEnvelope(contentType) {
      guard case .object(var envelope)? = try? JSONValue(json: payload) else {
        throw .cloudEventCreation(
          pubsub: publication.pubsubName, appID: publication.appID,
          problem: "the payload has content type \(Self.contentType) but is not a JSON object")
      }
      envelope["topic"] = .string(publication.topic)
      envelope["pubsubname"] = .string(publication.pubsubName)
      func fill(_ key: String, _ value: String) {
        if case .string(let present)? = envelope[key], !present.isEmpty { return }
        envelope[key] = .string(value)
      }
      fill("id", UUID().uuidString.lowercased())
      fill("source", "Dapr")
      fill("type", defaultType)
      fill("specversion", "1.0")
      fill("time", timestamp())
      if let trace = publication.trace {
        fill("traceid", trace.traceparent)
        fill("traceparent", trace.traceparent)
        fill("tracestate", trace.tracestate)
      }
      return JSONValue.object(envelope).jsonData
    }
    return newEnvelope(payload: payload, contentType: contentType, publication)
  }

  /// A new envelope, its JSON written directly: the publish path needs only the bytes,
  /// and building a dictionary costs more than the call itself (BENCHMARKS.md). A JSON
  /// payload is embedded as it came, after checking that it parses.
  static func newEnvelope(payload: Data, contentType: String, _ publication: Publication) -> Data {
    let type = contentType.isEmpty ? "text/plain" : contentType
    var out = Data()
    out.reserveCapacity(payload.count * 4 / 3 + 400)
    let base = baseType(type)
    if isJSON(type),
      (try? JSONSerialization.jsonObject(with: payload, options: .fragmentsAllowed)) != nil
    {
      out.append(contentsOf: #"{"data":"#.utf8)
      out.append(payload)
    } else if base == "application/octet-stream" || base == "application/cloudevents+protobuf"
      || String(data: payload, encoding: .utf8) == nil
    {
      out.append(contentsOf: #"{"data_base64":""#.utf8)
      out.append(payload.base64EncodedData())
      out.append(contentsOf: #"""#.utf8)
    } else {
      out.append(contentsOf: #"{"data":"#.utf8)
      out.append(contentsOf: JSONText.quoted(String(decoding: payload, as: UTF8.self)).utf8)
    }
    var attributes: [(String, String)] = [
      ("datacontenttype", type),
      ("id", publication.override("id") ?? UUID().uuidString.lowercased()),
      ("pubsubname", publication.pubsubName),
      ("source", publication.override("source") ?? publication.appID),
      ("specversion", "1.0"),
      ("time", timestamp()),
      ("topic", publication.topic),
      ("type", publication.override("type") ?? defaultType),
    ]
    if let subject = publication.override("subject") { attributes.append(("subject", subject)) }
    // The request's own trace context, else the overrides (traceparent wins over traceid).
    let traceparent =
      publication.trace?.traceparent ?? publication.override("traceparent")
      ?? publication.override("traceid")
    if let traceparent {
      attributes.append(("traceid", traceparent))
      attributes.append(("traceparent", traceparent))
      attributes.append(
        ("tracestate", publication.trace?.tracestate ?? publication.override("tracestate") ?? ""))
    }
    if let ttl = publication.ttlSeconds, !publication.componentHandlesTTL {
      attributes.append(("expiration", timestamp(Date().addingTimeInterval(TimeInterval(ttl)))))
    }
    for (key, value) in attributes {
      out.append(contentsOf: ",\"\(key)\":\(JSONText.quoted(value))".utf8)
    }
    out.append(contentsOf: "}".utf8)
    return out
  }

  /// Reads a delivered message: a CloudEvents envelope as is, anything else (a raw
  /// payload published by a non-Dapr producer, or a subscription with
  /// `rawPayload: true`) wrapped as daprd does: a random id, source `Dapr`,
  /// `data_base64` of the bytes.
  public static func read(
    delivered payload: Data, contentType: String?, topic: String, pubsubName: String,
    messageID: String,
    raw: Bool = false
  ) -> CloudEvent {
    if !raw, case .object(var envelope)? = try? JSONValue(json: payload),
      envelope["specversion"] != nil
    {
      if (envelope["topic"].flatMap(\.string) ?? "").isEmpty { envelope["topic"] = .string(topic) }
      if (envelope["pubsubname"].flatMap(\.string) ?? "").isEmpty {
        envelope["pubsubname"] = .string(pubsubName)
      }
      return CloudEvent(value: .object(envelope))
    }
    let synthetic: [String: JSONValue] = [
      "id": .string(UUID().uuidString.lowercased()), "source": .string("Dapr"),
      "type": .string(defaultType),
      "specversion": .string("1.0"), "datacontenttype": .string("application/octet-stream"),
      "data_base64": .string(payload.base64EncodedString()), "topic": .string(topic),
      "pubsubname": .string(pubsubName),
    ]
    return CloudEvent(value: .object(synthetic))
  }

  /// The expiration time, when the envelope has one.
  public var expiration: Date? {
    guard let text = value["expiration"]?.string else { return nil }
    return try? Date(text, strategy: .iso8601)
  }

  init(value: JSONValue) {
    self.value = value
    json = value.jsonData
    func string(_ key: String) -> String { value[key]?.string ?? "" }
    id = string("id")
    source = string("source")
    type = string("type")
    specVersion = string("specversion")
    dataContentType = string("datacontenttype")
    topic = string("topic")
    pubsubName = string("pubsubname")
    if let encoded = value["data_base64"]?.string, let bytes = Data(base64Encoded: encoded) {
      data = bytes
    } else if let text = value["data"]?.string, !Self.isJSON(string("datacontenttype")) {
      data = Data(text.utf8)
    } else if let payload = value["data"], payload != .null {
      data = payload.jsonData
    } else {
      data = Data()
    }
    if case .object(let members) = value {
      extensionsJSON = JSONValue.object(members.filter { !Self.known.contains($0.key) }).jsonData
    } else {
      extensionsJSON = Data("{}".utf8)
    }
  }
}
