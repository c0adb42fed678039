import ApiaryTestSupport
import Foundation
import Testing

/// The benchmark harness still measures what it claims: a tiny run (figures are not
/// checked: speed is reported by Scripts/bench.sh, never asserted) must complete every
/// path without a failed call, and report.py must turn it into the tables.
@Suite("Benchmark harness")
struct BenchmarkHarnessTests {
  @Test(
    "apiary-bench run: every operation on every path answers, start-up and memory are measured, report.py renders it"
  )
  func smallRun() async throws {
    let folder = try TemporaryFolder(prefix: "apiary-bench-test")
    defer { folder.remove() }
    let results = folder.file("results.json")
    let run = try await ChildProcess.run(
      try Locations.product("apiary-bench"),
      [
        "run", "--apiary", try Locations.product("apiary"), "--floor", folder.file("no-floor"),
        "--out", results,
        "--runs", "1", "--latency-calls", "40", "--throughput-calls", "64", "--warmup", "5",
        "--startup-sockets", "3",
      ],
      timeout: .seconds(240))
    try #require(run.status == 0, "apiary-bench failed:\n\(run.stderr)")
    #expect(
      run.stderr.contains("skipping (d)"), "a missing floor must be said, not silently ignored")

    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: results)))
        as? [String: Any])
    let calls = try #require(report["calls"] as? [[String: Any]])
    let combinations = Set(calls.map { "\($0["operation"] ?? "")/\($0["path"] ?? "")" })
    #expect(
      combinations == [
        "get/direct", "get/grpc", "get/http", "publish/direct", "publish/grpc", "publish/http",
      ])
    for measurement in calls {
      for key in ["inFlight1", "inFlight16", "inFlight64"] {
        let batch = try #require(
          measurement[key] as? [String: Any], "\(key) missing in \(measurement)")
        #expect(
          batch["errors"] as? Int == 0,
          "failed calls in \(measurement["operation"] ?? "")/\(measurement["path"] ?? "") \(key): \(batch["firstError"] ?? "")"
        )
        #expect((batch["p50"] as? Double ?? 0) > 0)
        let cpu = try #require(batch["cpuPer1000"] as? [String: Double])
        #expect(cpu["apiary"] != nil && cpu["component"] != nil && cpu["client"] != nil)
      }
    }
    let memory = try #require(report["memory"] as? [String: Any])
    #expect(
      (memory["idleBytes"] as? Int ?? 0) > 1_000_000, "the sidecar's resident memory was not read")
    let startup = try #require(report["startup"] as? [[String: Any]])
    #expect(startup.count == 1 && startup.first?["sockets"] as? Int == 3)
    #expect((report["discovery"] as? [[String: Any]])?.count == 1)

    let markdown = folder.file("BENCHMARKS.md")
    let rendered = try await ChildProcess.run(
      Locations.python,
      [
        Locations.packageRoot + "/Benchmarks/report.py", results, "--markdown", markdown, "--png",
        "",
      ])
    try #require(rendered.status == 0, "report.py failed:\n\(rendered.stderr)")
    let text = try String(contentsOfFile: markdown, encoding: .utf8)
    #expect(text.contains("<!-- bench:begin -->") && text.contains("### Against the goals"))
    #expect(text.contains("| state Get, 1 KiB | (b) via apiary gRPC API |"))
  }
}
