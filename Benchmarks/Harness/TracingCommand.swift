import ApiaryContracts
import ApiaryTestSupport
import ArgumentParser
import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCCoreCTransport
import Synchronization

/// `apiary-bench tracing`: what tracing costs. The same sidecar and component, three
/// ways in turn within each run: tracing off (no Configuration), on at daprd's default
/// rate (0.0001: spans decided and propagated, almost none exported), and on at rate
/// 1 (every call's server span and component-call span exported over OTLP/gRPC to a
/// sink in this process that takes each export and answers at once). Each way:
/// `GetState` of 1 KiB through the gRPC API and the HTTP API, 1 call in flight
/// (latency) and 16 in flight (throughput, CPU per call). Ratios against "off" are
/// computed within each run by `Benchmarks/tracing_report.py`.
struct TracingCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tracing",
    abstract:
      "Measure the cost of tracing (off, rate 0.0001, rate 1 to an OTLP sink); write the results as JSON."
  )

  @Option(help: "The apiary executable. Default: the one next to this executable.")
  var apiary: String?

  @Option(help: "Where to write the JSON results.")
  var out: String = "Benchmarks/results-tracing.json"

  @Option(help: "How many times each way is measured (the ways alternate within a run).")
  var runs = 3

  @Option(help: "Calls timed with 1 in flight, per path and way.")
  var latencyCalls = 1000

  @Option(help: "Calls timed with 16 in flight.")
  var throughputCalls = 4000

  @Option(help: "Untimed calls before each batch.")
  var warmup = 200

  @Option(help: "The gRPC transport of apiary, the component and the client: nio or core.")
  var transport: TransportKind = .core

  /// The ways tracing is set up, measured in this order in every run.
  enum Way: String, Codable, CaseIterable, Sendable {
    case off
    case defaultRate = "rate-0.0001"
    case rateOne = "rate-1"
  }

  struct Result: Codable {
    var run: Int
    var way: Way
    var path: Path
    var inFlight1: Batch
    var inFlight16: Batch
    /// Export requests the sink took while this way and path were measured.
    var exports: Int
  }

  struct Output: Codable {
    var machine: Machine
    var command: String
    var transport: String
    var runs: Int
    var results: [Result]
  }

  func run() async throws {
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    let apiaryPath =
      apiary
      ?? URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("apiary").path
    guard FileManager.default.isExecutableFile(atPath: apiaryPath) else {
      throw BenchError("no apiary at \(apiaryPath)")
    }
    let folder = try TemporaryFolder(prefix: "apiary-bench-tracing")
    defer { folder.remove() }
    let started = StartedProcesses()
    var output = Output(
      machine: Machine.describe(), command: CommandLine.arguments.joined(separator: " "),
      transport: transport.rawValue,
      runs: runs, results: [])
    try await started.stoppingAll {
      try await measure(
        me: me, apiaryPath: apiaryPath, folder: folder, started: started, into: &output)
    }
    try writeResults(output, to: out)
    log("wrote \(out)")
  }

  private func measure(
    me: String, apiaryPath: String, folder: TemporaryFolder, started: StartedProcesses,
    into output: inout Output
  ) async throws {
    let (component, sockets, resources) = try await startBenchComponent(
      me: me, transport: transport, count: 1, folder: folder, started: started)
    try Resources.component(name: "statestore", type: "state.bench-0")
      .write(toFile: "\(resources)/components.yaml", atomically: true, encoding: .utf8)

    // The collector: an OTLP/gRPC server in this process that takes every export and
    // answers at once.
    let sinkPort = try freeTCPPort()
    let exportCount = ExportCount()
    let sink = GRPCServer(
      transport: SelectedServerTransport(.nio, address: .ipv4(host: "127.0.0.1", port: sinkPort)),
      services: [SinkService(count: exportCount)])
    let serving = Task { try await sink.serve() }
    defer {
      sink.beginGracefulShutdown()
      serving.cancel()
    }
    guard await poll(timeout: .seconds(30), { tcpPortAccepts(sinkPort) }) else {
      throw BenchError("the OTLP sink did not listen on \(sinkPort)")
    }
    for way in Way.allCases where way != .off {
      let rate = way == .rateOne ? "1" : "0.0001"
      try """
      apiVersion: dapr.io/v1alpha1
      kind: Configuration
      metadata:
        name: tracing-\(way.rawValue)
      spec:
        tracing:
          samplingRate: "\(rate)"
          otel:
            endpointAddress: "127.0.0.1:\(sinkPort)"
            isSecure: false
            protocol: grpc

      """.write(toFile: folder.file("\(way.rawValue).yaml"), atomically: true, encoding: .utf8)
    }

    var configuration = HTTPClient.Configuration()
    configuration.connectionPool = .init(
      idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    do {
      try await measureWays(
        apiaryPath: apiaryPath, folder: folder, resources: resources, sockets: sockets,
        component: component,
        started: started, http: http, exportCount: exportCount, into: &output)
    } catch {
      try? await http.shutdown()
      throw error
    }
    try await http.shutdown()
  }

  private func measureWays(
    apiaryPath: String, folder: TemporaryFolder, resources: String, sockets: String,
    component: ChildProcess,
    started: StartedProcesses, http: HTTPClient, exportCount: ExportCount, into output: inout Output
  ) async throws {
    for run in 1...runs {
      for way in Way.allCases {
        let grpcPort = try freeTCPPort()
        let httpPort = try freeTCPPort()
        var arguments = [
          "run", "--resources-path", resources, "--sockets-dir", sockets, "--app-id", "bench",
          "--grpc-port", "\(grpcPort)", "--http-port", "\(httpPort)", "--log-level", "warning",
          "--transport", "\(transport)",
        ]
        if way != .off { arguments += ["--config", folder.file("\(way.rawValue).yaml")] }
        let sidecar = try ChildProcess(
          apiaryPath, arguments, environment: ["APIARY_API_TOKEN": "", "DAPR_API_TOKEN": ""])
        started.add(sidecar)
        let ready = await poll(timeout: .seconds(60)) {
          guard sidecar.isRunning else { return true }
          return await httpGet(port: httpPort, "/actuator/health/readiness")?.status == 200
        }
        guard ready, sidecar.isRunning else {
          throw BenchError(
            "apiary (\(way.rawValue)) did not become ready:\n\(sidecar.standardError)")
        }
        let watched = ["apiary": sidecar.pid, "component": component.pid]
        let results = try await withGRPCClient(
          transport: SelectedClientTransport(
            transport, target: .ipv4(host: "127.0.0.1", port: grpcPort))
        ) { api -> [Result] in
          var item = Dapr_Proto_Common_V1_StateItem()
          item.key = "k"
          item.value = payload
          var save = Dapr_Proto_Runtime_V1_SaveStateRequest()
          save.storeName = "statestore"
          save.states = [item]
          _ = try await Dapr_Proto_Runtime_V1_Dapr.Client(wrapping: api).saveState(
            save, options: callOptions())
          var results: [Result] = []
          for path in [Path.grpc, .http] {
            let call =
              path == .grpc
              ? grpcAPICall(.get, client: api) : httpAPICall(.get, client: http, port: httpPort)
            let exportsBefore = exportCount.value
            let one = await drive(
              calls: latencyCalls, warmup: warmup, concurrency: 1, watched: watched,
              keepLatencies: false, call)
            let sixteen = await drive(
              calls: throughputCalls, warmup: warmup, concurrency: 16, watched: watched,
              keepLatencies: false, call)
            let exports = exportCount.value - exportsBefore
            let cpu = sixteen.cpuPer1000["apiary"] ?? .nan
            log(
              "run \(run) \(way.rawValue) \(path.rawValue): p50 \(Int(one.p50)) µs, \(Int(sixteen.throughput)) calls/s at 16 in flight, apiary \(String(format: "%.3f", cpu)) CPU s per 1000 calls, \(exports) exports"
            )
            guard one.errors == 0, sixteen.errors == 0 else {
              throw BenchError(
                "\(way.rawValue) \(path.rawValue): \(one.errors + sixteen.errors) calls failed: \(one.firstError ?? sixteen.firstError ?? "")"
              )
            }
            results.append(
              Result(
                run: run, way: way, path: path, inFlight1: one, inFlight16: sixteen,
                exports: exports))
          }
          return results
        }
        output.results += results
        await sidecar.stop()
      }
    }
  }

  private func log(_ text: String) {
    FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
  }
}

/// Export requests the sink took.
final class ExportCount: Sendable {
  private let count = Atomic<Int>(0)
  var value: Int { count.load(ordering: .relaxed) }
  func add() { count.add(1, ordering: .relaxed) }
}

/// `opentelemetry.proto.collector.trace.v1.TraceService/Export`, taking the request's
/// bytes unread: an empty response message is zero bytes.
private struct SinkService: RegistrableRPCService {
  let count: ExportCount

  struct Bytes: MessageSerializer, MessageDeserializer {
    func serialize<Output: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Output {
      Output(message)
    }
    func deserialize<Input: GRPCContiguousBytes>(_ bytes: Input) throws -> [UInt8] { [] }
  }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    let count = self.count
    router.registerHandler(
      forMethod: MethodDescriptor(
        fullyQualifiedService: "opentelemetry.proto.collector.trace.v1.TraceService",
        method: "Export", type: .unary),
      deserializer: Bytes(), serializer: Bytes()
    ) { request, _ in
      for try await _ in request.messages {}
      count.add()
      return StreamingServerResponse(single: ServerResponse(message: []))
    }
  }
}
