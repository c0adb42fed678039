import ApiaryAPI
import ApiaryRuntime
import Foundation
import GRPCCore
import Testing

@Suite("state keys")
struct StateKeysTests {
  @Test(
    "keyPrefix appid (default), name, none and a custom prefix store keys as Dapr does",
    arguments: [
      (nil as String?, "orders||cart"), ("appid", "orders||cart"), ("AppID", "orders||cart"), ("name", "statestore||cart"),
      ("none", "cart"), ("shared", "shared||cart"),
    ])
  func prefixes(keyPrefix: String?, stored: String) throws {
    let keys = StateKeys(keyPrefix: keyPrefix, appID: "orders", storeName: "statestore")
    #expect(try keys.stored("cart") == stored)
  }

  @Test("empty keys and keys with || are refused as malformed")
  func refused() {
    let keys = StateKeys(keyPrefix: nil, appID: "orders", storeName: "statestore")
    #expect(throws: APIError(.invalidArgument, "ERR_MALFORMED_REQUEST", "state key 'a||b' must not contain '||'")) {
      try keys.stored("a||b")
    }
    #expect(throws: APIError(.invalidArgument, "ERR_MALFORMED_REQUEST", "a state key must not be empty")) {
      try keys.stored("")
    }
  }
}

@Suite("error mapping")
struct APIErrorTests {
  @Test(
    "every kind has one HTTP status and one gRPC code",
    arguments: [
      (APIError.Kind.invalidArgument, 400, RPCError.Code.invalidArgument),
      (.unauthenticated, 401, .unauthenticated), (.notFound, 404, .notFound), (.conflict, 409, .aborted),
      (.tooLarge, 413, .resourceExhausted), (.failed, 500, .internalError), (.unimplemented, 501, .unimplemented),
      (.unavailable, 503, .unavailable), (.timeout, 504, .deadlineExceeded),
    ])
  func statuses(kind: APIError.Kind, http: Int, grpc: RPCError.Code) {
    let error = APIError(kind, "ERR_X", "message")
    #expect(error.httpStatus == http)
    #expect(error.rpcError.code == grpc)
    #expect(error.rpcError.message == "message")
    #expect(error.rpcError.metadata[stringValues: "error-code"].first(where: { _ in true }) == "ERR_X")
  }

  @Test("a message longer than 1024 characters keeps its start and end and says how much was left out")
  func boundedMessage() {
    let short = String(repeating: "é", count: APIError.maximumMessageLength)
    #expect(APIError(.invalidArgument, "ERR_X", short).message == short)
    let key = String(repeating: "k", count: 100_000)
    let message = "state key '\(key)' must not contain '||'"
    let long = APIError(.invalidArgument, "ERR_X", message)
    #expect(long.message.count < 1100)
    #expect(long.message.hasPrefix("state key 'kkk"))
    #expect(long.message.hasSuffix("kkk' must not contain '||'"))
    #expect(long.message.contains(" … (\(message.count - 768 - 192) characters left out) … "))
    #expect(long.rpcError.message == long.message)
  }

  @Test("component errors map to the contract's statuses: etag mismatch 409, invalid etag 400, unreachable 503")
  func componentErrors() {
    let mismatch = APIError.from(StateStoreError.etagMismatch("1 != 2"), errorCode: "ERR_STATE_SAVE", component: "s")
    #expect(mismatch.httpStatus == 409 && mismatch.rpcError.code == .aborted)
    let invalid = APIError.from(StateStoreError.etagInvalid("x"), errorCode: "ERR_STATE_SAVE", component: "s")
    #expect(invalid.httpStatus == 400 && invalid.rpcError.code == .invalidArgument)
    let down = APIError.from(ComponentCallError(.unavailable, "socket gone"), errorCode: "ERR_STATE_GET", component: "s")
    #expect(down.httpStatus == 503 && down.errorCode == "ERR_STATE_GET")
    let missing = APIError.from(SecretStoreError.notFound("k"), errorCode: "ERR_SECRET_GET", component: "vault")
    #expect(missing.httpStatus == 404 && missing.message.contains("vault"))
  }
}

