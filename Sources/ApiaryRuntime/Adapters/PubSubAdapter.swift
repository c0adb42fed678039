import ApiaryContracts
import Foundation
import GRPCCore
import GRPCCoreCTransport

/// ``PubSub`` over a pluggable component's `PubSub` service.
///
/// A subscription is one `PullMessages` stream: the first request names the topic, and
/// each later request acknowledges exactly one delivered message by its id, with
/// `ack_error` when the app failed it so the component redelivers. A message the app
/// never acknowledges is never acknowledged to the component either.
public struct PubSubAdapter: PubSub {
  let context: AdapterContext
  private var client: Dapr_Proto_Components_V1_PubSub.Client<SelectedClientTransport> {
    .init(wrapping: context.channel.client)
  }

  public init(context: AdapterContext) {
    self.context = context
  }

  /// Runs `Init` with the resolved metadata, then asks for the features.
  public func initialise(metadata: [String: String], timeout: Duration) async throws -> [String] {
    var request = Dapr_Proto_Components_V1_PubSubInitRequest()
    request.metadata.properties = metadata
    let client = self.client
    return try await context.initialise(timeout: timeout) { [request] metadata, options in
      _ = try await client.`init`(request, metadata: metadata, options: options)
    } features: { metadata, options in
      try await client.features(.init(), metadata: metadata, options: options).features
    }
  }

  /// Answers the heartbeat.
  public func ping(timeout: Duration) async throws {
    let client = self.client
    try await context.ping(timeout: timeout) { metadata, options in
      _ = try await client.ping(.init(), metadata: metadata, options: options)
    }
  }

  public func publish(_ request: PublishRequest) async throws {
    var wire = Dapr_Proto_Components_V1_PublishRequest()
    wire.pubsubName = context.instance
    wire.topic = request.topic
    wire.data = request.data
    wire.contentType = request.contentType ?? ""
    wire.metadata = request.metadata
    try await context.call("Publish") { [wire] in
      _ = try await client.publish(wire, metadata: context.metadata, options: context.options())
    }
  }

  public func bulkPublish(
    topic: String, entries: [BulkPublishEntry], metadata: [String: String]
  ) async throws -> [BulkPublishFailure] {
    var wire = Dapr_Proto_Components_V1_BulkPublishRequest()
    wire.pubsubName = context.instance
    wire.topic = topic
    wire.metadata = metadata
    wire.entries = entries.map { entry in
      var message = Dapr_Proto_Components_V1_BulkMessageEntry()
      message.entryID = entry.entryID
      message.event = entry.data
      message.contentType = entry.contentType ?? ""
      message.metadata = entry.metadata
      return message
    }
    let response = try await context.call("BulkPublish") { [wire] in
      try await client.bulkPublish(wire, metadata: context.metadata, options: context.options())
    }
    return response.failedEntries.map { BulkPublishFailure(entryID: $0.entryID, error: $0.error) }
  }

  public func subscribe(
    topic: String, metadata: [String: String]
  ) async throws -> AsyncThrowingStream<DeliveredMessage, any Error> {
    let (acks, ackSink) = AsyncStream<Dapr_Proto_Components_V1_PullMessagesRequest>.makeStream()
    let (messages, sink) = AsyncThrowingStream<DeliveredMessage, any Error>.makeStream()
    var first = Dapr_Proto_Components_V1_PullMessagesRequest()
    first.topic.name = topic
    first.topic.metadata = metadata
    let context = self.context
    let client = self.client
    let pull = Task {
      do {
        try await client.pullMessages(
          metadata: context.metadata,
          options: context.streamOptions,
          requestProducer: { [first] writer in
            try await writer.write(first)
            for await ack in acks { try await writer.write(ack) }
          },
          onResponse: { response in
            for try await message in response.messages {
              sink.yield(
                DeliveredMessage(
                  id: message.id,
                  topic: message.topicName.isEmpty ? topic : message.topicName,
                  data: message.data,
                  contentType: message.contentType.isEmpty ? nil : message.contentType,
                  metadata: message.metadata,
                  acknowledge: { error in
                    var ack = Dapr_Proto_Components_V1_PullMessagesRequest()
                    ack.ackMessageID = message.id
                    if let error { ack.ackError.message = error }
                    ackSink.yield(ack)
                  }
                ))
            }
            ackSink.finish()
          }
        )
        sink.finish()
      } catch let error as RPCError where error.code == .cancelled {
        sink.finish()
      } catch let error as RPCError {
        sink.finish(throwing: context.translate(error, what: "PullMessages(\(topic))"))
      } catch {
        sink.finish(throwing: error)
      }
      ackSink.finish()
    }
    sink.onTermination = { _ in
      pull.cancel()
      ackSink.finish()
    }
    return messages
  }
}
