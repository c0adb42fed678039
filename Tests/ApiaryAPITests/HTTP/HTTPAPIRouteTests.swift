import ApiaryAPI
import ApiaryRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The Dapr HTTP API's routes (`HTTPAPI.router()`, what port 3500 serves) over the
/// built-in state store and pub/sub, through Hummingbird's router test client: status
/// codes, bodies, headers and daprd's error bodies (Docs/dapr-compatibility.md).
@Suite("HTTP API routes over the built-in components")
struct HTTPAPIRouteTests {
  /// Runs `body` with a router test client of the Dapr routes over `components`.
  func withRoutes(
    _ components: BuiltInComponents? = nil,
    _ body: @Sendable (any TestClientProtocol) async throws -> Void
  ) async throws {
    let served: BuiltInComponents
    if let components { served = components } else { served = try await BuiltInComponents() }
    let router = HTTPAPI(api: served.api, logger: Logger(label: "test")).router()
    try await Application(router: router).test(.router, body)
  }

  /// The body of a request: `text` as bytes.
  func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

  func jsonValue(_ buffer: ByteBuffer) -> Any? {
    try? JSONSerialization.jsonObject(with: Data(buffer: buffer), options: .fragmentsAllowed)
  }

  @Test(
    "save answers 204; get answers the value as JSON with its ETag; a stale etag 409; delete 204")
  func saveGetDelete() async throws {
    try await withRoutes { client in
      try await client.execute(
        uri: "/v1.0/state/statestore", method: .post,
        body: body(#"[{"key":"order","value":{"id":7,"item":"honey"}}]"#)
      ) { response in
        #expect(response.status == .noContent)
        #expect(response.body.readableBytes == 0)
      }
      try await client.execute(uri: "/v1.0/state/statestore/order", method: .get) { response in
        #expect(response.status == .ok)
        #expect(response.headers[.contentType] == "application/json")
        #expect(response.headers[.eTag] == "1")
        let value = jsonObject(response.body)
        #expect(value["id"] as? Int == 7 && value["item"] as? String == "honey", "\(value)")
      }
      // A save with the current etag replaces the value and moves the etag on.
      try await client.execute(
        uri: "/v1.0/state/statestore", method: .put,
        body: body(#"[{"key":"order","value":"shipped","etag":"1"}]"#)
      ) { response in
        #expect(response.status == .noContent)
      }
      try await client.execute(uri: "/v1.0/state/statestore/order", method: .get) { response in
        #expect(response.headers[.eTag] == "2")
        #expect(jsonValue(response.body) as? String == "shipped")
      }
      try await client.execute(
        uri: "/v1.0/state/statestore", method: .post,
        body: body(#"[{"key":"order","value":"lost","etag":"1"}]"#)
      ) { response in
        #expect(response.status == .conflict)
        #expect(jsonObject(response.body)["errorCode"] as? String == "ERR_STATE_SAVE")
        #expect(
          (jsonObject(response.body)["message"] as? String)?.hasPrefix(
            "failed saving state in state store statestore: possible etag mismatch") == true,
          "\(String(buffer: response.body))")
      }
      try await client.execute(
        uri: "/v1.0/state/statestore/order", method: .delete, headers: [.ifMatch: "2"]
      ) { response in
        #expect(response.status == .noContent)
      }
      // A key that is not there: 204, no body, no ETag.
      try await client.execute(uri: "/v1.0/state/statestore/order", method: .get) { response in
        #expect(response.status == .noContent)
        #expect(response.body.readableBytes == 0)
        #expect(response.headers[.eTag] == nil)
      }
    }
  }

  @Test(
    "an unknown state store: 400 ERR_STATE_STORE_NOT_FOUND with daprd's ErrorInfo, on every state route",
    arguments: [
      (HTTPRequest.Method.get, "/v1.0/state/nope/k", ""),
      (.delete, "/v1.0/state/nope/k", ""),
      (.post, "/v1.0/state/nope", #"[{"key":"k","value":1}]"#),
      (.post, "/v1.0/state/nope/bulk", #"{"keys":["k"]}"#),
    ])
  func unknownStore(method: HTTPRequest.Method, path: String, requestBody: String) async throws {
    try await withRoutes { client in
      try await client.execute(uri: path, method: method, body: body(requestBody)) { response in
        #expect(response.status == .badRequest)
        #expect(response.headers[.contentType] == "application/json")
        let error = jsonObject(response.body)
        #expect(error["errorCode"] as? String == "ERR_STATE_STORE_NOT_FOUND")
        #expect(error["message"] as? String == "state store nope is not found")
        let details = error["details"] as? [[String: Any]] ?? []
        #expect(details.count == 1, "\(error)")
        #expect(details.first?["@type"] as? String == "type.googleapis.com/google.rpc.ErrorInfo")
        #expect(details.first?["reason"] as? String == "DAPR_STATE_NOT_FOUND")
        #expect(details.first?["domain"] as? String == "dapr.io")
        #expect(details.first?["metadata"] as? [String: String] == ["appID": "routes-app"])
      }
    }
  }

  @Test("bulk get answers every key in order: data and etag where found, neither where not")
  func bulkGet() async throws {
    try await withRoutes { client in
      try await client.execute(
        uri: "/v1.0/state/statestore", method: .post,
        body: body(#"[{"key":"a","value":{"n":1}},{"key":"b","value":"two"}]"#)
      ) { response in
        #expect(response.status == .noContent)
      }
      try await client.execute(
        uri: "/v1.0/state/statestore/bulk", method: .post,
        body: body(#"{"keys":["a","b","missing"],"parallelism":2}"#)
      ) { response in
        #expect(response.status == .ok)
        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
        let items = jsonValue(response.body) as? [[String: Any]] ?? []
        #expect(items.map { $0["key"] as? String } == ["a", "b", "missing"], "\(items)")
        guard items.count == 3 else { return }
        #expect((items[0]["data"] as? [String: Any])?["n"] as? Int == 1)
        #expect(items[0]["etag"] as? String == "1")
        #expect(items[1]["data"] as? String == "two")
        #expect(items[1]["etag"] as? String == "2")
        #expect(items[2]["data"] == nil && items[2]["etag"] == nil && items[2]["error"] == nil)
      }
    }
  }

  @Test(
    "publish to the built-in pubsub answers 204 and delivers a CloudEvent; an unknown pubsub 404")
  func publish() async throws {
    let components = try await BuiltInComponents()
    let subscription = try await components.pubSub().subscribe(topic: "orders", metadata: [:])
    try await withRoutes(components) { client in
      try await client.execute(
        uri: "/v1.0/publish/pubsub/orders", method: .post,
        headers: [.contentType: "application/json"], body: body(#"{"id":1}"#)
      ) { response in
        #expect(response.status == .noContent)
        #expect(response.body.readableBytes == 0)
      }
      try await client.execute(
        uri: "/v1.0/publish/nope/orders", method: .post, body: body("x")
      ) { response in
        #expect(response.status == .notFound)
        #expect(jsonObject(response.body)["errorCode"] as? String == "ERR_PUBSUB_NOT_FOUND")
        #expect(jsonObject(response.body)["message"] as? String == "pubsub nope is not found")
      }
    }
    var messages = subscription.makeAsyncIterator()
    let delivered = try #require(try await messages.next())
    let event = try #require(
      try JSONSerialization.jsonObject(with: delivered.data) as? [String: Any])
    #expect(event["topic"] as? String == "orders")
    #expect(event["pubsubname"] as? String == "pubsub")
    #expect(event["datacontenttype"] as? String == "application/json")
    #expect((event["data"] as? [String: Any])?["id"] as? Int == 1, "\(event)")
    #expect(event["specversion"] as? String == "1.0")
    try await delivered.ack()
  }

  @Test("metadata names the app, the runtime and each built-in with its capabilities and state")
  func metadata() async throws {
    try await withRoutes { client in
      try await client.execute(uri: "/v1.0/metadata", method: .get) { response in
        #expect(response.status == .ok)
        let metadata = jsonObject(response.body)
        #expect(metadata["id"] as? String == "routes-app")
        #expect(metadata["runtimeVersion"] as? String == "apiary-\(ApiaryVersion.current)")
        let listed = (metadata["components"] as? [[String: Any]] ?? []).map {
          [
            $0["name"] as? String ?? "", $0["type"] as? String ?? "",
            $0["version"] as? String ?? "",
            ($0["capabilities"] as? [String] ?? []).joined(separator: ","),
          ]
        }
        #expect(
          listed == [
            ["statestore", "state.in-memory", "v1", "ETAG,TRANSACTIONAL,TTL"],
            ["pubsub", "pubsub.in-memory", "v1", "BULK_PUBSUB"],
          ], "\(metadata)")
        let extended = metadata["extended"] as? [String: String] ?? [:]
        #expect(extended["apiary.component.statestore.state"] == "UP")
        #expect(extended["apiary.component.pubsub.source"] == "built-in")
        #expect(extended["apiary.ready"] == "true")
        #expect((metadata["subscriptions"] as? [Any])?.isEmpty == true)
      }
      try await client.execute(uri: "/v1.0/healthz", method: .get) { response in
        #expect(response.status == .noContent)
      }
    }
  }

  @Test(
    "a body that is not JSON: 400 ERR_MALFORMED_REQUEST naming the problem",
    arguments: [
      ("/v1.0/state/statestore", #"[{"key":"#),
      ("/v1.0/state/statestore/bulk", "{keys: [a]}"),
      ("/v1.0/state/statestore/transaction", "not json"),
    ])
  func malformedJSON(path: String, requestBody: String) async throws {
    try await withRoutes { client in
      try await client.execute(uri: path, method: .post, body: body(requestBody)) { response in
        #expect(response.status == .badRequest)
        #expect(response.headers[.contentType] == "application/json")
        let error = jsonObject(response.body)
        #expect(error["errorCode"] as? String == "ERR_MALFORMED_REQUEST")
        #expect(
          (error["message"] as? String)?.hasPrefix("the request body is not valid JSON: ") == true,
          "\(error)")
      }
    }
  }

  @Test("JSON of the wrong shape: 400 ERR_MALFORMED_REQUEST saying what the body must be")
  func wrongShape() async throws {
    try await withRoutes { client in
      try await client.execute(
        uri: "/v1.0/state/statestore", method: .post, body: body(#"{"key":"a","value":1}"#)
      ) { response in
        #expect(response.status == .badRequest)
        #expect(jsonObject(response.body)["errorCode"] as? String == "ERR_MALFORMED_REQUEST")
        #expect(
          jsonObject(response.body)["message"] as? String
            == "failed deserializing HTTP body: the body must be a JSON array of {key, value} objects"
        )
      }
      try await client.execute(
        uri: "/v1.0/state/statestore", method: .post, body: body(#"[{"value":1}]"#)
      ) { response in
        #expect(response.status == .badRequest)
        #expect(jsonObject(response.body)["message"] as? String == #""key" is a required field"#)
      }
    }
  }
}