@Suite("CloudEvents")
struct CloudEventTests {
  @Test("a JSON payload is embedded as data, with Dapr's attributes")
  func wrapsJSON() throws {
    let event = try CloudEvent.wrap(
      payload: Data(#"{"n":1}"#.utf8), contentType: "application/json", topic: "orders", pubsubName: "pubsub",
      source: "app")
    let object = try #require(try JSONSerialization.jsonObject(with: event.json) as? [String: Any])
    #expect((object["data"] as? [String: Any])?["n"] as? Int == 1)
    #expect(object["specversion"] as? String == "1.0")
    #expect(object["type"] as? String == CloudEvent.defaultType)
    #expect(object["source"] as? String == "app")
    #expect(object["topic"] as? String == "orders")
    #expect(!event.id.isEmpty)
    #expect(event.data == Data(#"{"n":1}"#.utf8))
  }

  @Test("text stays text, binary goes to data_base64, and both read back as the same bytes")
  func textAndBinary() throws {
    let text = try CloudEvent.wrap(
      payload: Data("hello".utf8), contentType: "text/plain", topic: "t", pubsubName: "p", source: "a")
    #expect(text.data == Data("hello".utf8))
    let bytes = Data([0xff, 0x00, 0xfe])
    let binary = try CloudEvent.wrap(
      payload: bytes, contentType: "application/octet-stream", topic: "t", pubsubName: "p", source: "a")
    #expect(binary.data == bytes)
    let reread = CloudEvent.read(delivered: binary.json, contentType: CloudEvent.contentType, topic: "t", pubsubName: "p", messageID: "m")
    #expect(reread.data == bytes && reread.id == binary.id)
  }

  @Test(
    "the publish path's direct envelope is the general envelope, for JSON, text, binary, empty and CloudEvents payloads",
    arguments: [
      (#"{"n":1,"s":"a/b \"q\""}"#, "application/json"), ("[1, 2]", "application/json"), ("42", "application/json"),
      ("not json {", "application/json"), ("line\n\ttab \"quoted\" \\ é ✓ \u{1}", "text/plain"), ("", "text/plain"),
      ("x", ""), (#"{"id":"mine","specversion":"1.0","data":"x"}"#, "application/cloudevents+json"),
    ])
  func directEnvelope(payload: String, contentType: String) throws {
    func parsed(_ data: Data) throws -> [String: Any] {
      var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
      if object["id"] as? String != "mine" { object["id"] = nil }  // generated: differs between the two
      return object
    }
    let direct = try CloudEvent.envelopeJSON(
      payload: Data(payload.utf8), contentType: contentType, topic: "orders", pubsubName: "pubsub", source: "app")
    let general = try CloudEvent.wrap(
      payload: Data(payload.utf8), contentType: contentType, topic: "orders", pubsubName: "pubsub", source: "app")
    #expect(NSDictionary(dictionary: try parsed(direct)) == NSDictionary(dictionary: try parsed(general.json)))
    let reread = CloudEvent.read(
      delivered: direct, contentType: CloudEvent.contentType, topic: "orders", pubsubName: "pubsub", messageID: "m")
    #expect(reread.data == general.data)
    #expect(!reread.id.isEmpty)
  }

  @Test("the direct envelope carries binary payloads as data_base64")
  func directEnvelopeBinary() throws {
    let bytes = Data([0xff, 0x00, 0xfe, 0x80])
    let direct = try CloudEvent.envelopeJSON(
      payload: bytes, contentType: "application/octet-stream", topic: "t", pubsubName: "p", source: "a")
    let object = try #require(try JSONSerialization.jsonObject(with: direct) as? [String: Any])
    #expect(object["data_base64"] as? String == bytes.base64EncodedString())
    #expect(object["data"] == nil)
    #expect(CloudEvent.read(delivered: direct, contentType: nil, topic: "t", pubsubName: "p", messageID: "m").data == bytes)
  }

  @Test("an envelope the app sent is kept, its missing attributes filled; extensions are kept apart")
  func keepsEnvelope() throws {
    let event = try CloudEvent.wrap(
      payload: Data(#"{"id":"mine","specversion":"1.0","data":"x","traceid":"t1"}"#.utf8),
      contentType: "application/cloudevents+json", topic: "t", pubsubName: "p", source: "a")
    #expect(event.id == "mine")
    #expect(event.source == "a")
    let extensions = try JSONSerialization.jsonObject(with: event.extensionsJSON) as? [String: String]
    #expect(extensions == ["traceid": "t1"])
  }

  @Test("a CloudEvents payload that is not a JSON object is refused")
  func refusesBadEnvelope() {
    #expect(throws: APIError.self) {
      try CloudEvent.wrap(
        payload: Data("[1]".utf8), contentType: "application/cloudevents+json", topic: "t", pubsubName: "p", source: "a")
    }
  }

  @Test("a raw message from a non-Dapr publisher is wrapped on delivery")
  func wrapsRawDelivery() {
    let event = CloudEvent.read(
      delivered: Data("plain".utf8), contentType: "text/plain", topic: "t", pubsubName: "p", messageID: "m1")
    #expect(event.data == Data("plain".utf8))
    #expect(event.topic == "t" && event.specVersion == "1.0")
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
