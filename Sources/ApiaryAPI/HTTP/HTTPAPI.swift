import ApiaryRuntime
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The Dapr HTTP API (`/v1.0/...`) over ``AppAPI``, as Hummingbird routes. Handlers
/// throw ``DaprError``, which answers with its status and JSON body itself
/// (`HTTPResponseError`).
public struct HTTPAPI: Sendable {
  let api: AppAPI
  let logger: Logger

  public init(api: AppAPI, logger: Logger) {
    self.api = api
    self.logger = logger
  }

  private var limit: Int { api.options.maxBodySize }

  /// The router, behind the API token check when a token is set: the Dapr routes
  /// (`/v1.0`) unless `daprRoutes` is false (the httpApi module is off), plus the
  /// actuator and `/metrics` when given.
  public func router(
    daprRoutes: Bool = true, actuator: Actuator? = nil, metrics: MetricsEndpoint? = nil
  ) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    let observability = api.observability
    // Outermost: it sees the final answer of every request, errors included.
    router.add(
      middleware: HTTPObservabilityMiddleware(
        tracer: observability.tracer, metrics: observability.metrics))
    router.add(middleware: ErrorBodyMiddleware(metrics: observability.metrics))
    if let token = api.options.apiToken {
      router.add(
        middleware: TokenMiddleware(token: APIToken(token), metrics: observability.metrics))
    }
    actuator?.addRoutes(to: router)
    metrics?.addRoutes(to: router)
    if daprRoutes { addDaprRoutes(router) }
    return router
  }

  private func addDaprRoutes(_ router: Router<BasicRequestContext>) {
    let api = self.api
    let limit = self.limit

    // Health: 204 when the sidecar is ready (every component that matters is UP),
    // 500 before and while one is not. Outbound: 204 once start-up has finished, so
    // the SDKs' wait for the sidecar does not hang on one DOWN component.
    router.get("/v1.0/healthz") { _, _ in
      guard await api.readiness == .up else {
        throw DaprError(
          .failed, "ERR_HEALTH_NOT_READY",
          "apiary is not ready: a component is not UP (see /actuator/health/readiness)")
      }
      return HTTPResponses.noContent
    }
    router.get("/v1.0/healthz/outbound") { _, _ in
      guard await api.isReady else {
        throw DaprError(
          .failed, "ERR_OUTBOUND_HEALTH_NOT_READY", "apiary is still starting its components")
      }
      return HTTPResponses.noContent
    }

    router.get("/v1.0/metadata") { _, _ in
      HTTPResponses.json(encoding: HTTPBody.Metadata(await api.metadata()))
    }
    router.put("/v1.0/metadata/{key}") { request, context in
      let value = try await request.collectBody(limit: min(limit, api.options.maxMetadataBytes + 1))
      try api.setExtendedMetadata(
        key: try context.parameters.require("key"), value: String(decoding: value, as: UTF8.self))
      return HTTPResponses.noContent
    }
    router.post("/v1.0/shutdown") { _, _ in
      api.shutdown()
      return HTTPResponses.noContent
    }

    addStateRoutes(router)

    addStateTransactionAndQueryRoutes(router)
    addPublishRoutes(router)

    router.on("/v1.0/bindings/{name}", method: .post) { request, context in
      try await Self.invokeBinding(api, request, context, limit)
    }
    router.on("/v1.0/bindings/{name}", method: .put) { request, context in
      try await Self.invokeBinding(api, request, context, limit)
    }

    router.get("/v1.0/secrets/{store}/bulk") { request, context in
      HTTPResponses.json(
        try await api.bulkSecrets(
          store: try context.parameters.require("store"), metadata: request.queryMetadata))
    }
    router.get("/v1.0/secrets/{store}/{key}") { request, context in
      let secret = try await api.secret(
        store: try context.parameters.require("store"), key: try context.parameters.require("key"),
        metadata: request.queryMetadata)
      return secret.isEmpty ? HTTPResponses.noContent : HTTPResponses.json(secret)
    }

    router.post("/v1.0/hello/{component}") { request, context in
      let body = try await request.decodedBody(
        HTTPBody.HelloRequest.self, limit: limit,
        shapeProblem: DaprError(
          .invalidArgument, "ERR_MALFORMED_REQUEST",
          "the body must be a JSON object with a string \"name\""))
      let hello = try await api.sayHello(
        component: try context.parameters.require("component"), to: body.name)
      return HTTPResponses.json(encoding: HTTPBody.HelloResponse(hello: hello))
    }
  }

  // MARK: - State

  private func addStateRoutes(_ router: Router<BasicRequestContext>) {
    let api = self.api
    let limit = self.limit
    let save: @Sendable (Request, BasicRequestContext) async throws -> Response = {
      request, context in
      let store = try context.parameters.require("store")
      guard let items = try await request.jsonBody(limit: limit) as? [Any] else {
        throw DaprError.malformedBody("the body must be a JSON array of {key, value} objects")
      }
      var requests: [StateSetRequest] = []
      for (index, item) in items.enumerated() {
        requests.append(try StateJSON.setRequest(item, at: "[\(index)]"))
      }
      try await api.saveState(store: store, requests)
      return HTTPResponses.noContent
    }
    router.post("/v1.0/state/{store}", use: save)
    router.put("/v1.0/state/{store}", use: save)

    router.get("/v1.0/state/{store}/{key}") { request, context in
      let found = try await api.getState(
        store: try context.parameters.require("store"),
        StateGetRequest(
          key: try context.parameters.require("key"), metadata: request.queryMetadata,
          consistency: StateJSON.consistency(request.uri.queryParameters.get("consistency"))))
      guard let data = found.data else { return HTTPResponses.noContent }
      var response = HTTPResponses.bytes(data, contentType: found.contentType ?? "application/json")
      if let etag = found.etag, !etag.isEmpty { response.headers[.eTag] = etag }
      return response
    }

    router.delete("/v1.0/state/{store}/{key}") { request, context in
      let query = request.uri.queryParameters
      let etag = request.headers[.ifMatch].flatMap { $0.isEmpty ? nil : $0 }
      try await api.deleteState(
        store: try context.parameters.require("store"),
        [
          StateDeleteRequest(
            key: try context.parameters.require("key"), etag: etag, metadata: request.queryMetadata,
            options: StateOptions(
              concurrency: try StateJSON.concurrency(query.get("concurrency"), at: "concurrency"),
              consistency: StateJSON.consistency(query.get("consistency"))))
        ])
      return HTTPResponses.noContent
    }

    router.post("/v1.0/state/{store}/bulk") { request, context in
      let body = try await request.decodedBody(
        HTTPBody.BulkGetRequest.self, limit: limit,
        shapeProblem: .malformedBody("the body must be {\"keys\": [strings], \"parallelism\": n}"))
      let items = try await api.getBulkState(
        store: try context.parameters.require("store"),
        body.keys.map { StateGetRequest(key: $0, metadata: request.queryMetadata) },
        parallelism: body.parallelism)
      return HTTPResponses.json(items.map(StateJSON.bulkItem))
    }

  }

  /// State transactions and the query API (alpha).
  private func addStateTransactionAndQueryRoutes(_ router: Router<BasicRequestContext>) {
    let api = self.api
    let limit = self.limit
    let transaction: @Sendable (Request, BasicRequestContext) async throws -> Response = {
      request, context in
      guard let body = try await request.jsonBody(limit: limit) as? [String: Any],
        let operations = body["operations"] as? [Any]
      else {
        throw DaprError.malformedBody(
          "the body must be {\"operations\": [...], \"metadata\": {...}}")
      }
      var parsed: [StateOperation] = []
      for (index, operation) in operations.enumerated() {
        parsed.append(try StateJSON.operation(operation, at: "operations[\(index)]"))
      }
      try await api.transact(
        store: try context.parameters.require("store"), parsed,
        metadata: try StateJSON.stringMap(body["metadata"], at: "metadata").merging(
          request.queryMetadata
        ) { body, _ in body },
        trace: TraceContext.current)
      return HTTPResponses.noContent
    }
    router.post("/v1.0/state/{store}/transaction", use: transaction)
    router.put("/v1.0/state/{store}/transaction", use: transaction)

    let query: @Sendable (Request, BasicRequestContext) async throws -> Response = {
      request, context in
      let body = try await request.collectBody(limit: limit)
      let result = try await api.queryState(
        store: try context.parameters.require("store"), query: body, metadata: request.queryMetadata
      )
      // daprd answers an empty result with 204 and no body.
      guard !result.items.isEmpty else { return HTTPResponses.noContent }
      var json: [String: Any] = [
        "results": result.items.map { item -> [String: Any] in
          var entry: [String: Any] = ["key": item.key, "data": HTTPResponses.embedded(item.data)]
          if let etag = item.etag { entry["etag"] = etag }
          if let error = item.error { entry["error"] = error }
          return entry
        }
      ]
      if !result.token.isEmpty { json["token"] = result.token }
      if !result.metadata.isEmpty { json["metadata"] = result.metadata }
      return HTTPResponses.json(json)
    }
    router.post("/v1.0-alpha1/state/{store}/query", use: query)
    router.put("/v1.0-alpha1/state/{store}/query", use: query)
  }

  // MARK: - Publish

  private func addPublishRoutes(_ router: Router<BasicRequestContext>) {
    let api = self.api
    let limit = self.limit
    // Topics may hold slashes: everything after the pub/sub name is the topic.
    let publish: @Sendable (Request, BasicRequestContext) async throws -> Response = {
      request, context in
      let payload = try await request.collectBody(limit: limit)
      try await api.publish(
        pubsub: try context.parameters.require("pubsub"),
        topic: context.parameters.getCatchAll().joined(separator: "/"),
        payload: payload, contentType: request.headers[.contentType] ?? "text/plain",
        metadata: request.queryMetadata, trace: TraceContext.current)
      return HTTPResponses.noContent
    }
    router.post("/v1.0/publish/{pubsub}/**", use: publish)
    router.put("/v1.0/publish/{pubsub}/**", use: publish)
    // `/v1.0/publish/ps/`: the catch-all needs one segment, so an empty topic lands here
    // and gets daprd's ERR_TOPIC_NAME_EMPTY rather than a missing route.
    router.post("/v1.0/publish/{pubsub}", use: publish)
    router.put("/v1.0/publish/{pubsub}", use: publish)

    let bulkPublish: @Sendable (Request, BasicRequestContext) async throws -> Response = {
      request, context in
      let pubsub = try context.parameters.require("pubsub")
      let topic = context.parameters.getCatchAll().joined(separator: "/")
      let body = try await request.collectBody(limit: limit)
      guard let entries = (try? JSONSerialization.jsonObject(with: body)) as? [Any] else {
        throw DaprError.bulkUnmarshal(
          pubsub: pubsub, topic: topic, appID: api.options.appID,
          problem: "the body is not a JSON array of entries")
      }
      var parsed: [BulkPublishEntry] = []
      for (index, entry) in entries.enumerated() {
        guard let entry = entry as? [String: Any], let event = entry["event"] else {
          throw DaprError.bulkUnmarshal(
            pubsub: pubsub, topic: topic, appID: api.options.appID,
            problem: "entry \(index) is not an object with an event")
        }
        let contentType = (entry["contentType"] as? String) ?? "application/json"
        let data: Data
        if let text = event as? String, !CloudEvent.isJSON(contentType) {
          data = Data(text.utf8)
        } else {
          data =
            (try? JSONSerialization.data(withJSONObject: event, options: .fragmentsAllowed))
            ?? Data()
        }
        parsed.append(
          BulkPublishEntry(
            entryID: (entry["entryId"] as? String) ?? "", data: data, contentType: contentType,
            metadata: try StateJSON.stringMap(entry["metadata"], at: "[\(index)].metadata")))
      }
      let failures = try await api.bulkPublish(
        pubsub: pubsub, topic: topic, entries: parsed, metadata: request.queryMetadata,
        trace: TraceContext.current)
      guard failures.isEmpty else {
        api.observability.metrics?.error(code: "ERR_PUBSUB_PUBLISH_MESSAGE", reason: nil)
        return HTTPResponses.json(
          [
            "failedEntries": failures.map { ["entryId": $0.entryID, "error": $0.error] },
            "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE",
          ], status: .internalServerError)
      }
      return HTTPResponses.noContent
    }
    router.post("/v1.0-alpha1/publish/bulk/{pubsub}/**", use: bulkPublish)
    router.post("/v1.0-alpha1/publish/bulk/{pubsub}", use: bulkPublish)
  }

  // MARK: - Bindings

  private static func invokeBinding(
    _ api: AppAPI, _ request: Request, _ context: BasicRequestContext, _ limit: Int
  ) async throws -> Response {
    let name = try context.parameters.require("name")
    let body = try await request.collectBody(limit: limit)
    guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
      throw DaprError.malformedBody(
        "the body must be a JSON object {\"operation\", \"data\", \"metadata\"}")
    }
    let operation = object["operation"] as? String ?? ""
    var data = Data()
    if let value = object["data"], !(value is NSNull) {
      data =
        (try? JSONSerialization.data(withJSONObject: value, options: .fragmentsAllowed)) ?? Data()
    }
    let result = try await api.invokeBinding(
      name: name, operation: operation, data: data,
      metadata: try StateJSON.stringMap(object["metadata"], at: "metadata"))
    var response =
      result.data.isEmpty
      ? HTTPResponses.noContent : HTTPResponses.bytes(result.data, contentType: result.contentType)
    for (key, value) in result.metadata {
      if let field = HTTPField.Name("metadata.\(key)") { response.headers[field] = value }
    }
    return response
  }
}
