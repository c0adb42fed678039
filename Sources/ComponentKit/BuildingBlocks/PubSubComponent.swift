import ApiaryContracts
import Foundation
import GRPCCore

/// One message a pub/sub hands to the sidecar for a subscription.
public struct PubSubMessage: Sendable, Equatable {
  /// The payload as published (usually a CloudEvent the sidecar built).
  public var data: Data
  /// The topic it was published to.
  public var topic: String
  /// Metadata delivered with it.
  public var metadata: [String: String]
  /// The payload's content type, as published.
  public var contentType: String

  /// A message with `data` on `topic`, delivered with `metadata`.
  public init(data: Data, topic: String, metadata: [String: String] = [:], contentType: String = "")
  {
    self.data = data
    self.topic = topic
    self.metadata = metadata
    self.contentType = contentType
  }
}

/// The sidecar's answer to one delivered ``PubSubMessage``.
public enum PubSubAck: Sendable, Equatable {
  /// The application processed it: remove it from the backend.
  case ack
  /// The application failed it (the sidecar's error text): keep it for redelivery,
  /// as the backend redelivers (after a visibility timeout, at once, …).
  case nack(String)
}

/// A subscription the sidecar opened: the topic and its metadata.
public struct PubSubSubscription: Sendable, Equatable {
  /// The topic to deliver.
  public var topic: String
  /// The subscription's metadata (consumer group, filters, … as the backend reads them).
  public var metadata: [String: String]

  /// A subscription to `topic` with `metadata`.
  public init(topic: String, metadata: [String: String] = [:]) {
    self.topic = topic
    self.metadata = metadata
  }
}

/// A pub/sub (`dapr.proto.components.v1.PubSub`) written with ComponentKit. One value
/// is created per configured instance (`x-component-instance`).
///
/// Publishing is a call; subscribing is a loop the component runs for as long as the
/// sidecar keeps the `PullMessages` stream open: it takes messages from its backend,
/// hands each to `deliver`, and acknowledges or keeps it by the answer. At-least-once
/// delivery is the backend's: a message must stay in the backend until acked.
public protocol PubSubComponent: Sendable {
  /// Prepares the instance with its resolved component metadata.
  func initialise(metadata: [String: String]) async throws
  /// The features this instance supports (``PubSubFeature/bulkPublish``, …); each one
  /// is a promise `apiary conformance` checks.
  func features() async throws -> [PubSubFeature]
  /// Publishes one message.
  func publish(_ request: Dapr_Proto_Components_V1_PublishRequest) async throws
  /// Publishes several messages to one topic, answering the entries that failed. The
  /// default publishes entry by entry.
  func bulkPublish(
    _ request: Dapr_Proto_Components_V1_BulkPublishRequest
  ) async throws -> Dapr_Proto_Components_V1_BulkPublishResponse
  /// Delivers `subscription`'s messages until the task is cancelled (the sidecar
  /// closed the stream) or it returns or throws (which closes the stream).
  /// `deliver` may be called from several tasks at once; it throws
  /// ``PubSubStreamClosed`` when the stream ended before the answer came: leave that
  /// message in the backend.
  func subscribe(_ subscription: PubSubSubscription, deliver: PubSubDelivery) async throws
  /// Stops delivering until ``resume()`` (`Pause`); the default refuses as
  /// UNIMPLEMENTED, which the contract allows.
  func pause() async throws
  /// Delivers again after ``pause()`` (`Resume`).
  func resume() async throws
  /// Answers the sidecar's heartbeat; throw when the backend is unreachable.
  func ping() async throws
}

extension PubSubComponent {
  /// Publishes each entry through ``publish(_:)`` in order and lists those that failed;
  /// implement it when the backend publishes many messages in one call (and declare
  /// ``PubSubFeature/bulkPublish``).
  public func bulkPublish(
    _ request: Dapr_Proto_Components_V1_BulkPublishRequest
  ) async throws -> Dapr_Proto_Components_V1_BulkPublishResponse {
    var response = Dapr_Proto_Components_V1_BulkPublishResponse()
    for entry in request.entries {
      var single = Dapr_Proto_Components_V1_PublishRequest()
      single.data = entry.event
      single.pubsubName = request.pubsubName
      single.topic = request.topic
      single.metadata = request.metadata.merging(entry.metadata) { _, entry in entry }
      single.contentType = entry.contentType
      do {
        try await publish(single)
      } catch {
        var failed = Dapr_Proto_Components_V1_BulkPublishResponseFailedEntry()
        failed.entryID = entry.entryID
        failed.error = String(describing: error)
        response.failedEntries.append(failed)
      }
    }
    return response
  }

  /// Refuses: a pub/sub that can stop delivering implements it.
  public func pause() async throws { throw ComponentError.unsupported("this pub/sub cannot pause") }
  /// Refuses: a pub/sub that can stop delivering implements it.
  public func resume() async throws {
    throw ComponentError.unsupported("this pub/sub cannot pause")
  }
  /// Answers every heartbeat; implement it to report an unreachable broker.
  public func ping() async throws {}
}

