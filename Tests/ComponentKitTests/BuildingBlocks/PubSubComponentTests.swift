import ApiaryContracts
import ApiaryTestSupport
import ComponentKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import Testing

private typealias PubSubClient = Dapr_Proto_Components_V1_PubSub.Client<HTTP2ClientTransport.Posix>

/// A pub/sub that records what it is given and, per subscription, sends two messages
/// and records each one's answer (or the error `deliver` threw).
final class RecordingPubSub: PubSubComponent {
  static let published = Mutex<[String]>([])
  static let answers = Mutex<[String: String]>([:])
  let name = Mutex("")

  func initialise(metadata: [String: String]) async throws {
    name.withLock { $0 = metadata["name"] ?? "" }
  }
  func features() async throws -> [PubSubFeature] { [.bulkPublish, "CUSTOM"] }
  func publish(_ request: Dapr_Proto_Components_V1_PublishRequest) async throws {
    if request.topic == "refused" { throw ComponentError.backend("topic refused") }
    let instance = name.withLock { $0 }
    Self.published.withLock {
      $0.append("\(instance):\(request.topic):\(String(decoding: request.data, as: UTF8.self))")
    }
  }
  func subscribe(_ subscription: PubSubSubscription, deliver: PubSubDelivery) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      for index in 1...2 {
        group.addTask {
          let key = "\(subscription.topic)-\(index)"
          do {
            let answer = try await deliver(
              PubSubMessage(
                data: Data(key.utf8), topic: subscription.topic, metadata: subscription.metadata))
            Self.answers.withLock { $0[key] = "\(answer)" }
          } catch {
            Self.answers.withLock { $0[key] = "\(type(of: error))" }
          }
        }
      }
      try await group.waitForAll()
    }
  }
}

@Suite("ComponentKit: pub/sub", .timeLimit(.minutes(1)))
struct PubSubComponentTests {
  @Test("Init, Features, Publish and the default BulkPublish reach the instance the call names")
  func publishing() async throws {
    try await withServedClient([.pubSub { RecordingPubSub() }]) { client in
      let pubsub = PubSubClient(wrapping: client)
      for name in ["a", "b"] {
        var initRequest = Dapr_Proto_Components_V1_PubSubInitRequest()
        initRequest.metadata.properties = ["name": name]
        _ = try await pubsub.`init`(
          initRequest, metadata: instance(name), options: testCallOptions)
      }
      let features = try await pubsub.features(
        .init(), metadata: instance("a"), options: testCallOptions
      ).features
      #expect(features == ["BULK_PUBSUB", "CUSTOM"])
      var request = Dapr_Proto_Components_V1_PublishRequest()
      request.topic = "orders"
      request.data = Data("one".utf8)
      _ = try await pubsub.publish(request, metadata: instance("b"), options: testCallOptions)
      var bulk = Dapr_Proto_Components_V1_BulkPublishRequest()
      bulk.topic = "refused"
      bulk.entries = ["x", "y"].map { id in
        var entry = Dapr_Proto_Components_V1_BulkMessageEntry()
        entry.entryID = id
        entry.event = Data(id.utf8)
        return entry
      }
      let failed = try await pubsub.bulkPublish(
        bulk, metadata: instance("a"), options: testCallOptions
      ).failedEntries
      #expect(failed.map(\.entryID) == ["x", "y"])
      #expect(failed.allSatisfy { $0.error.contains("topic refused") })
      let error = await #expect(throws: RPCError.self) {
        _ = try await pubsub.pause(.init(), metadata: instance("a"), options: testCallOptions)
      }
      #expect(error?.code == .unimplemented)
    }
    #expect(RecordingPubSub.published.withLock { $0 }.contains("b:orders:one"))
  }

  @Test(
    "PullMessages: the first request names the topic; acks and nacks reach deliver's callers by id")
  func pulling() async throws {
    try await withServedClient([.pubSub { RecordingPubSub() }]) { client in
      let pubsub = PubSubClient(wrapping: client)
      _ = try await pubsub.`init`(.init(), metadata: instance("p"), options: testCallOptions)
      let (acks, ackSink) = AsyncStream<Dapr_Proto_Components_V1_PullMessagesRequest>.makeStream()
      let received = try await pubsub.pullMessages(
        metadata: instance("p"), options: testCallOptions,
        requestProducer: { writer in
          var first = Dapr_Proto_Components_V1_PullMessagesRequest()
          first.topic.name = "pulled"
          first.topic.metadata = ["group": "g"]
          try await writer.write(first)
          for await ack in acks { try await writer.write(ack) }
        },
        onResponse: { response in
          var messages: [Dapr_Proto_Components_V1_PullMessagesResponse] = []
          for try await message in response.messages {
            messages.append(message)
            var ack = Dapr_Proto_Components_V1_PullMessagesRequest()
            ack.ackMessageID = message.id
            if message.data == Data("pulled-2".utf8) { ack.ackError.message = "app failed" }
            ackSink.yield(ack)
          }
          ackSink.finish()
          return messages
        })
      #expect(
        Set(received.map { String(decoding: $0.data, as: UTF8.self) }) == [
          "pulled-1", "pulled-2",
        ])
      #expect(Set(received.map(\.id)).count == 2)
      #expect(received.allSatisfy { $0.topicName == "pulled" && $0.metadata == ["group": "g"] })
    }
    let answers = RecordingPubSub.answers.withLock { $0 }
    #expect(answers["pulled-1"] == "ack")
    #expect(answers["pulled-2"] == #"nack("app failed")"#)
  }

  @Test("a stream that ends before its messages are answered fails deliver with PubSubStreamClosed")
  func closedStream() async throws {
    try await withServedClient([.pubSub { RecordingPubSub() }]) { client in
      let pubsub = PubSubClient(wrapping: client)
      _ = try await pubsub.`init`(.init(), metadata: instance("c"), options: testCallOptions)
      // The request side stays open until two messages came, then ends without
      // answering either.
      let (done, doneSink) = AsyncStream<Never>.makeStream()
      let count = try await pubsub.pullMessages(
        metadata: instance("c"), options: testCallOptions,
        requestProducer: { writer in
          var first = Dapr_Proto_Components_V1_PullMessagesRequest()
          first.topic.name = "unanswered"
          try await writer.write(first)
          for await _ in done {}
        },
        onResponse: { response in
          var count = 0
          for try await _ in response.messages {
            count += 1
            if count == 2 { doneSink.finish() }
          }
          return count
        })
      #expect(count == 2)
    }
    // Ending the call closed the stream; both deliveries learned it.
    let answers = RecordingPubSub.answers.withLock { $0 }
    #expect(
      answers["unanswered-1"] == "PubSubStreamClosed"
        || answers["unanswered-1"] == "CancellationError")
    #expect(
      answers["unanswered-2"] == "PubSubStreamClosed"
        || answers["unanswered-2"] == "CancellationError")
  }
}
