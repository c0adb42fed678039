import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What one measured batch of calls gave.
struct Batch: Codable, Sendable {
  var calls: Int
  var concurrency: Int
  var errors: Int
  var firstError: String?
  var wallSeconds: Double
  var p50: Double
  var p90: Double
  var p99: Double
  var mean: Double
  /// Calls per second over the batch's wall time.
  var throughput: Double
  /// CPU seconds per 1000 calls, by process ("apiary", "component", "client").
  var cpuPer1000: [String: Double]
  /// Context switches per call (voluntary + involuntary, over all threads), by
  /// process ("apiary", "component"); absent in results written before it was measured.
  var switchesPerCall: [String: Double]? = nil
  /// Resident memory of the sidecar right after the batch, in bytes, when it ran.
  var apiaryRSS: Int?
  /// Its anonymous part (heap, stacks: memory no other process shares), in bytes.
  var apiaryAnon: Int?
  /// The latencies in microseconds, sorted, only when asked for (CDF plots).
  var latencies: [Double]?

  static func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
  }
}

/// Runs `warmup` calls, then `calls` calls, `concurrency` at a time (each worker
/// issues its next call when the previous one answered), timing each call.
func drive(
  calls: Int, warmup: Int, concurrency: Int, watched: [String: Int32], keepLatencies: Bool,
  _ call: @escaping @Sendable () async throws -> Void
) async -> Batch {
  let errors = Tally()
  @Sendable func run(_ total: Int) async -> ([UInt64], Double) {
    let next = Tally()
    let clock = ContinuousClock()
    let started = clock.now
    let latencies = await withTaskGroup(of: [UInt64].self) { group in
      for _ in 0..<concurrency {
        group.addTask {
          var mine: [UInt64] = []
          mine.reserveCapacity(total / concurrency + 1)
          while next.count.add(1, ordering: .relaxed).oldValue < total {
            let start = clock.now
            do {
              try await call()
              let elapsed = clock.now - start
              mine.append(
                UInt64(elapsed.components.seconds) * 1_000_000_000
                  + UInt64(elapsed.components.attoseconds / 1_000_000_000))
            } catch {
              errors.record(error)
            }
          }
          return mine
        }
      }
      var all: [UInt64] = []
      for await part in group { all += part }
      return all
    }
    let wall = clock.now - started
    return (latencies, Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18)
  }

  _ = await run(warmup)
  errors.reset()
  let before = watched.mapValues(ProcessStats.cpuSeconds)
  let switchesBefore = watched.mapValues(ProcessStats.contextSwitches)
  let clientBefore = ProcessStats.ownCPUSeconds()
  let (nanoseconds, wall) = await run(calls)
  var cpu: [String: Double] = [:]
  for (name, pid) in watched {
    if let start = before[name] ?? nil, let end = ProcessStats.cpuSeconds(pid) {
      cpu[name] = (end - start) / Double(calls) * 1000
    }
  }
  cpu["client"] = (ProcessStats.ownCPUSeconds() - clientBefore) / Double(calls) * 1000
  var switches: [String: Double] = [:]
  for (name, pid) in watched {
    if let start = switchesBefore[name] ?? nil, let end = ProcessStats.contextSwitches(pid) {
      switches[name] = Double(end - start) / Double(calls)
    }
  }
  let sorted = nanoseconds.sorted().map { Double($0) / 1000 }
  return Batch(
    calls: calls, concurrency: concurrency, errors: errors.count.load(ordering: .relaxed),
    firstError: errors.first.withLock { $0 }, wallSeconds: wall,
    p50: Batch.percentile(sorted, 50), p90: Batch.percentile(sorted, 90),
    p99: Batch.percentile(sorted, 99),
    mean: sorted.isEmpty ? .nan : sorted.reduce(0, +) / Double(sorted.count),
    throughput: Double(sorted.count) / wall, cpuPer1000: cpu, switchesPerCall: switches,
    apiaryRSS: watched["apiary"].flatMap(ProcessStats.residentBytes),
    apiaryAnon: watched["apiary"].flatMap(ProcessStats.anonymousBytes),
    latencies: keepLatencies ? sorted : nil)
}

/// A counter shared by the workers, with the first error it counted.
final class Tally: Sendable {
  let count = Atomic<Int>(0)
  let first = Mutex<String?>(nil)

