import Foundation
import GRPCCore
import GRPCNIOTransportCore
import GRPCNIOTransportHTTP2
import NIOCore

/// Which gRPC transport carries Apiary's calls: grpc-swift's NIO HTTP/2 transport, or
/// ``CoreClientTransport`` / ``CoreServerTransport`` on the gRPC core C library.
public enum TransportKind: String, Sendable, CaseIterable, CustomStringConvertible {
  case nio
  case core

  /// The transport Apiary uses unless told otherwise.
  public static let `default`: TransportKind = .core

  /// `APIARY_TRANSPORT` when set to `nio` or `core`; tests and tools use it to pick one.
  public static var fromEnvironment: TransportKind? {
    ProcessInfo.processInfo.environment["APIARY_TRANSPORT"].flatMap {
      TransportKind(rawValue: $0.lowercased())
    }
  }

  public var description: String { rawValue }
}

/// Where a client connects or a server listens.
public enum TransportAddress: Sendable, Hashable, CustomStringConvertible {
  case unixDomainSocket(path: String)
  case ipv4(host: String, port: Int)

  public var description: String {
    switch self {
    case .unixDomainSocket(let path): "unix:\(path)"
    case .ipv4(let host, let port): "ipv4:\(host):\(port)"
    }
  }
}

/// A client transport of either kind behind one type, so generated clients are written
/// once (`Client<SelectedClientTransport>`). Both kinds carry `GRPCNIOTransportBytes`, so
/// nothing is converted on the way through.
public struct SelectedClientTransport: ClientTransport {
  public typealias Bytes = GRPCNIOTransportBytes

  enum Base: Sendable {
    case nio(HTTP2ClientTransport.Posix)
    case core(CoreClientTransport)
  }

  let base: Base
  public var kind: TransportKind {
    switch base {
    case .nio: .nio
    case .core: .core
    }
  }

  /// - Parameters:
  ///   - backoff: Reconnect backoff: how soon a restarted peer is dialled again.
  ///   - maxResponseBytes: The largest response message accepted.
  public init(
    _ kind: TransportKind,
    target: TransportAddress,
    backoff: (initial: Duration, max: Duration) = (.milliseconds(50), .seconds(1)),
    maxResponseBytes: Int = 4 << 20,
    serviceConfig: ServiceConfig = ServiceConfig()
  ) throws {
    switch kind {
    case .nio:
      let nioTarget: any ResolvableTarget
      switch target {
      case .unixDomainSocket(let path): nioTarget = .unixDomainSocket(path: path)
      case .ipv4(let host, let port): nioTarget = .ipv4(address: host, port: port)
      }
      base = .nio(
        try HTTP2ClientTransport.Posix(
          target: nioTarget, transportSecurity: .plaintext,
          config: .defaults { config in
            config.backoff = .init(
              initial: backoff.initial, max: backoff.max, multiplier: 1.6, jitter: 0.2)
          },
          serviceConfig: serviceConfig))
    case .core:
      var config = CoreClientTransport.Config()
      config.reconnectBackoff = backoff
      config.maxReceiveMessageBytes = maxResponseBytes
      config.serviceConfig = serviceConfig
      let coreTarget: CoreClientTransport.Target
      switch target {
      case .unixDomainSocket(let path): coreTarget = .unixDomainSocket(path: path)
      case .ipv4(let host, let port): coreTarget = .ipv4(host: host, port: port)
      }
      base = .core(try CoreClientTransport(target: coreTarget, config: config))
    }
  }

  public var retryThrottle: RetryThrottle? {
    switch base {
    case .nio(let transport): transport.retryThrottle
    case .core(let transport): transport.retryThrottle
    }
  }

  public func connect() async throws {
    switch base {
    case .nio(let transport): try await transport.connect()
    case .core(let transport): try await transport.connect()
    }
  }

  public func beginGracefulShutdown() {
    switch base {
    case .nio(let transport): transport.beginGracefulShutdown()
    case .core(let transport): transport.beginGracefulShutdown()
    }
  }

  public func withStream<T: Sendable>(
    descriptor: MethodDescriptor,
    options: CallOptions,
    _ closure: (_ stream: RPCStream<Inbound, Outbound>, _ context: ClientContext) async throws -> T
  ) async throws -> T {
    switch base {
    case .nio(let transport):
      try await transport.withStream(descriptor: descriptor, options: options, closure)
    case .core(let transport):
      try await transport.withStream(descriptor: descriptor, options: options, closure)
    }
  }

