import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Everything one `apiary-bench run` measured.
struct Report: Codable {
  var machine: Machine
  var command: String
  var runs: Int
  /// The gRPC transport of apiary, the component and the clients: nio or core.
  var transport = "nio"
  var date = ISO8601DateFormatter().string(from: Date())
  var calls: [Measurement] = []
  var floor: [FloorResult] = []
  var startup: [StartupResult] = []
  var discovery: [StartupResult] = []
  var memory = MemoryResult()
}

struct Measurement: Codable {
  var run: Int
  var operation: Operation
  var path: Path
  var inFlight1: Batch?
  var inFlight16: Batch?
  var inFlight64: Batch?

  var summary: String {
    func describe(_ batch: Batch?) -> String {
      guard let batch else { return "-" }
      let errors = batch.errors > 0 ? " (\(batch.errors) errors: \(batch.firstError ?? ""))" : ""
      guard batch.p50.isFinite, batch.throughput.isFinite else {
        return "no call answered\(errors)"
      }
      return "p50 \(Int(batch.p50)) µs, \(Int(batch.throughput)) calls/s\(errors)"
    }
    return
      "run \(run) \(operation.rawValue) via \(path.rawValue): 1 in flight \(describe(inFlight1)); "
      + "16: \(describe(inFlight16)); 64: \(describe(inFlight64))"
  }
}

struct FloorResult: Codable {
  var run: Int
  var mode: String
  var inFlight: Int
  var p50: Double
  var p90: Double
  var p99: Double
  var throughput: Double
  var clientCPUPer1000: Double
  var serverCPUPer1000: Double
  /// The server's context switches per call (all its threads); nil when unread.
  var serverSwitchesPerCall: Double? = nil
}

struct StartupResult: Codable {
  var run: Int
  var sockets: Int
  var seconds: Double
}

struct MemoryResult: Codable {
  /// The sidecar's resident memory with 10 components, 2 s after it was ready.
  var idleBytes: Int?
  /// The most it held right after a 64-in-flight batch.
  var loadedBytes: Int?
  /// Its peak (VmHWM) over the whole call benchmark.
  var peakBytes: Int?
  /// The anonymous part (RssAnon) idle, and the most right after a 64-in-flight batch.
  var idleAnonBytes: Int?
  var loadedAnonBytes: Int?
  /// The idle resident memory by what it maps (``ProcessStats/residentSplit(_:)``):
  /// binary, Swift runtime, Foundation, gRPC, other libraries, anonymous.
  var idleSplit: [String: Int]?
  /// The size of the apiary executable that was measured, in bytes.
  var binaryBytes: Int?
}

struct Machine: Codable {
  var cpus: Int
  var cpuModel: String
  var memoryBytes: Int?
  var kernel: String

  static func describe() -> Machine {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model =
      cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
      .map {
        String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(
          in: .whitespaces)
      } ?? "unknown"
    let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
    let memory = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
      .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) }.map { $0 * 1024 }
    var names = utsname()
    uname(&names)
    let release = withUnsafeBytes(of: &names.release) {
      String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
    }
    return Machine(
      cpus: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, memoryBytes: memory,
      kernel: release)
  }
}
