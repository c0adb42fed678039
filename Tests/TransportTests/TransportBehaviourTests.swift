import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCCoreCTransport
import Testing

/// One behaviour suite for both transports: every case runs for each server kind × client
/// kind × (Unix socket, TCP), so the core transport is held to what the NIO one does and
/// each talks to the other.
@Suite("Transport behaviour (nio and core, both ways)")
struct TransportBehaviourTests {
  @Test("unary echo of 0 B, 1 KiB and 1 MiB", arguments: Pair.all)
  func unaryEcho(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      for size in [0, 1024, 1 << 20] {
        let payload = bytes(size)
        let answer = try await client.call(.unary, [payload])
        #expect(answer.messages == [payload], "size \(size)")
        #expect(string(answer.trailers, "x-count") == "1")
        #expect(string(answer.trailers, "x-trailer") == "done")
      }
    }
  }

  @Test("client streaming of 0, 1 and 1000 messages", arguments: Pair.all)
  func clientStreaming(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      for count in [0, 1, 1000] {
        let messages = (0..<count).map { bytes(8, seed: UInt8(truncatingIfNeeded: $0)) }
        let answer = try await client.call(.clientStream, messages)
        #expect(answer.messages == [messages.flatMap { $0 }], "count \(count)")
        #expect(string(answer.trailers, "x-count") == "\(count)")
      }
    }
  }

  @Test("server streaming of 5 and 0 messages", arguments: Pair.all)
  func serverStreaming(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      let payload = bytes(100)
      let five = try await client.call(.serverStream, [payload], metadata: ["x-repeat": "5"])
      #expect(five.messages == Array(repeating: payload, count: 5))
      let none = try await client.call(.serverStream, [payload], metadata: ["x-repeat": "0"])
      #expect(none.messages.isEmpty)
      #expect(string(none.trailers, "x-trailer") == "done")
    }
  }

  @Test("bidi ping-pong: each answer arrives before the next request is written", arguments: Pair.all)
  func bidiPingPong(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      let rounds = 100
      let (answers, answered) = AsyncStream<[UInt8]>.makeStream()
      let request = StreamingClientRequest<[UInt8]> { writer in
        var replies = answers.makeAsyncIterator()
        for round in 0..<rounds {
          let ping = bytes(32, seed: UInt8(round))
          try await writer.write(ping)
          guard let pong = await replies.next() else { throw TestSupportError("no answer to round \(round)") }
          guard pong == ping else { throw TestSupportError("round \(round) answered \(pong.prefix(4))") }
        }
      }
      let received = try await client.client.bidirectionalStreaming(
        request: request, descriptor: TransportTestMethod.bidi.descriptor, serializer: RawBytes(),
        deserializer: RawBytes(), options: .defaults
      ) { response in
        var count = 0
        for try await message in response.messages {
          count += 1
          answered.yield(message)
        }
        answered.finish()
        return count
      }
      #expect(received == rounds)
    }
  }

  @Test("metadata: text and binary entries both ways, keys lowercased, trailers", arguments: Pair.all)
  func metadataBothWays(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      let binary = (0...255).map { UInt8($0) }
      var metadata: Metadata = ["x-echo-text": "a value with spaces"]
      metadata.addBinary(binary, forKey: "x-echo-data-bin")
      metadata.addString("upper", forKey: "X-Echo-Upper")
      let answer = try await client.call(.unary, [bytes(3)], metadata: metadata)
      #expect(string(answer.initial, "x-echo-text") == "a value with spaces")
      #expect(answer.initial[binaryValues: "x-echo-data-bin"].first(where: { _ in true }) == binary)
      #expect(string(answer.initial, "x-echo-upper") == "upper")
      #expect(string(answer.trailers, "x-trailer") == "done")
    }
  }

  @Test("every status code 1-16 with a UTF-8 message, as a trailers-only response", arguments: Pair.all)
  func statusCodes(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      let message = "héllo % wörld"
      for raw in 1...16 {
        var metadata: Metadata = ["x-fail-code": "\(raw)", "x-echo-never": "sent"]
        metadata.addBinary(Array(message.utf8), forKey: "x-fail-message-bin")
        let error = await #expect(throws: RPCError.self) {
          _ = try await client.call(.unary, [bytes(1)], metadata: metadata)
        }
        #expect(error?.code.rawValue == raw, "code \(raw)")
        #expect(error?.message == message, "code \(raw)")
      }
    }
  }

  @Test("grpc-status-details-bin reaches the client byte for byte", arguments: Pair.all)
  func statusDetails(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      let details: [UInt8] = [0x08, 0x05, 0x12, 0x03, 0x61, 0x62, 0x63]
      var metadata: Metadata = ["x-fail-code": "5", "x-fail-message": "gone"]
      metadata.addBinary(details, forKey: "x-fail-details-bin")
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.call(.unary, [bytes(1)], metadata: metadata)
      }
      #expect(error?.code == .notFound)
      #expect(error?.metadata[binaryValues: "grpc-status-details-bin"].first(where: { _ in true }) == details)
    }
  }

  @Test("a retry policy retries a trailers-only UNAVAILABLE", arguments: Pair.all)
  func retriesTrailersOnly(_ pair: Pair) async throws {
    var config = ServiceConfig()
    let policy = try RetryPolicy(
      maxAttempts: 3, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50), backoffMultiplier: 2,
      retryableStatusCodes: [.unavailable])
    config.methodConfig = [
      MethodConfig(names: [MethodConfig.Name(service: TransportTestMethod.service, method: "")], executionPolicy: .retry(policy))
    ]
    let service = TransportTestService()
    try await withPair(pair, service: service, serviceConfig: config) { client, _ in
      let key = "retry-\(UUID().uuidString):2"
      let answer = try await client.call(.unary, [bytes(5)], metadata: ["x-fail-first": .string(key)])
      #expect(answer.messages == [bytes(5)])
      #expect(service.attempts.count(key) == 3)
    }
  }

  @Test("an unknown method is UNIMPLEMENTED", arguments: Pair.all)
  func unknownMethod(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      let descriptor = MethodDescriptor(fullyQualifiedService: TransportTestMethod.service, method: "Nope", type: .unary)
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.client.unary(
          request: ClientRequest(message: [UInt8]()), descriptor: descriptor, serializer: RawBytes(),
          deserializer: RawBytes(), options: .defaults
        ) { try $0.message }
      }
      #expect(error?.code == .unimplemented)
    }
  }

  @Test("a request over the server's limit is refused, and the connection stays usable", arguments: Pair.all)
  func oversizedRequest(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.call(.unary, [bytes(9 << 20)])
      }
      // Core servers answer RESOURCE_EXHAUSTED; the NIO server resets the stream with
      // CANCEL, which a core client reports as CANCELLED and a NIO client as UNAVAILABLE.
      #expect(
        error.map { [.resourceExhausted, .unavailable, .cancelled].contains($0.code) } == true,
        "\(String(describing: error))")
      let after = try await client.call(.unary, [bytes(10)])
      #expect(after.messages == [bytes(10)])
    }
  }

  @Test("64 concurrent calls on one connection", arguments: Pair.all)
  func concurrentCalls(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      try await withThrowingTaskGroup(of: Bool.self) { group in
        for index in 0..<64 {
          group.addTask {
            let payload = bytes(512, seed: UInt8(index))
            let answer = try await client.call(.unary, [payload], metadata: ["x-sleep-ms": "50"])
            return answer.messages == [payload]
          }
        }
        var matched = 0
        for try await ok in group where ok { matched += 1 }
        #expect(matched == 64)
      }
    }
  }

  @Test("graceful shutdown lets a call in flight finish, and signals it cancellation", arguments: Pair.all)
  func gracefulShutdown(_ pair: Pair) async throws {
    let service = TransportTestService()
    try await withPair(pair, service: service) { client, running in
      let inFlight = Task { try await client.call(.unary, [bytes(9)], metadata: ["x-work-ms": "400"]) }
      #expect(await poll(timeout: .seconds(10)) { service.started.count == 1 })
      running.server.beginGracefulShutdown()
      let answer = try await inFlight.value
      #expect(answer.messages == [bytes(9)])
    }
  }
}

