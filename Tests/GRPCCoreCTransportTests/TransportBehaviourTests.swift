import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCCoreCTransport
import Testing

/// One behaviour suite for both transports: every case runs for each server kind × client
/// kind × (Unix socket, TCP), so the core transport is held to what the NIO one does and
/// each talks to the other. One case at a time: 8 pairs of servers and clients moving
/// megabytes at once would starve the rest of the test run on a 2-CPU machine.
@Suite("Transport behaviour (nio and core, both ways)", .serialized)
struct TransportBehaviourTests {
  @Test("each check that needs only a client", arguments: TransportChecks.plain, Pair.all)
  func plain(_ check: TransportChecks.Named, _ pair: Pair) async throws {
    try await withPair(pair) { client, _ in try await check.run(client) }
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
      #expect(
        error?.metadata[binaryValues: "grpc-status-details-bin"].first(where: { _ in true })
          == details)
    }
  }

  @Test("a retry policy retries a trailers-only UNAVAILABLE", arguments: Pair.all)
  func retriesTrailersOnly(_ pair: Pair) async throws {
    var config = ServiceConfig()
    let policy = try RetryPolicy(
      maxAttempts: 3, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50),
      backoffMultiplier: 2,
      retryableStatusCodes: [.unavailable])
    config.methodConfig = [
      MethodConfig(
        names: [MethodConfig.Name(service: TransportTestMethod.service, method: "")],
        executionPolicy: .retry(policy))
    ]
    let service = TransportTestService()
    try await withPair(pair, service: service, serviceConfig: config) { client, _ in
      let key = "retry-\(UUID().uuidString):2"
      let answer = try await client.call(
        .unary, [bytes(5)], metadata: ["x-fail-first": .string(key)])
      #expect(answer.messages == [bytes(5)])
      #expect(service.attempts.count(key) == 3)
    }
  }

  @Test(
    "a request over the server's limit is refused, and the connection stays usable",
    arguments: Pair.all)
  func oversizedRequest(_ pair: Pair) async throws {
    try await withPair(pair) { client, _ in
      try await TransportChecks.oversizedRequest(
        client, exactly: pair.server == .core ? .resourceExhausted : nil)
    }
  }

  @Test(
    "graceful shutdown lets a call in flight finish, and signals it cancellation",
    arguments: Pair.all)
  func gracefulShutdown(_ pair: Pair) async throws {
    let service = TransportTestService()
    try await withPair(pair, service: service) { client, running in
      let inFlight = Task {
        try await client.call(.unary, [bytes(9)], metadata: ["x-work-ms": "400"])
      }
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
  @Test(
    "a deadline ends the call with DEADLINE_EXCEEDED and cancels the handler", arguments: Pair.all)
  func deadline(_ pair: Pair) async throws {
    let service = TransportTestService()
    try await withPair(pair, service: service) { client, _ in
      // Connected first, so the deadline is spent in the handler rather than dialling.
      _ = try await client.call(.unary, [bytes(1)])
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.call(
          .unary, [bytes(1)], metadata: ["x-sleep-ms": "10000"], timeout: .seconds(2))
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
        try await client.call(
          .serverStream, [bytes(1)], metadata: ["x-sleep-ms": "10000"], timeout: nil)
      }
      // Cancelled once the handler runs: whether it is already in its sleep or not,
      // the RPC's cancellation must reach it.
      #expect(await poll(timeout: .seconds(10)) { service.started.count == 1 })
      call.cancel()
      let outcome = await call.result
      switch outcome {
      case .success: Issue.record("the cancelled call succeeded")
      // grpc-swift's NIO client, cancelled while its stream is being set up, throws
      // UNKNOWN "The transport threw an unexpected error." with the CancellationError
      // as the cause (seen once in CI): cancelled all the same.
      case .failure(let error as RPCError):
        #expect(error.code == .cancelled || error.cause is CancellationError, "\(error)")
      case .failure(let error): #expect(error is CancellationError, "\(error)")
      }
      #expect(await poll(timeout: .seconds(5)) { service.cancellations.count == 1 })
    }
  }

}

@Suite("Transport connection handling")
struct TransportConnectionTests {
  @Test(
    "a call to an absent socket fails UNAVAILABLE rather than hanging",
    arguments: TransportKind.allCases)
  func absentSocket(_ kind: TransportKind) async throws {
    let folder = try TemporaryFolder(prefix: "transport")
    defer { folder.remove() }
    try await withClient(kind, to: .unixDomainSocket(path: folder.file("absent.sock"))) { client in
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.call(.unary, [bytes(1)], timeout: .seconds(10), waitForReady: false)
      }
      if kind == .core {
        #expect(error?.code == .unavailable)
      } else {
        // grpc-swift-nio-transport queues a call that arrives while it is still trying
        // the socket; now and then (about one CI run in three) the call then waits out
        // its deadline instead of failing at once. Either way it ends.
        #expect(error?.code == .unavailable || error?.code == .deadlineExceeded)
      }
    }
  }

  @Test(
    "a client recovers when its server restarts on the same socket",
    arguments: TransportKind.allCases)
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
