import ApiaryRuntime
import Foundation
import Testing

@testable import ApiaryAPI

/// The envelopes apiary publishes and reads, as daprd does (spec §6.4).
@Suite("CloudEvents")
struct CloudEventTests {
  func publication(
    _ metadata: [String: String] = [:], trace: TraceContext? = nil
  ) -> CloudEvent.Publication {
    CloudEvent.Publication(
      appID: "app", topic: "orders", pubsubName: "pubsub", metadata: metadata, trace: trace)
  }

  func object(_ data: Data) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  @Test("a JSON payload is embedded as data, with daprd's attributes and a time")
  func wrapsJSON() throws {
    let event = try object(
      CloudEvent.envelope(
        payload: Data(#"{"n":1}"#.utf8), contentType: "application/json", publication()))
    #expect((event["data"] as? [String: Any])?["n"] as? Int == 1)
    #expect(
      event["specversion"] as? String == "1.0" && event["type"] as? String == "com.dapr.event.sent")
    #expect(event["source"] as? String == "app" && event["topic"] as? String == "orders")
    #expect(
      event["pubsubname"] as? String == "pubsub"
        && event["datacontenttype"] as? String == "application/json")
    #expect((event["id"] as? String)?.isEmpty == false)
    #expect((event["time"] as? String).flatMap { try? Date($0, strategy: .iso8601) } != nil)
  }

  @Test(
    "no content type is text/plain; invalid JSON stays a string; octet-stream goes to data_base64")
  func payloadKinds() throws {
    let plain = try object(
      CloudEvent.envelope(payload: Data("hi".utf8), contentType: "", publication()))
    #expect(plain["datacontenttype"] as? String == "text/plain" && plain["data"] as? String == "hi")
    let broken = try object(
      CloudEvent.envelope(payload: Data("{x".utf8), contentType: "application/json", publication()))
    #expect(broken["data"] as? String == "{x")
    let bytes = Data([0xff, 0x00, 0xfe])
    let binary = try object(
      CloudEvent.envelope(payload: bytes, contentType: "application/octet-stream", publication()))
    #expect(
      binary["data_base64"] as? String == bytes.base64EncodedString() && binary["data"] == nil)
  }

