import GRPCCore
import GRPCCoreCTransport

/// One gRPC connection to a component socket, shared by everything that talks to that
/// socket (discovery, and the adapters of every instance configured on it).
///
/// The connection runs in a task of its own from ``init(socketPath:)`` until
/// ``close()``; calls made meanwhile reuse it.
public final class ComponentChannel: Sendable {
  /// The socket this channel dials.
  public let socketPath: String
  /// The grpc-swift-2 client to wrap in generated stubs.
  public let client: GRPCClient<SelectedClientTransport>
  /// Which transport carries the calls.
  public let transport: TransportKind
  private let selected: SelectedClientTransport
  private let connections: Task<Void, Never>

  /// Dials `socketPath` (lazily: the connection is made by the first call).
  ///
  /// - Throws: `RuntimeError` when the transport cannot be created.
  public init(
    socketPath: String, transport: TransportKind = TransportKind.fromEnvironment ?? .default
  ) throws {
    self.socketPath = socketPath
    self.transport = transport
    // A component restarts in well under a second; retry the socket quickly.
    let selected = try SelectedClientTransport(
      transport, target: .unixDomainSocket(path: socketPath),
      backoff: (.milliseconds(50), .seconds(1)))
    self.selected = selected
    let client = GRPCClient(transport: selected)
    self.client = client
    self.connections = Task {
      try? await client.runConnections()
    }
  }

  /// Whether the connection is up and through its HTTP/2 handshake; nil when the
  /// transport cannot tell.
  public var isConnected: Bool? { selected.isConnected }

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
