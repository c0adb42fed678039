import ApiaryRuntime
import Foundation

extension AppAPI {
  // MARK: - Pub/sub

  /// Publishes `payload` to `topic`, wrapped in a CloudEvents envelope unless the
  /// metadata says `rawPayload: true`.
  public func publish(
    pubsub name: String, topic: String, payload: Data, contentType: String, metadata: [String: String]
  ) async throws(APIError) {
    let pubsub = try await directory.pubSub(name)
    guard !topic.isEmpty else {
      throw APIError(.invalidArgument, "ERR_TOPIC_NAME_EMPTY", "no topic given for pub/sub \(name)")
    }
    let request = try publishRequest(
      pubsub: name, topic: topic, payload: payload, contentType: contentType, metadata: metadata)
    do {
      try await pubsub.publish(request)
    } catch {
      throw APIError.from(error, errorCode: "ERR_PUBSUB_PUBLISH_MESSAGE", component: name)
    }
  }

  /// Publishes several events at once; returns the entries that failed.
  public func bulkPublish(
    pubsub name: String, topic: String, entries: [BulkPublishEntry], metadata: [String: String]
  ) async throws(APIError) -> [BulkPublishFailure] {
    let pubsub = try await directory.pubSub(name)
    guard !topic.isEmpty else {
      throw APIError(.invalidArgument, "ERR_TOPIC_NAME_EMPTY", "no topic given for pub/sub \(name)")
    }
    var wrapped: [BulkPublishEntry] = []
    var seen: Set<String> = []
    for entry in entries {
      guard !entry.entryID.isEmpty, seen.insert(entry.entryID).inserted else {
        throw APIError(
          .invalidArgument, "ERR_PUBSUB_EVENTS_SER", "every bulk publish entry needs a unique, non-empty entryId")
      }
      let request = try publishRequest(
        pubsub: name, topic: topic, payload: entry.data, contentType: entry.contentType ?? "application/json",
        metadata: metadata.merging(entry.metadata) { _, entry in entry })
      wrapped.append(
        BulkPublishEntry(
          entryID: entry.entryID, data: request.data, contentType: request.contentType, metadata: entry.metadata))
    }
    do {
      return try await pubsub.bulkPublish(topic: topic, entries: wrapped, metadata: metadata)
    } catch {
      throw APIError.from(error, errorCode: "ERR_PUBSUB_PUBLISH_MESSAGE", component: name)
    }
  }

  private func publishRequest(
    pubsub: String, topic: String, payload: Data, contentType: String, metadata: [String: String]
  ) throws(APIError) -> PublishRequest {
    if metadata["rawPayload"]?.lowercased() == "true" {
      return PublishRequest(topic: topic, data: payload, contentType: contentType, metadata: metadata)
    }
    let envelope = try CloudEvent.envelopeJSON(
      payload: payload, contentType: contentType, topic: topic, pubsubName: pubsub, source: options.appID)
    return PublishRequest(topic: topic, data: envelope, contentType: CloudEvent.contentType, metadata: metadata)
  }

  // MARK: - Bindings

  /// Invokes output binding `name`.
  public func invokeBinding(
    name: String, operation: String, data: Data, metadata: [String: String]
  ) async throws(APIError) -> BindingInvokeResponse {
    let binding = try await directory.outputBinding(name)
    guard !operation.isEmpty else {
      throw APIError(.invalidArgument, "ERR_MALFORMED_REQUEST", "binding \(name): no operation given")
    }
    do {
      return try await binding.invoke(operation: operation, data: data, metadata: metadata)
    } catch {
      throw APIError.from(error, errorCode: "ERR_INVOKE_OUTPUT_BINDING", component: name)
    }
  }

  // MARK: - Secrets

  /// One secret of store `name`.
  ///
  /// - Throws: ``APIError`` `notFound` (`ERR_SECRET_GET`) when the secret does not exist.
  public func secret(store name: String, key: String, metadata: [String: String]) async throws(APIError) -> [String: String] {
    let store = try await directory.secretStore(name)
    guard !key.isEmpty else {
      throw APIError(.invalidArgument, "ERR_MALFORMED_REQUEST", "secret store \(name): no secret key given")
    }
    do {
      return try await store.get(key: key, metadata: metadata)
    } catch {
      throw APIError.from(error, errorCode: "ERR_SECRET_GET", component: name)
    }
  }

  /// Every secret of store `name`.
  public func bulkSecrets(store name: String, metadata: [String: String]) async throws(APIError) -> [String: [String: String]] {
    let store = try await directory.secretStore(name)
    do {
      return try await store.bulkGet(metadata: metadata)
    } catch {
      throw APIError.from(error, errorCode: "ERR_SECRET_GET", component: name)
    }
  }

  // MARK: - Hello

  /// Asks hello component `name` to greet `greeted`.
  public func sayHello(component name: String, to greeted: String) async throws(APIError) -> String {
    let hello = try await directory.hello(name)
    do {
      return try await hello.sayHello(name: greeted)
    } catch {
      throw APIError.from(error, errorCode: "ERR_HELLO", component: name)
    }
  }
}
