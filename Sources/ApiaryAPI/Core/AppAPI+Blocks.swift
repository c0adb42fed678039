import ApiaryRuntime
import Foundation

extension AppAPI {
  // MARK: - Pub/sub

  /// Publishes `payload` to `topic`: wrapped in a CloudEvents envelope (spec §6.4)
  /// unless the metadata says `rawPayload: true`.
  public func publish(
    pubsub name: String, topic: String, payload: Data, contentType: String,
    metadata: [String: String],
    trace: TraceContext? = nil
  ) async throws(DaprError) {
    let (pubsub, component) = try await directory.pubSub(name, requestMetadata: metadata)
    guard !topic.isEmpty else { throw .topicEmpty(name, requestMetadata: metadata) }
    let request = try publishRequest(
      pubsub: name, component: component, topic: topic, payload: payload, contentType: contentType,
      metadata: metadata, trace: trace)
    do {
      try await outbound(name, direction: .outbound) { try await pubsub.publish(request) }
    } catch {
      throw .publishFailed(pubsub: name, topic: topic, error)
    }
  }

  /// Publishes several events at once; returns the entries that failed.
  ///
  /// - Throws: ``DaprError`` `bulkEntryID` when an entry has no `entryId` or one used
  ///   twice; the publish errors of ``publish(pubsub:topic:payload:contentType:metadata:trace:)``.
  public func bulkPublish(
    pubsub name: String, topic: String, entries: [BulkPublishEntry], metadata: [String: String],
    trace: TraceContext? = nil
  ) async throws(DaprError) -> [BulkPublishFailure] {
    let (pubsub, component) = try await directory.pubSub(name, requestMetadata: metadata)
    guard !topic.isEmpty else { throw .topicEmpty(name, requestMetadata: metadata) }
    var wrapped: [BulkPublishEntry] = []
    var seen: Set<String> = []
    // As daprd: with tracing on, each event gets a producer span of its own under the
    // call's span, and its CloudEvent carries that span's context.
    let parent = SidecarSpan.current
    var producers: [String: SidecarSpan] = [:]
    defer { for span in producers.values { span.end() } }
    for entry in entries {
      guard !entry.entryID.isEmpty, seen.insert(entry.entryID).inserted else {
        throw .bulkEntryID(pubsub: name, topic: topic, appID: options.appID)
      }
      var entryTrace = trace
      if let parent {
        let producer = parent.child(parent.name, kind: .producer)
        producers[entry.entryID] = producer
        entryTrace = producer.context
      }
      let request = try publishRequest(
        pubsub: name, component: component, topic: topic, payload: entry.data,
        contentType: entry.contentType ?? "application/json",
        metadata: metadata.merging(entry.metadata) { _, entry in entry }, trace: entryTrace)
      wrapped.append(
        BulkPublishEntry(
          entryID: entry.entryID, data: request.data, contentType: request.contentType,
          metadata: entry.metadata))
    }
    do {
      let failures = try await outbound(name, direction: .outbound) { [wrapped] in
        try await pubsub.bulkPublish(topic: topic, entries: wrapped, metadata: metadata)
      }
      for failure in failures { producers[failure.entryID]?.setError(failure.error) }
      return failures
    } catch {
      for span in producers.values { span.setError(DaprError.text(of: error)) }
      throw .publishFailed(pubsub: name, topic: topic, error)
    }
  }

  /// Publishes an event as received (dead letters: the original bytes and content
  /// type, spec §2), inside the pub/sub's outbound policy.
  func publishRaw(pubsub name: String, _ request: PublishRequest) async throws(DaprError) {
    let (pubsub, _) = try await directory.pubSub(name)
    do {
      try await outbound(name, direction: .outbound) { try await pubsub.publish(request) }
    } catch {
      throw .publishFailed(pubsub: name, topic: request.topic, error)
    }
  }

