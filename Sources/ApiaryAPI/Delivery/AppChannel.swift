import ApiaryRuntime
import Foundation

/// A subscription the application asked for (programmatic) or the resources declare.
public struct AppSubscription: Sendable, Equatable {
  public var pubsubName: String
  public var topic: String
  /// The app route the events go to (HTTP path; for gRPC apps, the `path` field).
  public var route: String
  public var metadata: [String: String]
  public var deadLetterTopic: String

  public init(pubsubName: String, topic: String, route: String, metadata: [String: String] = [:], deadLetterTopic: String = "") {
    self.pubsubName = pubsubName
    self.topic = topic
    self.route = route
    self.metadata = metadata
    self.deadLetterTopic = deadLetterTopic
  }
}

/// How the sidecar reaches the application to deliver events: over HTTP (`POST` to
/// the route) or gRPC (`dapr.proto.runtime.v1.AppCallback`).
public protocol AppChannel: Sendable {
  /// The application's programmatic subscriptions; empty when it declares none.
  ///
  /// - Throws: when the application cannot be reached or answers something that is
  ///   not a subscription list.
  func programmaticSubscriptions() async throws -> [AppSubscription]

  /// Of the configured input bindings `configured`, the ones the application wants
  /// events from.
  func inputBindings(configured: [String]) async throws -> [String]

  /// Delivers one topic event; never throws: an unreachable app is a retry.
  func deliver(event: CloudEvent, route: String) async -> AppVerdict

  /// Delivers one input binding event.
  func deliver(bindingEvent: BindingEvent, binding: String) async -> AppVerdict

  /// Releases connections.
  func close() async
}
