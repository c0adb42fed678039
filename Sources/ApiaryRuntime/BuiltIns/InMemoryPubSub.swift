import CoreMetrics
import Foundation
import Logging
import Synchronization

/// The built-in `pubsub.in-memory`: every subscription to a topic gets every message
/// published to it after it subscribed, at least once. A message nacked by the app is
/// redelivered to the same subscription after a short delay; one still unacknowledged
/// when its subscription ends is lost with it (there is no one left to deliver it to).
///
/// It keeps nothing for a subscriber that is not there: a message published to a topic
/// no subscription is open on is dropped, counted in
/// `apiary_pubsub_dropped_total{component,reason="no_subscriber"}`, and the first
/// such message of a topic is logged as a warning. Nothing survives a restart.
public final class InMemoryPubSub: PubSub {
  /// The features this pub/sub offers.
  public static let features = ["BULK_PUBSUB"]

  private struct Subscriber {
    var topic: String
    var sink: AsyncThrowingStream<DeliveredMessage, any Error>.Continuation
  }

  private struct Stored: Sendable {
    var id: String
    var topic: String
    var data: Data
    var contentType: String?
    var metadata: [String: String]
  }

  private let subscribers = Mutex<[UUID: Subscriber]>([:])
  /// Topics whose dropped messages were already logged (at most ``maximumWarnedTopics``).
  private let warnedTopics = Mutex<Set<String>>([])
  private static let maximumWarnedTopics = 1000
  /// How long a nacked message waits before it is delivered again.
  let redeliveryDelay: Duration
  /// The configured component name, for logs and metrics.
  let name: String
  private let logger: Logger

  public init(
    name: String = "pubsub", redeliveryDelay: Duration = .milliseconds(200),
    logger: Logger = Logger(label: "apiary")
  ) {
    self.name = name
    self.redeliveryDelay = redeliveryDelay
    self.logger = logger
  }

  public func publish(_ request: PublishRequest) async throws {
    let message = Stored(
      id: UUID().uuidString, topic: request.topic, data: request.data,
      contentType: request.contentType,
      metadata: request.metadata)
    let targets = subscribers.withLock { all in all.filter { $0.value.topic == request.topic } }
    guard !targets.isEmpty else {
      dropped(topic: request.topic)
      return
    }
    for (id, subscriber) in targets { deliver(message, to: id, sink: subscriber.sink) }
  }

  private func dropped(topic: String) {
    Counter(
      label: "apiary_pubsub_dropped_total",
      dimensions: [("component", name), ("reason", "no_subscriber")]
    )
    .increment()
    let first = warnedTopics.withLock { warned in
      warned.count < Self.maximumWarnedTopics && warned.insert(topic).inserted
    }
    if first {
      logger.warning(
        "pub/sub \(name) (pubsub.in-memory) dropped a message of topic \(topic): no subscription is open on it, and the in-memory pub/sub keeps nothing for absent subscribers (said once per topic)",
        metadata: ["component": "\(name)", "topic": "\(topic)"])
    }
  }

  public func bulkPublish(
    topic: String, entries: [BulkPublishEntry], metadata: [String: String]
  ) async throws -> [BulkPublishFailure] {
    for entry in entries {
      try await publish(
        PublishRequest(
          topic: topic, data: entry.data, contentType: entry.contentType,
          metadata: metadata.merging(entry.metadata) { _, new in new }))
    }
    return []
  }

  public func subscribe(
    topic: String, metadata: [String: String]
  ) async throws -> AsyncThrowingStream<DeliveredMessage, any Error> {
    let (stream, sink) = AsyncThrowingStream<DeliveredMessage, any Error>.makeStream()
    let id = UUID()
    subscribers.withLock { $0[id] = Subscriber(topic: topic, sink: sink) }
    sink.onTermination = { [weak self] _ in
      self?.subscribers.withLock { _ = $0.removeValue(forKey: id) }
    }
    return stream
  }

  private func deliver(
    _ message: Stored, to subscriber: UUID,
    sink: AsyncThrowingStream<DeliveredMessage, any Error>.Continuation
  ) {
    let delay = redeliveryDelay
    sink.yield(
      DeliveredMessage(
        id: message.id, topic: message.topic, data: message.data, contentType: message.contentType,
        metadata: message.metadata,
        acknowledge: { [weak self] error in
          guard error != nil, let self else { return }
          Task {
            try? await Task.sleep(for: delay)
            guard let sink = self.subscribers.withLock({ $0[subscriber]?.sink }) else { return }
            self.deliver(message, to: subscriber, sink: sink)
          }
        }))
  }
}
