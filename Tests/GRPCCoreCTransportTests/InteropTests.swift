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
    static let all = TransportKind.allCases.flatMap { kind in
      [false, true].map { Setup(kind: kind, tcp: $0) }
    }
  }

  private static let peer = Locations.pythonFixture("transport_test_peer.py")

  /// Starts the Python server and returns it with the address it listens on.
  private func startPythonServer(
    tcp: Bool, folder: TemporaryFolder
  ) async throws -> (ChildProcess, TransportAddress) {
    let address = tcp ? "127.0.0.1:0" : "unix:\(folder.file("python.sock"))"
    let server = try ChildProcess(Locations.python, [Self.peer, "serve", address])
    let ready = await poll(timeout: .seconds(30)) {
      server.standardOutput.contains("listening ") || !server.isRunning
    }
    guard ready, server.isRunning,
      let line = server.standardOutput.split(separator: "\n").first(where: {
        $0.hasPrefix("listening ")
      })
    else {
      let stderr = server.standardError
      await server.stop()
      throw TestSupportError("the Python peer did not start:\n\(stderr)")
    }
    let bound = String(line.dropFirst("listening ".count))
    if bound.hasPrefix("unix:") {
      return (server, .unixDomainSocket(path: String(bound.dropFirst(5))))
    }
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
      try await TransportChecks.oversizedRequest(client, exactly: .resourceExhausted)
      try await TransportChecks.concurrentCalls(client)
      let error = await #expect(throws: RPCError.self) {
        _ = try await client.call(
          .unary, [bytes(1)], metadata: ["x-sleep-ms": "10000"], timeout: .milliseconds(500))
      }
      #expect(error?.code == .deadlineExceeded)
    }
    await server.stop()
  }

  @Test(
    "Python client -> Swift server: every case of transport_test_peer.py call passes",
    arguments: Setup.all)
  func pythonClientSwiftServer(_ setup: Setup) async throws {
    let folder = try TemporaryFolder(prefix: "interop")
    defer { folder.remove() }
    let address: TransportAddress =
      setup.tcp
      ? .ipv4(host: "127.0.0.1", port: 0) : .unixDomainSocket(path: folder.file("swift.sock"))
    try await withServer(setup.kind, on: address) { running in
      let target: String
      switch running.address {
      case .unixDomainSocket(let path): target = "unix:\(path)"
      case .ipv4(let host, let port): target = "\(host):\(port)"
      }
      let result = try await ChildProcess.run(
        Locations.python, [Self.peer, "call", target], timeout: .seconds(120))
      let summary = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
      #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
      #expect(summary.hasSuffix(" passed, 0 failed"), "\(summary)")
    }
  }
}

/// Interop with C++ gRPC (grpc++ 1.51 on Debian's core) through the floor benchmark's
/// client and server (Benchmarks/floor, built by Scripts/test.sh; the folder is
/// APIARY_FLOOR_DIR, else Benchmarks/floor/build).
@Suite("Transport interop with C++ grpc++", .serialized, .enabled(if: FloorPeers.available))
struct TransportCppInteropTests {
  @Test("C++ floor client -> Swift server: 500 echoes of 1 KiB", arguments: TransportKind.allCases)
  func cppClientSwiftServer(_ kind: TransportKind) async throws {
    let folder = try TemporaryFolder(prefix: "interop")
    defer { folder.remove() }
    try await withServer(kind, on: .unixDomainSocket(path: folder.file("swift.sock"))) { running in
      guard case .unixDomainSocket(let path) = running.address else { return }
      let result = try await ChildProcess.run(
        FloorPeers.client,
        ["--target", "unix:\(path)", "--calls", "500", "--warmup", "10", "--json"],
        timeout: .seconds(60))
      #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
      // floor-client checks every echo's size and exits 1 on any failed call.
      #expect(result.stdout.contains("\"p50_us\""), "\(result.stdout)")
    }
  }

  @Test(
    "Swift client -> C++ floor server: echoes of 0 B to 1 MiB", arguments: TransportKind.allCases)
  func swiftClientCppServer(_ kind: TransportKind) async throws {
    let folder = try TemporaryFolder(prefix: "interop")
    defer { folder.remove() }
    let socket = folder.file("cpp.sock")
    let server = try await startServing(FloorPeers.server, ["--socket", socket], socket: socket)
    defer { server.signal(SIGKILL) }
    try await withClient(kind, to: .unixDomainSocket(path: socket)) { client in
      for size in [0, 1024, 1 << 20] {
        // An EchoMessage with `payload` (field 1, bytes) of `size` bytes.
        var message: [UInt8] = [0x0A]
        var length = size
        repeat {
          message.append(UInt8(length & 0x7F) | (length > 0x7F ? 0x80 : 0))
          length >>= 7
        } while length > 0
        message += bytes(size)
        let echoed = try await client.client.unary(
          request: ClientRequest(message: message), descriptor: TransportTestService.floorEcho,
          serializer: RawBytes(), deserializer: RawBytes(), options: .defaults
        ) { try $0.message }
        #expect(echoed == (size == 0 ? [] : message), "size \(size)")
      }
    }
    await server.stop()
  }
}

enum FloorPeers {
  static let folder: String = {
    if let explicit = ProcessInfo.processInfo.environment["APIARY_FLOOR_DIR"], !explicit.isEmpty {
      return explicit
    }
    return "\(Locations.packageRoot)/Benchmarks/floor/build"
  }()
  static var client: String { "\(folder)/floor-client" }
  static var server: String { "\(folder)/floor-server" }
  static var available: Bool {
    FileManager.default.isExecutableFile(atPath: client)
      && FileManager.default.isExecutableFile(atPath: server)
  }
}