  public func config(forMethod descriptor: MethodDescriptor) -> MethodConfig? {
    switch base {
    case .nio(let transport): transport.config(forMethod: descriptor)
    case .core(let transport): transport.config(forMethod: descriptor)
    }
  }

  /// Whether a connection is up and through its handshake; nil when the transport cannot
  /// tell (NIO).
  public var isConnected: Bool? {
    if case .core(let transport) = base { return transport.isConnected }
    return nil
  }

  /// Asks the next call to dial at once rather than after the reconnect backoff (core);
  /// the NIO transport has no such knob and keeps its backoff.
  public func resetConnectBackoff() {
    if case .core(let transport) = base { transport.resetConnectBackoff() }
  }
}

/// A server transport of either kind behind one type.
public struct SelectedServerTransport: ListeningServerTransport {
  public typealias Bytes = GRPCNIOTransportBytes

  enum Base: Sendable {
    case nio(HTTP2ServerTransport.Posix)
    case core(CoreServerTransport)
  }

  let base: Base

  /// - Parameters:
  ///   - maxRequestBytes: The largest request message accepted.
  ///   - maxConnections: The most TCP connections open at once on the core transport;
  ///     nil: no limit. The NIO transport bounds its connections with
  ///     `acceptedConnection` instead.
  ///   - maxIdleTime: How long a connection may go without a call before the server
  ///     closes it; nil: never.
  ///   - acceptedConnection: NIO only: called with each accepted TCP connection's
  ///     channel once its gRPC pipeline is set up (a connection limit adds its
  ///     handler here).
  public init(
    _ kind: TransportKind, address: TransportAddress, maxRequestBytes: Int = 4 << 20,
    maxConnections: Int? = nil,
    maxIdleTime: Duration? = nil,
    acceptedConnection: (@Sendable (any Channel) -> EventLoopFuture<Void>)? = nil
  ) {
    switch kind {
    case .nio:
      let nioAddress: GRPCNIOTransportCore.SocketAddress
      switch address {
      case .unixDomainSocket(let path): nioAddress = .unixDomainSocket(path: path)
      case .ipv4(let host, let port): nioAddress = .ipv4(host: host, port: port)
      }
      base = .nio(
        HTTP2ServerTransport.Posix(
          address: nioAddress, transportSecurity: .plaintext,
          config: .defaults {
            $0.rpc.maxRequestPayloadSize = maxRequestBytes
            $0.connection.maxIdleTime = maxIdleTime
            $0.channelDebuggingCallbacks.onAcceptTCPConnection = acceptedConnection
          }))
    case .core:
      let coreAddress: CoreServerTransport.Address
      switch address {
      case .unixDomainSocket(let path): coreAddress = .unixDomainSocket(path: path)
      case .ipv4(let host, let port): coreAddress = .ipv4(host: host, port: port)
      }
      var config = CoreServerTransport.Config()
      config.maxRequestMessageBytes = maxRequestBytes
      config.maxConnections = maxConnections
      config.maxIdleTime = maxIdleTime
      base = .core(CoreServerTransport(address: coreAddress, config: config))
    }
  }

  public var kind: TransportKind {
    switch base {
    case .nio: .nio
    case .core: .core
    }
  }

  public var listeningAddress: GRPCNIOTransportCore.SocketAddress {
    get async throws {
      switch base {
      case .nio(let transport):
        return try await transport.listeningAddress
      case .core(let transport):
        switch try await transport.listeningAddress {
        case .unixDomainSocket(let path): return .unixDomainSocket(path: path)
        case .ipv4(let host, let port): return .ipv4(host: host, port: port)
        case .ipv6(let host, let port): return .ipv6(host: host, port: port)
        }
      }
    }
  }

  public func configure(context: GRPCServerContext) {
    switch base {
    case .nio(let transport): transport.configure(context: context)
    case .core(let transport): transport.configure(context: context)
    }
  }

  public func listen(
    streamHandler:
      @escaping @Sendable (_ stream: RPCStream<Inbound, Outbound>, _ context: ServerContext) async
      -> Void
  ) async throws {
    switch base {
    case .nio(let transport):
      try await transport.listen(streamHandler: TimeoutHeaderGuard.guarding(streamHandler))
    case .core(let transport): try await transport.listen(streamHandler: streamHandler)
    }
  }

  public func beginGracefulShutdown() {
    switch base {
    case .nio(let transport): transport.beginGracefulShutdown()
    case .core(let transport): transport.beginGracefulShutdown()
    }
  }
}
