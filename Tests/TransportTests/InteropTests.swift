import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCCoreCTransport
import Testing

/// Interop with another gRPC implementation: Python's grpcio (a newer gRPC core than
/// Debian's, and an independent HTTP/2 stack from NIO), through
/// Tests/Fixtures/python/transport_test_peer.py, in both directions.
@Suite("Transport interop with Python grpcio", .serialized)
struct TransportInteropTests {
  struct Setup: Sendable, CustomTestStringConvertible {
    var kind: TransportKind
    var tcp: Bool
    var testDescription: String { "\(kind), \(tcp ? "tcp" : "unix")" }
    static let all = TransportKind.allCases.flatMap { kind in [false, true].map { Setup(kind: kind, tcp: $0) } }
  }

  private static let peer = Locations.pythonFixture("transport_test_peer.py")

  /// Starts the Python server and returns it with the address it listens on.
  private func startPythonServer(tcp: Bool, folder: TemporaryFolder) async throws -> (ChildProcess, TransportAddress) {
    let address = tcp ? "127.0.0.1:0" : "unix:\(folder.file("python.sock"))"
    let server = try ChildProcess(Locations.python, [Self.peer, "serve", address])
    let ready = await poll(timeout: .seconds(30)) { server.standardOutput.contains("listening ") || !server.isRunning }
    guard ready, server.isRunning,
      let line = server.standardOutput.split(separator: "\n").first(where: { $0.hasPrefix("listening ") })
    else {
      let stderr = server.standardError
      await server.stop()
      throw TestSupportError("the Python peer did not start:\n\(stderr)")
    }
    let bound = String(line.dropFirst("listening ".count))
    if bound.hasPrefix("unix:") { return (server, .unixDomainSocket(path: String(bound.dropFirst(5)))) }
    guard let port = bound.split(separator: ":").last.flatMap({ Int($0) }) else {
      await server.stop()
      throw TestSupportError("the Python peer printed an address without a port: \(bound)")
    }
    return (server, .ipv4(host: "127.0.0.1", port: port))
  }

  @Test("Swift client -> Python server: the contract checks pass", arguments: Setup.all)
  func swiftClientPythonServer(_ setup: Setup) async throws {
    let folder = try TemporaryFolder(prefix: "interop")
    defer { folder.remove() }
    let (server, address) = try await startPythonServer(tcp: setup.tcp, folder: folder)
    defer { server.signal(SIGKILL) }
    try await withClient(setup.kind, to: address) { client in
      try await TransportChecks.unaryEcho(client)
      try await TransportChecks.clientStreaming(client)
      try await TransportChecks.serverStreaming(client)
      try await TransportChecks.bidiPingPong(client)
      try await TransportChecks.metadataBothWays(client)
      try await TransportChecks.statusCodes(client)
      try await TransportChecks.unknownMethod(client)
      try await TransportChecks.oversizedRequest(client)
      try await TransportChecks.concurrentCalls(client)
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.call(.unary, [bytes(1)], metadata: ["x-sleep-ms": "10000"], timeout: .milliseconds(500))
      }
      #expect(error?.code == .deadlineExceeded)
    }
    await server.stop()
  }

  @Test("Python client -> Swift server: every case of transport_test_peer.py call passes", arguments: Setup.all)
  func pythonClientSwiftServer(_ setup: Setup) async throws {
    let folder = try TemporaryFolder(prefix: "interop")
    defer { folder.remove() }
    let address: TransportAddress =
      setup.tcp ? .ipv4(host: "127.0.0.1", port: 0) : .unixDomainSocket(path: folder.file("swift.sock"))
    try await withServer(setup.kind, on: address) { running in
      let target: String
      switch running.address {
      case .unixDomainSocket(let path): target = "unix:\(path)"
      case .ipv4(let host, let port): target = "\(host):\(port)"
      }
      let result = try await ChildProcess.run(Locations.python, [Self.peer, "call", target], timeout: .seconds(120))
      let summary = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
      #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
      #expect(summary.hasSuffix(" passed, 0 failed"), "\(summary)")
    }
  }
}
