import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCCoreCTransport
import Testing

/// Checks of the test service contract that need nothing but a client: the behaviour suite
/// runs them between every pair of Swift transports, the interop suite against Python.
enum TransportChecks {
  /// A check and what it shows, for a parameterised test.
  struct Named: Sendable, CustomTestStringConvertible {
    let testDescription: String
    let run: @Sendable (TransportTestClient) async throws -> Void

    init(_ description: String, run: @escaping @Sendable (TransportTestClient) async throws -> Void)
    {
      testDescription = description
      self.run = run
    }
  }

  /// The checks that run on the default test service with nothing but a client.
  static let plain: [Named] = [
    Named("unary echo of 0 B, 1 KiB and 1 MiB", run: unaryEcho),
    Named("client streaming of 0, 1 and 1000 messages", run: clientStreaming),
    Named("server streaming of 5 and 0 messages", run: serverStreaming),
    Named(
      "bidi ping-pong: each answer arrives before the next request is written", run: bidiPingPong),
    Named(
      "metadata: text and binary entries both ways, keys lowercased, trailers",
      run: metadataBothWays),
    Named(
      "every status code 1-16 with a UTF-8 message, as a trailers-only response", run: statusCodes),
    Named("a 12,000-byte status message reaches the client whole", run: longStatusMessage),
    Named("an unknown method is UNIMPLEMENTED", run: unknownMethod),
    Named("64 concurrent calls on one connection", run: concurrentCalls),
  ]

  static func unaryEcho(_ client: TransportTestClient) async throws {
    for size in [0, 1024, 1 << 20] {
      let payload = bytes(size)
      let answer = try await client.call(.unary, [payload])
      #expect(answer.messages == [payload], "size \(size)")
      #expect(string(answer.trailers, "x-count") == "1")
      #expect(string(answer.trailers, "x-trailer") == "done")
    }
  }

  static func clientStreaming(_ client: TransportTestClient) async throws {
    for count in [0, 1, 1000] {
      let messages = (0..<count).map { bytes(8, seed: UInt8(truncatingIfNeeded: $0)) }
      let answer = try await client.call(.clientStream, messages)
      #expect(answer.messages == [messages.flatMap { $0 }], "count \(count)")
      #expect(string(answer.trailers, "x-count") == "\(count)")
    }
  }

  static func serverStreaming(_ client: TransportTestClient) async throws {
    let payload = bytes(100)
    let five = try await client.call(.serverStream, [payload], metadata: ["x-repeat": "5"])
    #expect(five.messages == Array(repeating: payload, count: 5))
    let none = try await client.call(.serverStream, [payload], metadata: ["x-repeat": "0"])
    #expect(none.messages.isEmpty)
    #expect(string(none.trailers, "x-trailer") == "done")
  }

  static func bidiPingPong(_ client: TransportTestClient) async throws {
    let rounds = 100
    let (answers, answered) = AsyncStream<[UInt8]>.makeStream()
    let request = StreamingClientRequest<[UInt8]> { writer in
      var replies = answers.makeAsyncIterator()
      for round in 0..<rounds {
        let ping = bytes(32, seed: UInt8(round))
        try await writer.write(ping)
        guard let pong = await replies.next() else {
          throw TestSupportError("no answer to round \(round)")
        }
        guard pong == ping else {
          throw TestSupportError("round \(round) answered \(pong.prefix(4))")
        }
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

  static func metadataBothWays(_ client: TransportTestClient) async throws {
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

  static func statusCodes(_ client: TransportTestClient) async throws {
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

  /// A 12,000-byte status message (past gRPC core's default 8 KiB header limit, under
  /// NIO's 16 KiB) reaches the client whole: components quote long keys in errors.
  static func longStatusMessage(_ client: TransportTestClient) async throws {
    let metadata: Metadata = [
      "x-fail-code": "9", "x-fail-message": "0123456789", "x-fail-message-repeat": "1200",
    ]
    let error = await #expect(throws: RPCError.self) {
      _ = try await client.call(.unary, [bytes(1)], metadata: metadata)
    }
    #expect(error?.code == .failedPrecondition, "\(String(describing: error?.code))")
    #expect(
      error?.message == String(repeating: "0123456789", count: 1200),
      "\(error?.message.count ?? 0) characters")
  }

  static func unknownMethod(_ client: TransportTestClient) async throws {
    let descriptor = MethodDescriptor(
      fullyQualifiedService: TransportTestMethod.service, method: "Nope", type: .unary)
    let error = await #expect(throws: RPCError.self) {
      _ = try await client.client.unary(
        request: ClientRequest(message: [UInt8]()), descriptor: descriptor, serializer: RawBytes(),
        deserializer: RawBytes(), options: .defaults
      ) { try $0.message }
    }
    #expect(error?.code == .unimplemented)
  }

  /// - Parameter exactly: The code when the server's transport is known to give one:
  ///   core servers (C++, Python, Apiary's core) answer RESOURCE_EXHAUSTED; the NIO server
  ///   resets the stream with CANCEL, which a core client reports as CANCELLED and a NIO
  ///   client as UNAVAILABLE.
  static func oversizedRequest(
    _ client: TransportTestClient, exactly: RPCError.Code? = nil
  ) async throws {
    let error = await #expect(throws: RPCError.self) {
      _ = try await client.call(.unary, [bytes(9 << 20)])
    }
    if let exactly {
      #expect(error?.code == exactly, "\(String(describing: error))")
    } else {
      #expect(
        error.map { [.resourceExhausted, .unavailable, .cancelled].contains($0.code) } == true,
        "\(String(describing: error))")
    }
    let after = try await client.call(.unary, [bytes(10)])
    #expect(after.messages == [bytes(10)])
  }

  static func concurrentCalls(_ client: TransportTestClient) async throws {
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
