import ApiaryConformance
import ApiaryRuntime
import ApiaryTestSupport
import ComponentKit
import Logging

/// Serves `components` on a fresh socket and runs `apiary conformance`'s checks on it.
func conformance(
  _ components: [ComponentRegistration], type: BuildingBlock? = nil, ordered: Bool = false,
  metadata: [String: String] = [:], timeout: Duration = .seconds(3)
) async throws -> ConformanceReport {
  var report: ConformanceReport?
  try await withComponentServer(components: components) { socket in
    let options = ConformanceOptions(
      socketPath: socket, blocks: type.map { [$0] }, metadata: metadata, timeout: timeout,
      ordered: ordered)
    report = try await ConformanceRunner.run(options, logger: Logger(label: "test.conformance"))
  }
  return report!
}

extension ConformanceReport {
  /// The checks that did not pass, with their details, for failure messages.
  var problems: String {
    results.filter { if case .passed = $0.outcome { false } else { true } }
      .map { "\($0.block.rawValue)/\($0.check): \($0.outcome.label): \($0.outcome.detail)" }
      .joined(separator: "\n")
  }

  /// Whether the check `check` of `block` failed.
  func failed(_ block: BuildingBlock, _ check: String) -> Bool {
    if case .failed? = result(block, check) { true } else { false }
  }
}