/// Cancellation cases, one at a time: their handlers must be running when the deadline or
/// the client's cancel arrives, which a machine busy with the parallel cases cannot promise.
@Suite("Transport cancellation (nio and core, both ways)", .serialized)
struct TransportCancellationTests {
  @Test("a deadline ends the call with DEADLINE_EXCEEDED and cancels the handler", arguments: Pair.all)
  func deadline(_ pair: Pair) async throws {
    let service = TransportTestService()
    try await withPair(pair, service: service) { client, _ in
      // Connected first, so the deadline is spent in the handler rather than dialling.
      _ = try await client.call(.unary, [bytes(1)])
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.call(.unary, [bytes(1)], metadata: ["x-sleep-ms": "10000"], timeout: .seconds(2))
      }
      #expect(error?.code == .deadlineExceeded)
      #expect(service.started.count == 2, "the handler did not start within the deadline")
      #expect(await poll(timeout: .seconds(5)) { service.cancellations.count == 1 })
    }
  }

  @Test("a client that gives up mid-stream cancels the server's handler", arguments: Pair.all)
  func clientCancels(_ pair: Pair) async throws {
    let service = TransportTestService()
    try await withPair(pair, service: service) { client, _ in
      let call = Task {
        try await client.call(.serverStream, [bytes(1)], metadata: ["x-sleep-ms": "10000"], timeout: nil)
      }
      #expect(await poll(timeout: .seconds(10)) { service.started.count == 1 })
      try await Task.sleep(for: .milliseconds(50))
      call.cancel()
      let outcome = await call.result
      switch outcome {
      case .success: Issue.record("the cancelled call succeeded")
      case .failure(let error as RPCError): #expect(error.code == .cancelled, "\(error)")
      case .failure(let error): #expect(error is CancellationError, "\(error)")
      }
      #expect(await poll(timeout: .seconds(5)) { service.cancellations.count == 1 })
    }
  }

}

