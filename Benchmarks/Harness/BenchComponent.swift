import ApiaryContracts
import ApiaryTestSupport
import ArgumentParser
import ComponentKit
import Foundation
import GRPCCore
import GRPCCoreCTransport
import Logging
import ServiceLifecycle
import Synchronization

/// `apiary-bench component`: the component the benchmark calls, directly and through
/// the sidecar. A state store (one dictionary shared by every instance, so a value the
/// sidecar saved is read directly too) and a pub/sub whose Publish only counts, served
/// on `--count` sockets by one process, so that 100 sockets cost one process.
struct ComponentCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "component",
    abstract: "Serve the benchmark's state store and pub/sub on one or more sockets."
  )

  @Option(help: "The folder of the sockets.")
  var socketsDir: String

  @Option(help: "How many sockets to serve: bench-0.sock, bench-1.sock, ...")
  var count = 1

  @Option(help: "The gRPC server transport: nio or core.")
  var transport: TransportKind = .nio

  func run() async throws {
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = .warning
      return handler
    }
    let values = BenchValues()
    let kind = transport
    let servers = try (0..<count).map { index in
      try ComponentServer(
        socketPath: "\(socketsDir)/bench-\(index).sock",
        components: [
          .stateStore { BenchStore(values: values) },
          .pubSub { BenchPubSub() },
        ],
        transport: { path in SelectedServerTransport(kind, address: .unixDomainSocket(path: path)) }
      )
    }
    let group = ServiceGroup(
      services: servers, gracefulShutdownSignals: [.sigterm, .sigint],
      logger: Logger(label: "bench.component"))
    try await group.run()
  }
}

/// The stored values, shared by every store instance of the process.
final class BenchValues: Sendable {
  private let values = Mutex<[String: Data]>([:])
  func get(_ key: String) -> Data? { values.withLock { $0[key] } }
  func set(_ key: String, _ value: Data) { values.withLock { $0[key] = value } }
  func delete(_ key: String) { values.withLock { $0[key] = nil } }
}

struct BenchStore: StateStoreComponent {
  let values: BenchValues

  func initialise(metadata: [String: String]) async throws {}
  func features() async throws -> [StateStoreFeature] { [] }
  func get(
    _ request: Dapr_Proto_Components_V1_GetRequest
  ) async throws -> Dapr_Proto_Components_V1_GetResponse {
    var response = Dapr_Proto_Components_V1_GetResponse()
    if let value = values.get(request.key) { response.data = value }
    return response
  }
  func set(_ request: Dapr_Proto_Components_V1_SetRequest) async throws {
    values.set(request.key, request.value)
  }
  func delete(_ request: Dapr_Proto_Components_V1_DeleteRequest) async throws {
    values.delete(request.key)
  }
}

/// A pub/sub that accepts every publish and delivers nothing.
struct BenchPubSub: PubSubComponent {
  func initialise(metadata: [String: String]) async throws {}
  func features() async throws -> [PubSubFeature] { [] }
  func publish(_ request: Dapr_Proto_Components_V1_PublishRequest) async throws {}
  /// Nothing to deliver: holds the stream open until the sidecar closes it (which
  /// cancels this task and so ends the iteration).
  func subscribe(_ subscription: PubSubSubscription, deliver: PubSubDelivery) async throws {
    let (open, keep) = AsyncStream<Never>.makeStream()
    for await _ in open {}
    keep.finish()
  }
}

extension TransportKind: ExpressibleByArgument {}

/// `apiary-bench echo-server`: `/apiary.bench.v1.Echo/Echo` on a Unix socket, answering
/// each request with its own bytes, so the C++ floor client can measure a Swift server
/// (its latency and its CPU per call) against the C++ one.
struct EchoServerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "echo-server",
    abstract: "Serve the floor's echo method with a Swift gRPC server."
  )

  @Option(help: "The Unix socket to serve.")
  var socket: String

  @Option(help: "The gRPC server transport: nio or core.")
  var transport: TransportKind = .nio

  func run() async throws {
    try? FileManager.default.removeItem(atPath: socket)
    let server = GRPCServer(
      transport: SelectedServerTransport(transport, address: .unixDomainSocket(path: socket)),
      services: [EchoService()])
    let group = ServiceGroup(
      services: [EchoServing(server: server)], gracefulShutdownSignals: [.sigterm, .sigint],
      logger: Logger(label: "bench.echo"))
    try await group.run()
  }
}

private struct EchoServing: Service {
  let server: GRPCServer<SelectedServerTransport>
  func run() async throws {
    try await withGracefulShutdownHandler {
      try await server.serve()
    } onGracefulShutdown: {
      server.beginGracefulShutdown()
    }
  }
}

/// Echoes the request's bytes: an `EchoMessage` comes back as it was sent.
private struct EchoService: RegistrableRPCService {
  struct Bytes: MessageSerializer, MessageDeserializer {
    func serialize<Output: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Output {
      Output(message)
    }
    func deserialize<Input: GRPCContiguousBytes>(_ bytes: Input) throws -> [UInt8] {
      bytes.withUnsafeBytes { Array($0) }
    }
  }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerHandler(
      forMethod: MethodDescriptor(
        fullyQualifiedService: "apiary.bench.v1.Echo", method: "Echo", type: .unary),
      deserializer: Bytes(), serializer: Bytes()
    ) { request, _ in
      var message: [UInt8] = []
      for try await part in request.messages { message = part }
      return StreamingServerResponse(single: ServerResponse(message: message))
    }
  }
}

/// Starts `apiary-bench component` (this executable, `me`) serving `count` sockets in
/// `folder`'s `sockets` folder on `transport`, and waits until every socket is there.
/// Answers the process, the sockets folder and an empty `resources` folder for the
/// sidecar.
func startBenchComponent(
  me: String, transport: TransportKind, count: Int, folder: TemporaryFolder,
  started: StartedProcesses
) async throws -> (component: ChildProcess, sockets: String, resources: String) {
  let sockets = folder.file("sockets")
  let resources = folder.file("resources")
  try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true)
  try FileManager.default.createDirectory(atPath: resources, withIntermediateDirectories: true)
  let component = try await startServing(
    me,
    ["component", "--sockets-dir", sockets, "--count", "\(count)", "--transport", "\(transport)"],
    socket: "\(sockets)/bench-0.sock")
  started.add(component)
  for index in 1..<max(count, 1) { try await waitForSocket("\(sockets)/bench-\(index).sock") }
  return (component, sockets, resources)
}
