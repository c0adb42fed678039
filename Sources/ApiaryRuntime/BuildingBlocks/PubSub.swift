import Foundation

/// A message to publish.
public struct PublishRequest: Sendable, Equatable {
  public var topic: String
  public var data: Data
  public var contentType: String?
  public var metadata: [String: String]

  public init(
    topic: String, data: Data, contentType: String? = nil, metadata: [String: String] = [:]
  ) {
    self.topic = topic
    self.data = data
    self.contentType = contentType
    self.metadata = metadata
  }
}

/// One entry of a bulk publish.
public struct BulkPublishEntry: Sendable, Equatable {
  public var entryID: String
  public var data: Data
  public var contentType: String?
  public var metadata: [String: String]

  public init(
    entryID: String, data: Data, contentType: String? = nil, metadata: [String: String] = [:]
  ) {
    self.entryID = entryID
    self.data = data
    self.contentType = contentType
    self.metadata = metadata
  }
}

/// An entry a bulk publish could not publish.
public struct BulkPublishFailure: Sendable, Equatable {
  public var entryID: String
  public var error: String

  public init(entryID: String, error: String) {
    self.entryID = entryID
    self.error = error
  }
}

/// A message delivered to a subscription. Acknowledge it exactly once: success, or
/// an error so the component redelivers it. A message never acknowledged is not lost:
/// when the subscription ends the component redelivers it.
public struct DeliveredMessage: Sendable {
  public var id: String
  public var topic: String
  public var data: Data
  public var contentType: String?
  public var metadata: [String: String]
  private let acknowledge: @Sendable (_ error: String?) async throws -> Void

  public init(
    id: String, topic: String, data: Data, contentType: String?, metadata: [String: String],
    acknowledge: @escaping @Sendable (_ error: String?) async throws -> Void
  ) {
    self.id = id
    self.topic = topic
    self.data = data
    self.contentType = contentType
    self.metadata = metadata
    self.acknowledge = acknowledge
  }

  /// Tells the component the message was processed.
  public func ack() async throws { try await acknowledge(nil) }

  /// Tells the component the message was not processed, so it redelivers it.
  public func nack(_ error: String) async throws { try await acknowledge(error) }
}

/// Publish and subscribe: the pub/sub building block.
public protocol PubSub: Sendable {
  /// Publishes one message, keeping its content type.
  func publish(_ request: PublishRequest) async throws
  /// Publishes several messages; the ones that failed are returned.
  func bulkPublish(
    topic: String, entries: [BulkPublishEntry], metadata: [String: String]
  ) async throws -> [BulkPublishFailure]
  /// Subscribes to `topic`. The stream ends when the subscription ends; cancelling
  /// the consuming task ends the subscription.
  func subscribe(
    topic: String, metadata: [String: String]
  ) async throws -> AsyncThrowingStream<DeliveredMessage, any Error>
}
