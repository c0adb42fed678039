import ApiaryRuntime
import Foundation

/// A subscription the application asked for (programmatic), the resources declare, or
/// a streaming call opened.
public struct AppSubscription: Sendable, Equatable {
  public var pubsubName: String
  public var topic: String
  /// Where its events go (HTTP paths; for gRPC apps, the `path` field).
  public var routes: SubscriptionRoutes
  /// Passed to the pub/sub's subscribe call; `rawPayload: "true"` makes every message
  /// a synthetic CloudEvent of its bytes.
  public var metadata: [String: String]
  public var deadLetterTopic: String
  /// Batched delivery, when on.
  public var bulk: BulkSubscribeOptions?

  public init(
    pubsubName: String, topic: String, routes: SubscriptionRoutes, metadata: [String: String] = [:],
    deadLetterTopic: String = "", bulk: BulkSubscribeOptions? = nil
  ) {
    self.pubsubName = pubsubName
    self.topic = topic
    self.routes = routes
    self.metadata = metadata
    self.deadLetterTopic = deadLetterTopic
    self.bulk = bulk
  }

  /// A subscription with one route for every event.
  public init(
    pubsubName: String, topic: String, route: String, metadata: [String: String] = [:],
    deadLetterTopic: String = ""
  ) {
    self.init(
      pubsubName: pubsubName, topic: topic, routes: .always(route), metadata: metadata,
      deadLetterTopic: deadLetterTopic)
  }
}

/// One event of a batch (bulk subscribe).
public struct BulkEvent: Sendable {
  /// Unique within the batch.
  public var entryID: String
  public var event: CloudEvent
  /// The message's metadata.
  public var metadata: [String: String]
  /// Whether the subscription is raw (`rawPayload`): the entry carries the bytes.
  public var raw: Bool
  /// The original bytes (for a raw subscription).
  public var bytes: Data
  public var contentType: String
}

/// How the sidecar reaches the application to deliver events: over HTTP (`POST` to
/// the route) or gRPC (`dapr.proto.runtime.v1.AppCallback`); a streaming subscription
/// is one too.
public protocol AppChannel: Sendable {
  /// The application's programmatic subscriptions; empty when it declares none.
  ///
  /// - Throws: when the application cannot be reached or answers something that is
  ///   not a subscription list.
  func programmaticSubscriptions() async throws -> [AppSubscription]

  /// Of the configured input bindings `configured`, the ones the application wants
  /// events from.
  func inputBindings(configured: [String]) async throws -> [String]

  /// Delivers one topic event of the subscription to `topic`; never throws: an
  /// unreachable app is a verdict too. `metadata` is the message's metadata (HTTP
  /// sends it as headers).
  func deliver(
    event: CloudEvent, topic: String, route: String, metadata: [String: String]
  ) async -> AppVerdict

  /// Delivers a batch; the verdict of each entry by entry id (a missing one is a retry).
  func deliver(
    bulk events: [BulkEvent], route: String, subscription: AppSubscription
  ) async -> [String: AppVerdict]

  /// Delivers one input binding event.
  func deliver(bindingEvent: BindingEvent, binding: String) async -> AppVerdict

  /// Releases connections.
  func close() async
}