  @Test("cloudevent.* overrides (any case), the trace context, and a TTL's expiration")
  func overrides() throws {
    let trace = TraceContext(
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "k=v")
    let event = try object(
      CloudEvent.envelope(
        payload: Data("x".utf8), contentType: "text/plain",
        publication(
          [
            "cloudevent.id": "my-id", "CloudEvent.Source": "me", "cloudevent.type": "t",
            "cloudevent.subject": "s",
            "ttlInSeconds": "60",
          ], trace: trace)))
    #expect(
      event["id"] as? String == "my-id" && event["source"] as? String == "me"
        && event["type"] as? String == "t")
    #expect(event["subject"] as? String == "s")
    #expect(
      event["traceid"] as? String == trace?.traceparent
        && event["traceparent"] as? String == trace?.traceparent)
    #expect(event["tracestate"] as? String == "k=v")
    let expiration = try #require(
      (event["expiration"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
    #expect(
      expiration > Date().addingTimeInterval(50) && expiration < Date().addingTimeInterval(70))
  }

  @Test(
    "an envelope the app sent is kept: topic and pubsubname forced, the missing attributes filled, overrides ignored"
  )
  func keepsEnvelope() throws {
    let event = try object(
      CloudEvent.envelope(
        payload: Data(
          #"{"id":"mine","specversion":"1.0","data":"x","topic":"other","traceid":"t1"}"#.utf8),
        contentType: "application/cloudevents+json", publication(["cloudevent.id": "ignored"])))
    #expect(event["id"] as? String == "mine" && event["topic"] as? String == "orders")
    #expect(event["source"] as? String == "Dapr" && event["traceid"] as? String == "t1")
    #expect(event["type"] as? String == "com.dapr.event.sent")
  }

  @Test("a CloudEvents payload that is not a JSON object: daprd's ERR_PUBSUB_CLOUD_EVENTS_SER")
  func refusesBadEnvelope() {
    let error = #expect(throws: DaprError.self) {
      try CloudEvent.envelope(
        payload: Data("[1]".utf8), contentType: "application/cloudevents+json", publication())
    }
    #expect(
      error?.errorCode == "ERR_PUBSUB_CLOUD_EVENTS_SER"
        && error?.message == "cannot create cloudevent")
  }

  @Test("reading: an envelope as is; raw bytes (or a raw subscription) as daprd's synthetic event")
  func reads() throws {
    let published = try CloudEvent.envelope(
      payload: Data("hello".utf8), contentType: "text/plain", publication())
    let event = CloudEvent.read(
      delivered: published, contentType: CloudEvent.contentType, topic: "orders",
      pubsubName: "pubsub", messageID: "m")
    #expect(event.data == Data("hello".utf8) && event.source == "app")
    let raw = CloudEvent.read(
      delivered: Data("plain".utf8), contentType: "text/plain", topic: "t", pubsubName: "p",
      messageID: "m1")
    #expect(
      raw.data == Data("plain".utf8) && raw.source == "Dapr"
        && raw.dataContentType == "application/octet-stream")
    #expect(raw.topic == "t" && raw.pubsubName == "p" && raw.specVersion == "1.0")
    let forcedRaw = CloudEvent.read(
      delivered: published, contentType: nil, topic: "t", pubsubName: "p", messageID: "m", raw: true
    )
    #expect(forcedRaw.data == published && forcedRaw.source == "Dapr")
  }

  @Test("an expiration is read back")
  func expiration() throws {
    let published = try CloudEvent.envelope(
      payload: Data(), contentType: "text/plain", publication(["ttl": "1"]))
    let event = CloudEvent.read(
      delivered: published, contentType: nil, topic: "orders", pubsubName: "pubsub", messageID: "m")
    #expect(event.expiration != nil)
  }
}

@Suite("API token")
struct APITokenTests {
  @Test("only the exact token is accepted")
  func accepts() {
    let token = APIToken("s3cret")
    #expect(token.accepts("s3cret"))
    #expect(!token.accepts(nil))
    #expect(!token.accepts(""))
    #expect(!token.accepts("s3cre"))
    #expect(!token.accepts("s3cret!"))
    #expect(!token.accepts("S3cret"))
  }

  @Test("APIARY_API_TOKEN wins over DAPR_API_TOKEN; empty values mean no token")
  func environment() {
    #expect(APIToken.from(environment: [:]) == nil)
    #expect(APIToken.from(environment: ["DAPR_API_TOKEN": "d"]) == "d")
    #expect(APIToken.from(environment: ["DAPR_API_TOKEN": "d", "APIARY_API_TOKEN": "a"]) == "a")
    #expect(APIToken.from(environment: ["DAPR_API_TOKEN": "", "APIARY_API_TOKEN": ""]) == nil)
  }
}

@Suite("state keys")
struct StateKeysTests {
  @Test(
    "keyPrefix appid (default), name, none and a custom prefix store keys as Dapr does",
    arguments: [
      (nil as String?, "orders||cart"), ("appid", "orders||cart"), ("AppID", "orders||cart"),
      ("name", "statestore||cart"),
      ("none", "cart"), ("shared", "shared||cart"),
    ])
  func prefixes(keyPrefix: String?, stored: String) throws {
    let keys = StateKeys(keyPrefix: keyPrefix, appID: "orders", storeName: "statestore")
    #expect(try keys.stored("cart") == stored)
    #expect(StateKeys.appKey(stored) == "cart")
  }

  @Test("keys with || are daprd's DAPR_STATE_ILLEGAL_KEY; empty keys are malformed")
  func refused() {
    let keys = StateKeys(keyPrefix: nil, appID: "orders", storeName: "statestore")
    #expect(throws: DaprError.illegalKey("a||b", store: "statestore")) { try keys.stored("a||b") }
    #expect(throws: DaprError.emptyKey()) { try keys.stored("") }
  }
}
