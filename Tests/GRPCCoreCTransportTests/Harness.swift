import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCCoreCTransport
import GRPCNIOTransportCore
import Testing

/// A server transport kind, a client transport kind, and Unix socket or TCP.
struct Pair: Sendable, CustomTestStringConvertible {
  var server: TransportKind
  var client: TransportKind
  var tcp: Bool

  var testDescription: String { "\(server) server, \(client) client, \(tcp ? "tcp" : "unix")" }

  static let all: [Pair] = TransportKind.allCases.flatMap { server in
    TransportKind.allCases.flatMap { client in
      [false, true].map { Pair(server: server, client: client, tcp: $0) }
    }
  }
}

/// A running test server.
struct RunningServer: Sendable {
  let server: GRPCServer<SelectedServerTransport>
  let address: TransportAddress
  let service: TransportTestService
}

func clientTarget(_ bound: GRPCNIOTransportCore.SocketAddress) throws -> TransportAddress {
  if let unix = bound.unixDomainSocket { return .unixDomainSocket(path: unix.path) }
  if let ipv4 = bound.ipv4 { return .ipv4(host: ipv4.host, port: ipv4.port) }
  throw TestSupportError("unexpected listening address \(bound)")
}

/// Serves the test service with `kind` on `address` while `body` runs.
func withServer<T: Sendable>(
  _ kind: TransportKind,
  on address: TransportAddress,
  service: TransportTestService = TransportTestService(),
  _ body: (RunningServer) async throws -> T
) async throws -> T {
  let transport = SelectedServerTransport(kind, address: address, maxRequestBytes: 8 << 20)
  let server = GRPCServer(transport: transport, services: [service])
  return try await withThrowingTaskGroup(of: T?.self) { group in
    group.addTask {
      try await server.serve()
      return nil
    }
    let bound = try await clientTarget(transport.listeningAddress)
    do {
      let result = try await body(RunningServer(server: server, address: bound, service: service))
      server.beginGracefulShutdown()
      try await group.waitForAll()
      return result
    } catch {
      group.cancelAll()
      throw error
    }
  }
}

/// A client of `kind` to `address` while `body` runs.
func withClient<T: Sendable>(
  _ kind: TransportKind,
  to address: TransportAddress,
  serviceConfig: ServiceConfig = ServiceConfig(),
  _ body: (TransportTestClient) async throws -> T
) async throws -> T {
  let transport = try SelectedClientTransport(
    kind, target: address, maxResponseBytes: 8 << 20, serviceConfig: serviceConfig)
  let client = GRPCClient(transport: transport)
  return try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await client.runConnections() }
    defer { client.beginGracefulShutdown() }
    return try await body(TransportTestClient(client: client))
  }
}

/// Both ends of `pair`, on a fresh socket or port.
func withPair<T: Sendable>(
  _ pair: Pair,
  service: TransportTestService = TransportTestService(),
  serviceConfig: ServiceConfig = ServiceConfig(),
  _ body: (TransportTestClient, RunningServer) async throws -> T
) async throws -> T {
  let folder = try TemporaryFolder(prefix: "transport")
  defer { folder.remove() }
  let address: TransportAddress =
    pair.tcp ? .ipv4(host: "127.0.0.1", port: 0) : .unixDomainSocket(path: folder.file("test.sock"))
  return try await withServer(pair.server, on: address, service: service) { running in
    try await withClient(pair.client, to: running.address, serviceConfig: serviceConfig) { client in
      try await body(client, running)
    }
  }
}

func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
  (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

func string(_ metadata: Metadata, _ key: String) -> String? {
  metadata[stringValues: key].first(where: { _ in true })
}