@Suite("Transport connection handling")
struct TransportConnectionTests {
  @Test("a call to an absent socket fails UNAVAILABLE rather than hanging", arguments: TransportKind.allCases)
  func absentSocket(_ kind: TransportKind) async throws {
    let folder = try TemporaryFolder(prefix: "transport")
    defer { folder.remove() }
    try await withClient(kind, to: .unixDomainSocket(path: folder.file("absent.sock"))) { client in
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.call(.unary, [bytes(1)], timeout: .seconds(10))
      }
      #expect(error?.code == .unavailable)
    }
  }

  @Test("a client recovers when its server restarts on the same socket", arguments: TransportKind.allCases)
  func serverRestart(_ kind: TransportKind) async throws {
    let folder = try TemporaryFolder(prefix: "transport")
    defer { folder.remove() }
    let address = TransportAddress.unixDomainSocket(path: folder.file("restart.sock"))
    try await withClient(kind, to: address) { client in
      let first = try await withServer(kind, on: address) { _ in
        try await client.call(.unary, [bytes(4)]).messages
      }
      #expect(first == [bytes(4)])
      let recovered = try await withServer(kind, on: address) { _ in
        await poll(timeout: .seconds(10), every: .milliseconds(50)) {
          (try? await client.call(.unary, [bytes(4)], timeout: .seconds(2)).messages) == [bytes(4)]
        }
      }
      #expect(recovered)
    }
  }

  @Test("a TCP port already in use makes the core server's serve() throw")
  func portClash() async throws {
    try await withServer(.nio, on: .ipv4(host: "127.0.0.1", port: 0)) { running in
      guard case .ipv4(_, let port) = running.address else { return }
      let transport = SelectedServerTransport(.core, address: .ipv4(host: "127.0.0.1", port: port))
      let server = GRPCServer(transport: transport, services: [TransportTestService()])
      await #expect(throws: (any Error).self) { try await server.serve() }
    }
  }
}
