import ApiaryContracts
import ApiaryTestSupport
import ArgumentParser
import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCCoreCTransport
import GRPCNIOTransportHTTP2
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `apiary-bench run`: every figure of the benchmark, in one run on one machine,
/// written as JSON for `Benchmarks/report.py`.
struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract:
      "Measure the sidecar against direct calls and the C++ floor; write the results as JSON.",
    discussion: """
      For a state Get of a 1 KiB value and a Publish of 1 KiB: (a) direct to the
      component's socket, (b) through apiary's gRPC API, (c) through its HTTP API, each
      with 1 call in flight (latency) and 16 and 64 in flight (throughput); (d) the C++
      gRPC echo floor (Benchmarks/floor). Then start-to-ready with 1, 10 and 100
      component sockets, `apiary discover` of 100 sockets, resident memory with 10
      components idle and under load, and CPU seconds per 1000 calls. Each block runs
      --runs times; report.py takes the medians.
      """
  )

  @Option(help: "The apiary executable. Default: the one next to this executable.")
  var apiary: String?

  @Option(help: "The folder with floor-client and floor-server (Benchmarks/floor/build).")
  var floor: String = "Benchmarks/floor/build"

  @Option(help: "Where to write the JSON results.")
  var out: String = "Benchmarks/results.json"

  @Option(help: "How many times each block runs.")
  var runs = 3

  @Option(help: "Calls timed with 1 in flight, per path and operation.")
  var latencyCalls = 2000

  @Option(help: "Calls timed with 16 and with 64 in flight.")
  var throughputCalls = 8000

  @Option(help: "Untimed calls before each batch.")
  var warmup = 300

  @Option(
    help: "The gRPC transport of apiary, the component and the benchmark's clients: nio or core.")
  var transport: TransportKind = .core

  @Option(
    help: "Socket counts for the start-up measurement, comma-separated; discovery uses the largest."
  )
  var startupSockets = "1,10,100"

  func run() async throws {
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    let apiaryPath =
      apiary
      ?? URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("apiary").path
    guard FileManager.default.isExecutableFile(atPath: apiaryPath) else {
      throw BenchError("no apiary at \(apiaryPath)")
    }
    let folder = try TemporaryFolder(prefix: "apiary-bench")
    defer { folder.remove() }
    var report = Report(
      machine: Machine.describe(), command: CommandLine.arguments.joined(separator: " "), runs: runs
    )
    report.transport = transport.rawValue
    log("apiary \(apiaryPath); \(report.machine.cpus) CPUs, \(report.machine.cpuModel)")

    // Every child is stopped on the way out, a failed measurement included.
    let started = StartedProcesses()
    try await started.stoppingAll {
      try await measureCalls(
        me: me, apiaryPath: apiaryPath, folder: folder, started: started, into: &report)
      try await measureFloor(me: me, folder: folder, started: started, into: &report)
      try await measureStartup(
        me: me, apiaryPath: apiaryPath, folder: folder, started: started, into: &report)
    }
    try writeResults(report, to: out)
    log("wrote \(out)")
  }

  // MARK: (a), (b), (c): latency, throughput, CPU and memory

  private func measureCalls(
    me: String, apiaryPath: String, folder: TemporaryFolder, started: StartedProcesses,
    into report: inout Report
  ) async throws {
    // Ten components on five sockets: the memory goal's "10 components".
    let (component, sockets, resources) = try await startBenchComponent(
      me: me, transport: transport, count: 5, folder: folder, started: started)
    var yaml =
      Resources.component(name: "statestore", type: "state.bench-0")
      + Resources.component(name: "pubsub", type: "pubsub.bench-0")
    for index in 1..<5 {
      yaml +=
        Resources.component(name: "store-\(index)", type: "state.bench-\(index)")
        + Resources.component(name: "pubsub-\(index)", type: "pubsub.bench-\(index)")
    }
    try yaml.write(toFile: "\(resources)/components.yaml", atomically: true, encoding: .utf8)

    let grpcPort = try freeTCPPort()
    let httpPort = try freeTCPPort()
    let sidecar = try ChildProcess(
      apiaryPath,
      [
        "run", "--resources-path", resources, "--sockets-dir", sockets, "--app-id", "bench",
        "--grpc-port", "\(grpcPort)", "--http-port", "\(httpPort)", "--log-level", "warning",
        "--transport", "\(transport)",
      ],
      environment: ["APIARY_API_TOKEN": "", "DAPR_API_TOKEN": ""])
    started.add(sidecar)
    let ready = await poll(timeout: .seconds(60)) {
      guard sidecar.isRunning else { return true }
      return await httpGet(port: httpPort, "/actuator/health/readiness")?.status == 200
    }
    guard ready, sidecar.isRunning else {
      throw BenchError("apiary did not become ready:\n\(sidecar.standardError)")
    }
    let watched = ["apiary": sidecar.pid, "component": component.pid]

    try await withGRPCClient(
      transport: SelectedClientTransport(
        transport, target: .unixDomainSocket(path: "\(sockets)/bench-0.sock"))
    ) { direct in
      try await withGRPCClient(
        transport: SelectedClientTransport(
          transport, target: .ipv4(host: "127.0.0.1", port: grpcPort))
      ) { api in
        // The value every Get reads, saved through the sidecar (which prefixes the app id).
        var item = Dapr_Proto_Common_V1_StateItem()
        item.key = "k"
        item.value = payload
        var save = Dapr_Proto_Runtime_V1_SaveStateRequest()
        save.storeName = "statestore"
        save.states = [item]
        _ = try await Dapr_Proto_Runtime_V1_Dapr.Client(wrapping: api).saveState(
          save, options: callOptions())
        var initialise = Dapr_Proto_Components_V1_InitRequest()
        initialise.metadata = .init()
        var metadata = Metadata()
        metadata.addString(stateInstance, forKey: "x-component-instance")
        _ = try await Dapr_Proto_Components_V1_StateStore.Client(wrapping: direct).`init`(
          initialise, metadata: metadata, options: callOptions())
        var pubsubMetadata = Metadata()
        pubsubMetadata.addString(pubsubInstance, forKey: "x-component-instance")
        _ = try await Dapr_Proto_Components_V1_PubSub.Client(wrapping: direct).`init`(
          .init(), metadata: pubsubMetadata, options: callOptions())

        try await Task.sleep(for: .seconds(2))
        report.memory.idleBytes = ProcessStats.residentBytes(sidecar.pid)
        report.memory.idleAnonBytes = ProcessStats.anonymousBytes(sidecar.pid)
        report.memory.idleSplit = ProcessStats.residentSplit(sidecar.pid)
        report.memory.binaryBytes =
          (try? FileManager.default.attributesOfItem(atPath: apiaryPath))?[.size] as? Int

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
          idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        for run in 1...runs {
          for operation in Operation.allCases {
            for path in Path.allCases {
              let call: Call =
                switch path {
                case .direct: directCall(operation, client: direct)
                case .grpc: grpcAPICall(operation, client: api)
                case .http: httpAPICall(operation, client: http, port: httpPort)
                }
              var measurement = Measurement(run: run, operation: operation, path: path)
              measurement.inFlight1 = await drive(
                calls: latencyCalls, warmup: warmup, concurrency: 1, watched: watched,
                keepLatencies: operation == .get && run == runs, call)
              measurement.inFlight16 = await drive(
                calls: throughputCalls, warmup: warmup, concurrency: 16, watched: watched,
                keepLatencies: false, call)
              measurement.inFlight64 = await drive(
                calls: throughputCalls, warmup: warmup, concurrency: 64, watched: watched,
                keepLatencies: false, call)
              log(measurement.summary)
              report.calls.append(measurement)
            }
          }
        }
        try await http.shutdown()
      }
    }
    report.memory.loadedBytes = report.calls.compactMap { $0.inFlight64?.apiaryRSS }.max()
    report.memory.loadedAnonBytes = report.calls.compactMap { $0.inFlight64?.apiaryAnon }.max()
    report.memory.peakBytes = ProcessStats.peakResidentBytes(sidecar.pid)
    await sidecar.stop()
    await component.stop()
  }

  // MARK: (d): the C++ floor

  private func measureFloor(
    me: String, folder: TemporaryFolder, started: StartedProcesses, into report: inout Report
  ) async throws {
    let server = "\(floor)/floor-server"
    let client = "\(floor)/floor-client"
    guard FileManager.default.isExecutableFile(atPath: server),
      FileManager.default.isExecutableFile(atPath: client)
    else {
      log("no C++ floor in \(floor) (build Benchmarks/floor): skipping (d)")
      return
    }
    // The C++ pair, the raw socket ping-pong, and the C++ client against the Swift
    // echo server on this run's transport (what one Swift server hop costs).
    let modes: [(mode: String, executable: String, arguments: [String])] = [
      ("grpc", server, []), ("raw", server, ["--raw"]),
      ("swift", me, ["echo-server", "--transport", "\(transport)"]),
    ]
    for (mode, executable, extra) in modes {
      let raw = mode == "raw"
      let socket = folder.file("\(mode).sock")
      let arguments =
        mode == "swift" ? extra + ["--socket", socket] : ["--socket", socket] + extra
      let process = try await startServing(executable, arguments, socket: socket)
      started.add(process)
      for run in 1...runs {
        for inFlight in [1, 16, 64] {
          let calls = inFlight == 1 ? latencyCalls : throughputCalls
          let result = try await ChildProcess.run(
            client,
            [
              "--target", "unix:\(socket)", "--payload", "1024", "--calls", "\(calls)", "--warmup",
              "\(warmup)",
              "--concurrency", "\(inFlight)", "--server-pid", "\(process.pid)", "--json",
            ] + (raw ? ["--raw"] : []),
            timeout: .seconds(180))
          guard result.status == 0, let line = result.stdout.split(separator: "\n").last,
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
          else { throw BenchError("floor-client failed (\(result.status)): \(result.stderr)") }
          func number(_ key: String) -> Double { (object[key] as? NSNumber)?.doubleValue ?? .nan }
          let floorResult = FloorResult(
            run: run, mode: mode, inFlight: inFlight, p50: number("p50_us"), p90: number("p90_us"),
            p99: number("p99_us"), throughput: number("throughput_cps"),
            clientCPUPer1000: number("client_cpu_s_per_1000"),
            serverCPUPer1000: number("server_cpu_s_per_1000"),
            serverSwitchesPerCall: (object["server_switches_per_call"] as? NSNumber)?.doubleValue)
          log(
            "floor \(floorResult.mode) run \(run) in flight \(inFlight): p50 \(Int(floorResult.p50)) µs, \(Int(floorResult.throughput)) calls/s"
          )
          report.floor.append(floorResult)
        }
      }
      await process.stop()
    }
  }

  // MARK: start-up and discovery

  private func measureStartup(
    me: String, apiaryPath: String, folder: TemporaryFolder, started: StartedProcesses,
    into report: inout Report
  ) async throws {
    let counts = startupSockets.split(separator: ",").compactMap {
      Int($0.trimmingCharacters(in: .whitespaces))
    }
    .filter { $0 > 0 }
    for count in counts {
      let sockets = folder.file("startup-\(count)/sockets")
      let resources = folder.file("startup-\(count)/resources")
      try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true)
      try FileManager.default.createDirectory(atPath: resources, withIntermediateDirectories: true)
      let component = try await startServing(
        me,
        [
          "component", "--sockets-dir", sockets, "--count", "\(count)", "--transport",
          "\(transport)",
        ],
        socket: "\(sockets)/bench-0.sock")
      started.add(component)
      for index in 0..<count { try await waitForSocket("\(sockets)/bench-\(index).sock") }
      let yaml = (0..<count).map {
        Resources.component(name: "store-\($0)", type: "state.bench-\($0)")
      }.joined()
      try yaml.write(toFile: "\(resources)/components.yaml", atomically: true, encoding: .utf8)

      for run in 1...runs {
        let httpPort = try freeTCPPort()
        let clock = ContinuousClock()
        let spawned = clock.now
        let sidecar = try ChildProcess(
          apiaryPath,
          [
            "run", "--resources-path", resources, "--sockets-dir", sockets, "--app-id", "bench",
            "--grpc-port", "\(try freeTCPPort())", "--http-port", "\(httpPort)", "--log-level",
            "warning",
            "--transport", "\(transport)",
          ],
          environment: ["APIARY_API_TOKEN": "", "DAPR_API_TOKEN": ""])
        started.add(sidecar)
        let ready = await poll(timeout: .seconds(60), every: .milliseconds(2)) {
          guard sidecar.isRunning else { return true }
          return await httpGet(port: httpPort, "/actuator/health/readiness")?.status == 200
        }
        let elapsed = clock.now - spawned
        guard ready, sidecar.isRunning else {
          let stderr = sidecar.standardError
          await sidecar.stop()
          throw BenchError("apiary with \(count) sockets did not become ready:\n\(stderr)")
        }
        await sidecar.stop()
        let seconds =
          Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        log("start to ready with \(count) sockets, run \(run): \(Int(seconds * 1000)) ms")
        report.startup.append(StartupResult(run: run, sockets: count, seconds: seconds))
      }

      if count == counts.max() {
        for run in 1...runs {
          let clock = ContinuousClock()
          let spawned = clock.now
          let result = try await ChildProcess.run(
            apiaryPath, ["discover", "--sockets-dir", sockets],
            environment: ["APIARY_TRANSPORT": "\(transport)"],
            timeout: .seconds(60))
          let elapsed = clock.now - spawned
          guard result.status == 0, result.stdout.contains("bench-\(count - 1)") else {
            throw BenchError("apiary discover failed (\(result.status)): \(result.stderr)")
          }
          let seconds =
            Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
          log("apiary discover of \(count) sockets, run \(run): \(Int(seconds * 1000)) ms")
          report.discovery.append(StartupResult(run: run, sockets: count, seconds: seconds))
        }
      }
      await component.stop()
    }
  }

  private func log(_ text: String) {
    FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
  }
}

/// The children a run started, so that every way out stops them (stopping twice is
/// harmless).
/// Writes `value` to `path` as indented JSON with sorted keys.
func writeResults(_ value: some Encodable, to path: String) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
  try encoder.encode(value).write(to: URL(fileURLWithPath: path))
}

extension StartedProcesses {
  /// Runs `body`; every process started meanwhile is stopped afterwards, also when
  /// `body` throws.
  func stoppingAll(_ body: () async throws -> Void) async throws {
    do {
      try await body()
    } catch {
      await stopAll()
      throw error
    }
    await stopAll()
  }
}

final class StartedProcesses: Sendable {
  private let children = Mutex<[ChildProcess]>([])

  func add(_ child: ChildProcess) { children.withLock { $0.append(child) } }

  func stopAll() async {
    for child in children.withLock({ $0 }) { await child.stop() }
    children.withLock { $0 = [] }
  }
}

enum Resources {
  static func component(name: String, type: String) -> String {
    """
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: \(name)
    spec:
      type: \(type)
      version: v1
    ---

    """
  }
}
