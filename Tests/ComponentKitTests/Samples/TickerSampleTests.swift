import ApiaryContracts
import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

private typealias InputClient = Dapr_Proto_Components_V1_InputBinding.Client<
  HTTP2ClientTransport.Posix
>
private typealias ReadResponse = Dapr_Proto_Components_V1_ReadResponse
private typealias ReadRequest = Dapr_Proto_Components_V1_ReadRequest

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
    try await withCleanup {
      try await checkTicks(socket)
    } cleanup: {
      await process.stop()
    }
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