/// Sends messages to the sidecar on one `PullMessages` stream and waits for each one's
/// acknowledgement.
public struct PubSubDelivery: Sendable {
  fileprivate let outgoing: AsyncStream<Dapr_Proto_Components_V1_PullMessagesResponse>.Continuation
  fileprivate let replies: PendingReplies<PubSubAck>

  /// Sends `message` and returns the sidecar's answer.
  ///
  /// - Throws: ``PubSubStreamClosed`` when the stream ended before the answer came,
  ///   or `CancellationError` when the calling task was cancelled.
  public func callAsFunction(_ message: PubSubMessage) async throws -> PubSubAck {
    var response = Dapr_Proto_Components_V1_PullMessagesResponse()
    response.data = message.data
    response.topicName = message.topic
    response.metadata = message.metadata
    response.contentType = message.contentType
    response.id = replies.nextID()
    let outgoing = self.outgoing
    return try await replies.wait(for: response.id) { [response] in outgoing.yield(response) }
  }
}

/// The `PullMessages` stream ended while a message still waited for its answer.
public struct PubSubStreamClosed: Error, Sendable, CustomStringConvertible {
  /// What happened, in one sentence.
  public var description: String {
    "the sidecar's PullMessages stream closed before the message was answered"
  }
}

/// Serves `dapr.proto.components.v1.PubSub` over instances made by a factory.
struct PubSubService<PubSub: PubSubComponent>: Dapr_Proto_Components_V1_PubSub.ServiceProtocol {
  let instances: InstanceRegistry<PubSub>

  func `init`(
    request: ServerRequest<Dapr_Proto_Components_V1_PubSubInitRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_PubSubInitResponse> {
    try await instances.initCall(request) { pubsub, message in
      try await pubsub.initialise(metadata: message.metadata.properties)
    }
  }

  func features(
    request: ServerRequest<Dapr_Proto_Components_V1_FeaturesRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_FeaturesResponse> {
    try await instances.features(request) { try await $0.features().map(\.rawValue) }
  }

  func publish(
    request: ServerRequest<Dapr_Proto_Components_V1_PublishRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_PublishResponse> {
    try await instances.perform(request) { instance, message in
      try await instance.publish(message)
    }
  }

  func bulkPublish(
    request: ServerRequest<Dapr_Proto_Components_V1_BulkPublishRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_BulkPublishResponse> {
    try await instances.answer(request) { try await $0.bulkPublish($1) }
  }

  func pullMessages(
    request: StreamingServerRequest<Dapr_Proto_Components_V1_PullMessagesRequest>,
    context: ServerContext
  ) async throws -> StreamingServerResponse<Dapr_Proto_Components_V1_PullMessagesResponse> {
    let pubsub = try instances.instance(for: request.metadata)
    return StreamingServerResponse { writer in
      let replies = PendingReplies<PubSubAck>(closedError: { PubSubStreamClosed() })
      // The first message names the topic; the subscription starts once it came.
      let (topics, topicSink) = AsyncStream<PubSubSubscription>.makeStream()
      try await serveAnsweredStream(
        messages: request.messages, writer: writer, replies: replies,
        receive: { message in
          if message.hasTopic {
            topicSink.yield(
              PubSubSubscription(topic: message.topic.name, metadata: message.topic.metadata))
            topicSink.finish()
          } else {
            let ack: PubSubAck = message.hasAckError ? .nack(message.ackError.message) : .ack
            replies.resolve(message.ackMessageID, with: ack)
          }
        },
        produce: { sink in
          var first = topics.makeAsyncIterator()
          guard let subscription = await first.next() else { return }
          guard !subscription.topic.isEmpty else {
            throw ComponentError.invalidArgument("the first PullMessages request must name a topic")
          }
          try await pubsub.subscribe(
            subscription, deliver: PubSubDelivery(outgoing: sink, replies: replies))
        })
      topicSink.finish()
      return [:]
    }
  }

  func pause(
    request: ServerRequest<Dapr_Proto_Components_V1_PauseRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_PauseResponse> {
    try await instances.perform(request) { instance, message in
      try await instance.pause()
    }
  }

  func resume(
    request: ServerRequest<Dapr_Proto_Components_V1_ResumeRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_ResumeResponse> {
    try await instances.perform(request) { instance, message in
      try await instance.resume()
    }
  }

  func ping(
    request: ServerRequest<Dapr_Proto_Components_V1_PingRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_PingResponse> {
    try await instances.perform(request) { instance, _ in try await instance.ping() }
  }
}

extension ComponentRegistration {
  /// A pub/sub (`dapr.proto.components.v1.PubSub`). `make` runs once per `Init`.
  public static func pubSub<PubSub: PubSubComponent>(
    _ make: @escaping @Sendable () -> PubSub
  ) -> Self {
    Self(
      PubSubService(instances: InstanceRegistry(make: make)),
      named: Dapr_Proto_Components_V1_PubSub.descriptor)
  }
}
