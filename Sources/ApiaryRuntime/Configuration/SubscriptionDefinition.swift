/// A declarative subscription (`kind: Subscription`): deliver the events of a topic
/// to app routes.
public struct SubscriptionDefinition: Sendable, Equatable {
  /// `metadata.name`.
  public var name: String
  /// The pub/sub component (`spec.pubsubname`).
  public var pubsubName: String
  /// `spec.topic`.
  public var topic: String
  /// `spec.routes` (v2alpha1 rules and default) or v1alpha1's `spec.route`; paths
  /// always start with `/`.
  public var routes: SubscriptionRoutes
  /// `spec.metadata`, passed to the pub/sub component's subscribe call.
  public var metadata: [String: String]
  /// `spec.deadLetterTopic`, if any.
  public var deadLetterTopic: String?
  /// `spec.bulkSubscribe`, when enabled.
  public var bulkSubscribe: BulkSubscribeOptions?
  /// The app ids that may use it; empty means all.
  public var scopes: [String]
  /// The file and document it came from.
  public var source: DefinitionSource

  public init(
    name: String, pubsubName: String, topic: String, routes: SubscriptionRoutes,
    metadata: [String: String] = [:],
    deadLetterTopic: String? = nil, bulkSubscribe: BulkSubscribeOptions? = nil,
    scopes: [String] = [],
    source: DefinitionSource
  ) {
    self.name = name
    self.pubsubName = pubsubName
    self.topic = topic
    self.routes = routes
    self.metadata = metadata
    self.deadLetterTopic = deadLetterTopic
    self.bulkSubscribe = bulkSubscribe
    self.scopes = scopes
    self.source = source
  }

  /// A subscription with one route for every event.
  public init(
    name: String, pubsubName: String, topic: String, route: String,
    metadata: [String: String] = [:],
    deadLetterTopic: String? = nil, scopes: [String] = [], source: DefinitionSource
  ) {
    self.init(
      name: name, pubsubName: pubsubName, topic: topic, routes: .always(route), metadata: metadata,
      deadLetterTopic: deadLetterTopic, scopes: scopes, source: source)
  }
}

/// Everything the resources folders define for this app.
public struct LoadedResources: Sendable, Equatable {
  public var components: [ComponentDefinition]
  public var subscriptions: [SubscriptionDefinition]
  /// Entries of the resources folders named like resource files that were not read.
  public var skippedFiles: [SkippedFile] = []
  /// The `kind: Resiliency` documents that apply to this app, in reading order.
  public var resiliency: [ResiliencyDefinition] = []

  public init(components: [ComponentDefinition], subscriptions: [SubscriptionDefinition]) {
    self.components = components
    self.subscriptions = subscriptions
  }
}

/// A `*.yaml` / `*.yml` entry of a resources folder that was not read, and why.
public struct SkippedFile: Sendable, Equatable, CustomStringConvertible {
  public var file: String
  public var reason: String
  /// Whether it is likely a mistake (a broken link) rather than a deliberate folder.
  public var isWarning: Bool

  public var description: String { "\(file): \(reason)" }
}