  private func publishRequest(
    pubsub: String, component: InitializedComponent, topic: String, payload: Data,
    contentType: String,
    metadata: [String: String], trace: TraceContext?
  ) throws(DaprError) -> PublishRequest {
    if let raw = metadata["rawPayload"] {
      guard let isRaw = Self.goBool(raw) else {
        throw .rawPayloadNotBool(raw, pubsub: pubsub, requestMetadata: metadata)
      }
      if isRaw {
        var forwarded = metadata
        if let trace {
          forwarded["traceid"] = trace.traceparent
          forwarded["tracestate"] = trace.tracestate
        }
        return PublishRequest(
          topic: topic, data: payload, contentType: contentType, metadata: forwarded)
      }
    }
    var publication = CloudEvent.Publication(
      appID: options.appID, topic: topic, pubsubName: pubsub, metadata: metadata, trace: trace)
    publication.componentHandlesTTL = component.capabilities.contains("MESSAGE_TTL")
    let envelope = try CloudEvent.envelope(payload: payload, contentType: contentType, publication)
    return PublishRequest(
      topic: topic, data: envelope, contentType: CloudEvent.contentType, metadata: metadata)
  }

  /// Go's `strconv.ParseBool`: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.
  static func goBool(_ text: String) -> Bool? {
    switch text {
    case "1", "t", "T", "TRUE", "true", "True": true
    case "0", "f", "F", "FALSE", "false", "False": false
    default: nil
    }
  }

  // MARK: - Bindings

  /// Invokes output binding `name`.
  ///
  /// - Throws: ``DaprError`` `invokeBinding` (500 with daprd's inner text) for an
  ///   unknown binding, a missing or unsupported operation, or a failed call.
  public func invokeBinding(
    name: String, operation: String, data: Data, metadata: [String: String]
  ) async throws(DaprError) -> BindingInvokeResponse {
    let (binding, component) = try await directory.outputBinding(name)
    guard !operation.isEmpty else {
      throw .invokeBinding(name, problem: "operation field is missing from request")
    }
    guard component.capabilities.isEmpty || component.capabilities.contains(operation) else {
      throw .invokeBinding(
        name,
        problem:
          "binding \(name) does not support operation \(operation). supported operations:\(component.capabilities.joined(separator: " "))"
      )
    }
    do {
      return try await outbound(name, direction: .outbound) {
        try await binding.invoke(operation: operation, data: data, metadata: metadata)
      }
    } catch {
      throw .invokeBinding(name, error)
    }
  }

  // MARK: - Secrets

  /// One secret of store `name`.
  ///
  /// - Throws: ``DaprError`` `secretDenied` when the Configuration's secret scopes
  ///   deny the key; `secretGet` when the store fails (a missing secret too).
  public func secret(
    store name: String, key: String, metadata: [String: String]
  ) async throws(DaprError) -> [String: String] {
    let store = try await directory.secretStore(name)
    guard options.configuration.allows(secret: key, in: name) else {
      throw .secretDenied(key: key, store: name)
    }
    do {
      return try await outbound(name, direction: .outbound) {
        try await store.get(key: key, metadata: metadata)
      }
    } catch {
      throw .secretGet(key: key, store: name, error)
    }
  }

  /// Every secret of store `name` the secret scopes allow; the others are left out
  /// without a word to the app, as daprd does (a debug line says so).
  public func bulkSecrets(
    store name: String, metadata: [String: String]
  ) async throws(DaprError) -> [String: [String: String]] {
    let store = try await directory.secretStore(name)
    let all: [String: [String: String]]
    do {
      all = try await outbound(name, direction: .outbound) {
        try await store.bulkGet(metadata: metadata)
      }
    } catch {
      throw .secretBulkGet(store: name, error)
    }
    return all.filter { options.configuration.allows(secret: $0.key, in: name) }
  }

  // MARK: - Hello

  /// Asks hello component `name` to greet `greeted`.
  public func sayHello(component name: String, to greeted: String) async throws(DaprError) -> String
  {
    let hello = try await directory.hello(name)
    do {
      return try await hello.sayHello(name: greeted)
    } catch {
      throw DaprError.componentTransport(error, component: name)
        ?? DaprError(.failed, "ERR_HELLO", "hello component \(name): \(DaprError.text(of: error))")
    }
  }
}
