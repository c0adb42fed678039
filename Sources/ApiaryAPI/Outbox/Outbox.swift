import ApiaryRuntime
import Foundation

/// The transactional outbox of one state store, as daprd runs it (spec §3): a store
/// whose metadata names `outboxPublishPubsub` and `outboxPublishTopic` publishes one
/// CloudEvent per upsert of every transaction that commits, and none for one that
/// does not.
///
/// Before the commit, each upsert's event goes to an internal topic
/// (`{NAMESPACE}{appID}{outboxPublishTopic}outbox` on `outboxPubsub`) with the id
/// `outbox-{uuid}`, and a marker `outbox-{uuid}` = `"0"` joins the transaction.
/// ``OutboxRelay`` consumes the internal topic and publishes an event to the user's
/// topic only once its marker is in the store, that is once the transaction committed.
struct Outbox: Sendable {
  /// The state store's name.
  let store: String
  let publishPubsub: String
  let publishTopic: String
  /// The pub/sub of the internal topic (`outboxPubsub`, else `outboxPublishPubsub`).
  let internalPubsub: String
  /// Drop an internal message whose marker never appears instead of nacking it.
  let discardWhenMissingState: Bool
  let appID: String

  /// The outbox of `component`, or nil when its metadata does not ask for one.
  init?(
    component: InitializedComponent, appID: String,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) {
    guard component.type.hasPrefix("state."),
      let pubsub = component.metadata["outboxPublishPubsub"], !pubsub.isEmpty,
      let topic = component.metadata["outboxPublishTopic"], !topic.isEmpty
    else { return nil }
    store = component.name
    publishPubsub = pubsub
    publishTopic = topic
    internalPubsub = component.metadata["outboxPubsub"].flatMap { $0.isEmpty ? nil : $0 } ?? pubsub
    discardWhenMissingState = Outbox.truthy(component.metadata["outboxDiscardWhenMissingState"])
    self.appID = appID
    namespace = environment["NAMESPACE"] ?? ""
  }

  private let namespace: String

  /// The internal topic: daprd's name, so mixed fleets share it.
  var internalTopic: String { "\(namespace)\(appID)\(publishTopic)outbox" }

  /// The prefix of an outbox event's id and of its marker key.
  static let markerPrefix = "outbox-"

  /// daprd's "truthy": 1, true, t, yes, y, on (any case).
  static func truthy(_ value: String?) -> Bool {
    guard let value else { return false }
    return ["1", "true", "t", "yes", "y", "on"].contains(value.lowercased())
  }

  /// The transaction to commit: projections taken out (any number of them; for one
  /// key the last wins, as daprd's code does), each remaining upsert's event published
  /// to the internal topic, and a marker per upsert added.
  ///
  /// - Throws: ``DaprError`` `outboxPublish` when an internal publish fails; nothing is
  ///   committed then (internal messages already sent wait for markers that never
  ///   appear, and are dropped or nacked by the relay).
  func prepare(
    _ operations: [StateOperation], requestMetadata: [String: String], trace: TraceContext?,
    api: AppAPI
  ) async throws(DaprError) -> [StateOperation] {
    var projections: [String: StateSetRequest] = [:]
    var kept: [StateOperation] = []
    for operation in operations {
      if case .set(let request) = operation, Self.truthy(request.metadata["outbox.projection"]) {
        projections[request.key] = request
      } else {
        kept.append(operation)
      }
    }
    let pubsub: any PubSub
    do {
      pubsub = try await api.directory.pubSub(internalPubsub).0
    } catch {
      throw .outboxPublish(appID: appID, error)
    }
    var markers: [StateOperation] = []
    for case .set(let request) in kept {
      let id = Self.markerPrefix + UUID().uuidString.lowercased()
      let event = self.event(
        id: id, saved: request, projection: projections[request.key],
        requestMetadata: requestMetadata, trace: trace)
      do {
        try await api.outbound(internalPubsub, direction: .outbound) {
          try await pubsub.publish(
            PublishRequest(
              topic: internalTopic, data: event, contentType: CloudEvent.contentType, metadata: [:])
          )
        }
      } catch {
        throw .outboxPublish(appID: appID, error)
      }
      markers.append(.set(StateSetRequest(key: id, value: Data("0".utf8))))
    }
    return kept + markers
  }

  /// The CloudEvent of one upsert (spec §3): the projection's value when there is one,
  /// else the saved one; every metadata key of the upsert (request metadata under it)
  /// copied verbatim as an attribute, except `data`, `id` and the projection flag.
  func event(
    id: String, saved: StateSetRequest, projection: StateSetRequest?,
    requestMetadata: [String: String],
    trace: TraceContext?
  ) -> Data {
    let source = projection ?? saved
    let value = source.value
    var contentType = source.contentType ?? source.metadata["contentType"] ?? ""
    var event: [String: Any] = [:]
    for (key, text) in requestMetadata.merging(saved.metadata, uniquingKeysWith: { _, op in op })
    where !["data", "id", "outbox.projection"].contains(key) {
      event[key] = text
    }
    if contentType.isEmpty {
      // daprd publishes a JSON value sent without a content type as Go's map text
      // (`map[a:1]`); a JSON object or array goes out as JSON instead.
      if let parsed = try? JSONSerialization.jsonObject(with: value),
        parsed is [String: Any] || parsed is [Any]
      {
        contentType = "application/json"
      } else {
        contentType = "text/plain"
      }
    }
    if CloudEvent.isJSON(contentType),
      let parsed = try? JSONSerialization.jsonObject(with: value, options: .fragmentsAllowed)
    {
      event["data"] = parsed
    } else if contentType.lowercased().hasPrefix("application/octet-stream") {
      event["data_base64"] = value.base64EncodedString()
    } else if let text = String(data: value, encoding: .utf8) {
      event["data"] = text
    } else {
      event["data_base64"] = value.base64EncodedString()
    }
    event["id"] = id
    event["source"] = event["source"] ?? appID
    event["type"] = event["type"] ?? CloudEvent.defaultType
    event["specversion"] = event["specversion"] ?? "1.0"
    event["datacontenttype"] = contentType
    event["topic"] = internalTopic
    event["pubsubname"] = internalPubsub
    event["traceid"] = trace?.traceparent ?? ""
    event["traceparent"] = ""
    event["tracestate"] = trace?.tracestate ?? ""
    event["time"] = CloudEvent.timestamp()
    return
      (try? JSONSerialization.data(
        withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
  }
}
