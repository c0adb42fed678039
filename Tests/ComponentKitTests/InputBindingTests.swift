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
    try await withComponentServer(components: [.inputBinding { BurstBinding() }]) { socket in
      try await withClient(socket) { client in
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
  }

  @Test("Read before Init fails with FAILED_PRECONDITION")
  func readBeforeInit() async throws {
    try await withComponentServer(components: [.inputBinding { BurstBinding() }]) { socket in
      try await withClient(socket) { client in
        _ = await #expect {
          _ = try await readThenAnswer(client, instanceName: "never", count: 1) { _ in [] }
        } throws: { error in
          (error as? RPCError)?.code == .failedPrecondition
        }
      }
    }
  }
}

/// The ticker sample over its socket.
@Suite("ticker sample")
struct TickerSampleTests {
  @Test(
    "ticks carry JSON with a count and the message, wait for their answers, and a bad intervalMs is refused"
  )
  func ticks() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let socket = folder.file("ticker.sock")
    let process = try await startServing(
      try Locations.product("ticker"), ["--socket", socket], socket: socket)
    do {
      try await checkTicks(socket)
    } catch {
      await process.stop()
      throw error
    }
    await process.stop()
  }

  private func checkTicks(_ socket: String) async throws {
    try await withClient(socket) { client in
      let binding = InputClient(wrapping: client)
      var bad = Dapr_Proto_Components_V1_InputBindingInitRequest()
      bad.metadata.properties = ["intervalMs": "soon"]
      await #expect {
        _ = try await binding.`init`(bad, metadata: instance("ticks"), options: testCallOptions)
      } throws: { error in
        let error = error as? RPCError
        return error?.code == .invalidArgument && error?.message.contains("intervalMs") == true
      }

      var config = Dapr_Proto_Components_V1_InputBindingInitRequest()
      config.metadata.properties = ["intervalMs": "20", "message": "hi"]
      _ = try await binding.`init`(config, metadata: instance("ticks"), options: testCallOptions)
      _ = try await binding.ping(
        Dapr_Proto_Components_V1_PingRequest(), metadata: instance("ticks"),
        options: testCallOptions)

      // The first tick is answered only after a pause; the second may not come before.
      let pause = Duration.milliseconds(300)
      let clock = ContinuousClock()
      let (answers, answerSink) = AsyncStream<ReadRequest>.makeStream()
      let arrivals = try await binding.read(
        metadata: instance("ticks"), options: testCallOptions,
        requestProducer: { writer in
          for await message in answers { try await writer.write(message) }
        },
        onResponse: { response in
          var arrivals: [(ReadResponse, ContinuousClock.Instant)] = []
          for try await event in response.messages {
            arrivals.append((event, clock.now))
            if arrivals.count == 1 { try await Task.sleep(for: pause) }
            var answer = ReadRequest()
            answer.messageID = event.messageID
            answerSink.yield(answer)
            if arrivals.count == 3 { break }
          }
          answerSink.finish()
          return arrivals
        }
      )
      try #require(arrivals.count == 3)
      for (index, (event, _)) in arrivals.enumerated() {
        let json = try #require(
          try JSONSerialization.jsonObject(with: event.data) as? [String: Any])
        #expect(json["tick"] as? Int == index + 1)
        #expect(json["message"] as? String == "hi")
        #expect((json["time"] as? String)?.isEmpty == false)
        #expect(event.metadata["tick"] == "\(index + 1)")
        #expect(event.contentType == "application/json")
      }
      #expect(
        arrivals[1].1 - arrivals[0].1 >= pause, "the second tick came before the first was answered"
      )
    }
  }
}
