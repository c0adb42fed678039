import GRPCCore
import GRPCNIOTransportHTTP2

/// One gRPC connection to a component socket, shared by everything that talks to that
/// socket (discovery, and the adapters of every instance configured on it).
///
/// The connection runs in a task of its own from ``init(socketPath:)`` until
/// ``close()``; calls made meanwhile reuse it.
public final class ComponentChannel: Sendable {
  /// The socket this channel dials.
  public let socketPath: String
  /// The grpc-swift-2 client to wrap in generated stubs.
  public let client: GRPCClient<HTTP2ClientTransport.Posix>
  private let connections: Task<Void, Never>

  /// Dials `socketPath` (lazily: the connection is made by the first call).
  ///
  /// - Throws: `RuntimeError` when the transport cannot be created.
  public init(socketPath: String) throws {
    self.socketPath = socketPath
    let transport = try HTTP2ClientTransport.Posix(
      target: .unixDomainSocket(path: socketPath),
      transportSecurity: .plaintext,
      config: .defaults { config in
        // A component restarts in well under a second; retry the socket quickly.
        config.backoff = .init(initial: .milliseconds(50), max: .seconds(1), multiplier: 1.6, jitter: 0.2)
      }
    )
    let client = GRPCClient(transport: transport)
    self.client = client
    self.connections = Task {
      try? await client.runConnections()
    }
  }

  /// Stops accepting calls, lets those in flight finish for up to `grace`, then closes
  /// the connection.
  ///
  /// A graceful shutdown alone can wait forever on a peer that accepted the connection
  /// but never completes the HTTP/2 handshake; after `grace` the connection task is
  /// cancelled, which closes the socket whatever the peer does.
  public func close(grace: Duration = .seconds(1)) async {
    client.beginGracefulShutdown()
    let connections = self.connections
    let deadline = Task {
      try? await Task.sleep(for: grace)
      connections.cancel()
    }
    await connections.value
    deadline.cancel()
  }
}
