import ApiaryContracts
import ApiaryTestSupport
import ComponentKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import Testing

private typealias InputClient = Dapr_Proto_Components_V1_InputBinding.Client<
  HTTP2ClientTransport.Posix
>
private typealias ReadResponse = Dapr_Proto_Components_V1_ReadResponse
private typealias ReadRequest = Dapr_Proto_Components_V1_ReadRequest

/// A binding that sends `count` events at once (each from its own task) and records
/// every reply by the event's payload, then ends its stream.
actor BurstBinding: InputBindingComponent {
  static let replies = Mutex<[String: InputBindingReply]>([:])
  var count = 3

  func initialise(metadata: [String: String]) async throws {
    count = Int(metadata["count"] ?? "3") ?? 3
  }

  func read(deliver: InputBindingDelivery) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      for index in 1...count {
        group.addTask {
          let reply = try await deliver(
            InputBindingEvent(data: Data("event-\(index)".utf8), metadata: ["index": "\(index)"]))
          Self.replies.withLock { $0["event-\(index)"] = reply }
        }
      }
      try await group.waitForAll()
    }
  }
}

/// Opens `Read` for `instanceName`, collects `count` events, then sends the answers
/// `answer` makes of them (in the order given) and waits for the stream to end.
private func readThenAnswer(
  _ client: GRPCClient<HTTP2ClientTransport.Posix>, instanceName: String, count: Int,
  answer: @escaping @Sendable ([ReadResponse]) -> [ReadRequest]
) async throws -> [ReadResponse] {
  let (answers, answerSink) = AsyncStream<ReadRequest>.makeStream()
  return try await InputClient(wrapping: client).read(
    metadata: instance(instanceName), options: testCallOptions,
    requestProducer: { writer in
      for await message in answers { try await writer.write(message) }
    },
    onResponse: { response in
      var events: [ReadResponse] = []
      for try await event in response.messages {
        events.append(event)
        if events.count == count {
          for message in answer(events) { answerSink.yield(message) }
        }
      }
      answerSink.finish()
      return events
    }
  )
}

@Suite("input bindings in ComponentKit")
struct InputBindingTests {
  @Test(
    "each reply reaches the event it answers, whatever the order; the stream ends when the component returns"
  )
  func repliesMatchTheirEvents() async throws {
    try await withServedClient([.inputBinding { BurstBinding() }]) { client in
      var config = Dapr_Proto_Components_V1_InputBindingInitRequest()
      config.metadata.properties = ["count": "3"]
      _ = try await InputClient(wrapping: client).`init`(
        config, metadata: instance("burst"), options: testCallOptions)
      let events = try await readThenAnswer(client, instanceName: "burst", count: 3) { events in
        // Answer in reverse order; the second event is failed by the "application".
        events.reversed().map { event in
          var answer = ReadRequest()
          answer.messageID = event.messageID
          let name = String(decoding: event.data, as: UTF8.self)
          if name == "event-2" {
            answer.responseError.message = "the app refused \(name)"
          } else {
            answer.responseData = Data("reply to \(name)".utf8)
          }
          return answer
        }
      }
      #expect(
        Set(events.map { String(decoding: $0.data, as: UTF8.self) }) == [
          "event-1", "event-2", "event-3",
        ])
      #expect(Set(events.map(\.messageID)).count == 3, "message ids must be distinct")
      #expect(
        events.allSatisfy {
          $0.metadata["index"].map { "event-\($0)" } == String(decoding: $0.data, as: UTF8.self)
        })
      let replies = BurstBinding.replies.withLock { $0 }
      #expect(replies["event-1"] == .handled(Data("reply to event-1".utf8)))
      #expect(replies["event-2"] == .failed("the app refused event-2"))
      #expect(replies["event-3"] == .handled(Data("reply to event-3".utf8)))
    }
  }

  @Test("Read before Init fails with FAILED_PRECONDITION")
  func readBeforeInit() async throws {
    try await withServedClient([.inputBinding { BurstBinding() }]) { client in
      _ = await #expect {
        _ = try await readThenAnswer(client, instanceName: "never", count: 1) { _ in [] }
      } throws: { error in
        (error as? RPCError)?.code == .failedPrecondition
      }
    }
  }
}
