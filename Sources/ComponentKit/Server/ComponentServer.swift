import ApiaryContracts
import ApiaryShared
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Serves a pluggable component on one Unix socket.
///
/// Besides the building blocks it is given, every component server offers what the
/// sidecar relies on: server reflection in both `grpc.reflection.v1` and `v1alpha` (so
/// Dapr, which only speaks v1alpha, and newer clients both discover it),
/// `grpc.health.v1.Health` (SERVING), and `apiary.proto.components.v1.ComponentLogs`
/// (the records of a ``ComponentLogHandler``).
///
/// Before listening it creates the socket's folder (mode 0700) if missing and removes
/// a stale socket file; it refuses a path that exists and is not a socket. It stops
/// gracefully when its service group shuts down (SIGTERM/SIGINT with ``serve(socketPath:components:logStore:logger:)``)
/// and removes its socket.
///
/// ```swift
/// try await ComponentServer.serve(
///   socketPath: SocketsFolder.socketPath(name: "memstore", folder: SocketsFolder.resolve(environment: env)),
///   components: [.stateStore { MemStore() }]
/// )
/// ```
public struct ComponentServer: Service {
  /// Where the socket is created.
  public let socketPath: String
  /// The fully qualified names of every service served, as reflection lists them.
  public let serviceNames: [String]
  /// The records streamed by `ComponentLogs/Tail`.
  public let logStore: ComponentLogStore
  private let services: [any RegistrableRPCService]
  private let health: HealthService
  private let logger: Logger
  private let transport: (@Sendable (_ socketPath: String) -> any ServerTransport)?

  /// Creates a server for `components` on `socketPath`.
  ///
  /// - Parameters:
  ///   - socketPath: The Unix socket to serve, conventionally `<sockets folder>/<name>.sock`.
  ///   - components: The building blocks to serve.
  ///   - logStore: Where the component's ``ComponentLogHandler`` puts its records.
  ///   - descriptorSets: Extra serialized `FileDescriptorSet`s for services whose
  ///     contracts are not among Apiary's (`ApiaryDescriptors` is always included).
  ///   - logger: The server's own logger.
  ///   - transport: Makes the gRPC server transport for the socket; grpc-swift's NIO
  ///     HTTP/2 transport when nil. (Apiary's benchmark passes its gRPC core transport.)
  /// - Throws: When a descriptor set cannot be parsed.
  public init(
    socketPath: String,
    components: [ComponentRegistration],
    logStore: ComponentLogStore = ComponentLogStore(),
    descriptorSets: [Data] = [],
    logger: Logger = Logger(label: "componentkit.server"),
    transport: (@Sendable (_ socketPath: String) -> any ServerTransport)? = nil
  ) throws {
    self.transport = transport
    self.socketPath = socketPath
    self.logStore = logStore
    self.logger = logger

    let componentServices = components.flatMap(\.services)
    let componentNames = components.flatMap(\.serviceNames)
    let infrastructureNames = [
      Grpc_Reflection_V1_ServerReflection.descriptor.fullyQualifiedService,
      Grpc_Reflection_V1alpha_ServerReflection.descriptor.fullyQualifiedService,
      Grpc_Health_V1_Health.descriptor.fullyQualifiedService,
      Apiary_Proto_Components_V1_ComponentLogs.descriptor.fullyQualifiedService,
    ]
    var names: [String] = []
    for name in componentNames + infrastructureNames where !names.contains(name) {
      names.append(name)
    }
    self.serviceNames = names

    let index = try DescriptorIndex(
      descriptorSets: [ApiaryDescriptors.fileDescriptorSet] + descriptorSets)
    let reflection = ReflectionService(services: names, index: index)
    self.health = HealthService(services: names)
    self.services =
      componentServices + [
        reflection, reflection.v1alpha, health, ComponentLogsService(store: logStore),
      ]
  }

  /// Serves until the service group shuts down gracefully or the task is cancelled,
  /// then removes the socket file.
  ///
  /// - Throws: ``SocketPathError`` when the socket path cannot be prepared, or the
  ///   transport's error when it cannot listen.
  public func run() async throws {
    try prepareSocketPath(socketPath)
    defer { removeSocketFile() }
    if let transport {
      try await serve(on: transport(socketPath))
    } else {
      try await serve(
        on: HTTP2ServerTransport.Posix(
          address: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext))
    }
  }

  private func serve<Transport: ServerTransport>(on transport: Transport) async throws {
    let server = GRPCServer(transport: transport, services: services)
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.serve() }
        if let address = try await server.listeningAddress {
          logger.info(
            "serving \(serviceNames.joined(separator: ", "))",
            metadata: ["socket": "\(socketPath)", "address": "\(address)"]
          )
        }
      }
    } onGracefulShutdown: {
      logger.info("stopping", metadata: ["socket": "\(socketPath)"])
      health.markAllNotServing()
      health.finishWatchers()
      logStore.finishAll()
      server.beginGracefulShutdown()
    }
  }

  /// Removes the socket file if it is still ours (a socket at our path).
  private func removeSocketFile() {
    if FileKind.of(socketPath) == .socket {
      unlink(socketPath)
    }
  }

  /// Serves `components` on `socketPath` until SIGTERM or SIGINT, then stops
  /// gracefully and removes the socket: the whole `main` of a typical component.
  public static func serve(
    socketPath: String,
    components: [ComponentRegistration],
    logStore: ComponentLogStore = ComponentLogStore(),
    logger: Logger = Logger(label: "componentkit.server")
  ) async throws {
    let server = try ComponentServer(
      socketPath: socketPath,
      components: components,
      logStore: logStore,
      logger: logger
    )
    let group = ServiceGroup(
      configuration: .init(
        services: [.init(service: server)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
      )
    )
    try await group.run()
  }
}
