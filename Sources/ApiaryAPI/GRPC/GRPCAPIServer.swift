import ApiaryContracts
import ComponentKit
import GRPCCore
import GRPCCoreCTransport
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// The gRPC API as a service: `dapr.proto.runtime.v1.Dapr`, `spec.proto.runtime.v1.Runtime`,
/// `grpc.health.v1.Health` and server reflection (v1 and v1alpha) on one TCP port.
public final class GRPCAPIServer: Service {
  private let api: AppAPI
  private let host: String
  private let port: Int
  private let logger: Logger
  private let grace: Duration
  private let transport: TransportKind
  private let maxConnections: Int
  private let idleTimeout: Duration
  /// Readiness waits for the port to listen: an SDK that waits for `/v1.0/healthz`
  /// and then calls the gRPC API must not find it closed.
  private let listening: ReadinessHold

  /// - Parameters:
  ///   - grace: How long in-flight calls may take to finish on shutdown.
  ///   - transport: The gRPC transport the API is served with.
  ///   - maxConnections: The most connections open at once; more are closed as they
  ///     arrive (the core transport; NIO has no such limit).
  ///   - idleTimeout: How long a connection may have no call before it is closed.
  public init(
    api: AppAPI, host: String, port: Int, logger: Logger, grace: Duration = .seconds(5),
    transport: TransportKind = TransportKind.fromEnvironment ?? .default, maxConnections: Int = 512,
    idleTimeout: Duration = .seconds(300)
  ) {
    self.transport = transport
    self.maxConnections = maxConnections
    self.idleTimeout = idleTimeout
    self.api = api
    self.host = host
    self.port = port
    self.logger = logger
    self.grace = grace
    self.listening = api.holdReadiness()
  }

  public func run() async throws {
    let names = [
      Dapr_Proto_Runtime_V1_Dapr.descriptor.fullyQualifiedService,
      Spec_Proto_Runtime_V1_Runtime.descriptor.fullyQualifiedService,
      Grpc_Health_V1_Health.descriptor.fullyQualifiedService,
    ]
    let health = HealthService(services: names)
    let reflection = ReflectionService(
      services: names,
      index: try DescriptorIndex(descriptorSet: ApiaryDescriptors.fileDescriptorSet))
    // In order, outermost first. RequestShapeInterceptor must be innermost: GRPCCore
    // turns what an interceptor throws into a response, so an outer one never sees
    // the unary adapter's error thrown. The observability one is outermost, so it
    // sees every call's final status (a refused token included).
    var interceptors: [any ServerInterceptor] = [
      GRPCObservabilityInterceptor(
        tracer: api.observability.tracer, metrics: api.observability.metrics)
    ]
    if let token = api.options.apiToken {
      interceptors.append(TokenInterceptor(token: APIToken(token)))
    }
    interceptors.append(RequestShapeInterceptor())
    let maxBody = api.options.maxBodySize
    // The core transport's gate bounds its connections; on NIO each accepted
    // connection gets the same ConnectionLimit handler as the HTTP ports.
    let nioLimit = ConnectionLimit(limit: maxConnections, port: "gRPC port \(port)", logger: logger)
    let server = GRPCServer(
      transport: SelectedServerTransport(
        transport, address: .ipv4(host: host, port: port), maxRequestBytes: maxBody,
        maxConnections: maxConnections,
        maxIdleTime: idleTimeout,
        acceptedConnection: { channel in
          // The handler is made on the channel's event loop, where it lives.
          channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(nioLimit.handler(), position: .first)
          }
        }),
      services: [
        DaprService(api: api, logger: logger), RuntimeHelloService(api: api), health, reflection,
        reflection.v1alpha,
      ],
      interceptors: interceptors)
    let logger = self.logger
    let transport = self.transport
    try await withGracefulShutdownHandler {
      try await serveDraining(grace: grace) {
        // Announced on the side: a server stopped before it ever listened (SIGTERM
        // right at start-up) never resolves its address, and serving must not wait
        // for it.
        let listening = self.listening
        let announcement = Task {
          if let address = try? await server.listeningAddress {
            listening.done()
            logger.info(
              "gRPC API listening",
              metadata: ["address": "\(address)", "transport": "\(transport)"])
          }
        }
        defer { announcement.cancel() }
        do {
          try await server.serve()
        } catch let error as RuntimeError where error.code == .serverIsStopped {
          // Shutdown began before the server started (SIGTERM right at start-up):
          // there is nothing to serve and nothing failed.
        }
      }
    } onGracefulShutdown: {
      health.markAllNotServing()
      health.finishWatchers()
      server.beginGracefulShutdown()
    }
  }
}