  func record(_ error: any Error) {
    count.add(1, ordering: .relaxed)
    first.withLock { if $0 == nil { $0 = String(describing: error) } }
  }

  func reset() {
    count.store(0, ordering: .relaxed)
    first.withLock { $0 = nil }
  }
}

/// CPU time and memory of processes, from /proc.
enum ProcessStats {
  static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

  /// utime + stime of `pid` in seconds, or nil when it cannot be read.
  static func cpuSeconds(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    // After "pid (comm) ": state is field 3, utime field 14, stime field 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
      return nil
    }
    return (user + system) / ticksPerSecond
  }

  /// Voluntary + involuntary context switches of `pid`, summed over its threads
  /// (/proc/PID/task/*/status), or nil when they cannot be read. Threads that ended in
  /// between are not counted.
  static func contextSwitches(_ pid: Int32) -> Int? {
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
    else { return nil }
    var total = 0
    for task in tasks {
      guard
        let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)
      else { continue }
      for line in text.split(separator: "\n")
      where line.hasPrefix("voluntary_ctxt_switches:")
        || line.hasPrefix("nonvoluntary_ctxt_switches:")
      {
        total +=
          line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
          ?? 0
      }
    }
    return total
  }

  /// Resident bytes of `pid` by what the memory maps, from /proc/PID/smaps: "binary"
  /// (the executable), "swift runtime" (libswift*, libdispatch, libBlocksRuntime),
  /// "foundation" (libFoundation*, ICU), "grpc" (libgrpc, libgpr, absl, upb, re2,
  /// c-ares, ssl, crypto, zlib), "other libraries" and "anonymous" (heap, stacks,
  /// anonymous mappings). Nil when smaps cannot be read.
  static func residentSplit(_ pid: Int32) -> [String: Int]? {
    // Read to the end: procfs reports a size of 0, and a read sized by it stops after
    // the first page.
    guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps"),
      let bytes = try? handle.readToEnd()
    else { return nil }
    try? handle.close()
    let text = String(decoding: bytes, as: UTF8.self)
    let executable =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
    func category(_ path: String) -> String {
      if path.isEmpty || path.hasPrefix("[") { return "anonymous" }
      if path == executable { return "binary" }
      let file = path.split(separator: "/").last.map(String.init) ?? path
      if file.hasPrefix("libswift") || file.hasPrefix("libdispatch")
        || file.hasPrefix("libBlocksRuntime")
      {
        return "swift runtime"
      }
      if file.hasPrefix("libFoundation") || file.hasPrefix("lib_FoundationICU")
        || file.contains("icu")
      {
        return "foundation"
      }
      let grpc = [
        "libgrpc", "libgpr", "libabsl", "libupb", "libre2", "libcares", "libssl", "libcrypto",
        "libz.", "libaddress_sorting",
      ]
      if grpc.contains(where: file.hasPrefix) { return "grpc" }
      return "other libraries"
    }
    var split: [String: Int] = [:]
    var current = "anonymous"
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard let first = fields.first else { continue }
      if first.contains("-"), fields.count >= 5, first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
        current = category(fields.count >= 6 ? fields[5...].joined(separator: " ") : "")
      } else if first == "Rss:", fields.count >= 2, let kib = Int(fields[1]) {
        split[current, default: 0] += kib * 1024
      }
    }
    return split
  }

  /// This process's CPU seconds (user + system).
  static func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
  }

  /// VmRSS of `pid` in bytes.
  static func residentBytes(_ pid: Int32) -> Int? { statusField(pid, "VmRSS:") }

  /// RssAnon of `pid` in bytes: resident memory not backed by a file.
  static func anonymousBytes(_ pid: Int32) -> Int? { statusField(pid, "RssAnon:") }

  /// VmHWM (peak resident memory) of `pid` in bytes.
  static func peakResidentBytes(_ pid: Int32) -> Int? { statusField(pid, "VmHWM:") }

  private static func statusField(_ pid: Int32, _ name: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
      return nil
    }
    for line in text.split(separator: "\n") where line.hasPrefix(name) {
      let number = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
        .first.flatMap { Int($0) }
      return number.map { $0 * 1024 }
    }
    return nil
  }
}
