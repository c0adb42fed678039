import ApiaryRuntime
import Foundation

/// How one check ended.
public enum ConformanceOutcome: Sendable, Equatable {
  /// The component did what the contract says; what was checked, in words.
  case passed(String)
  /// It did not; what it did instead.
  case failed(String)
  /// Not applicable: the component does not declare the feature, or cannot be tested
  /// this way (the reason says which).
  case skipped(String)

  /// `passed`, `failed` or `skipped`.
  public var label: String {
    switch self {
    case .passed: "passed"
    case .failed: "failed"
    case .skipped: "skipped"
    }
  }

  /// The detail in words.
  public var detail: String {
    switch self {
    case .passed(let text), .failed(let text), .skipped(let text): text
    }
  }
}

/// One check's result.
public struct ConformanceResult: Sendable, Equatable {
  /// The building block the check belongs to.
  public var block: BuildingBlock
  /// The check's stable name (`etag-mismatch-set`); tests and CI refer to it.
  public var check: String
  public var outcome: ConformanceOutcome
  /// How long it took.
  public var duration: Duration

  public init(
    block: BuildingBlock, check: String, outcome: ConformanceOutcome, duration: Duration = .zero
  ) {
    self.block = block
    self.check = check
    self.outcome = outcome
    self.duration = duration
  }
}

/// Everything one `apiary conformance` run found.
public struct ConformanceReport: Sendable {
  /// The socket checked.
  public var socket: String
  /// The services reflection listed on it.
  public var services: [String]
  /// The instance name the checks initialised (`x-component-instance`).
  public var instance: String
  public var results: [ConformanceResult]

  public init(socket: String, services: [String], instance: String, results: [ConformanceResult]) {
    self.socket = socket
    self.services = services
    self.instance = instance
    self.results = results
  }

  public var passedCount: Int {
    results.count { if case .passed = $0.outcome { true } else { false } }
  }
  public var failedCount: Int {
    results.count { if case .failed = $0.outcome { true } else { false } }
  }
  public var skippedCount: Int {
    results.count { if case .skipped = $0.outcome { true } else { false } }
  }

  /// Whether the component conforms: something was checked and nothing failed.
  public var conforms: Bool { failedCount == 0 && passedCount > 0 }

  /// The result of the check named `check` of `block`, if it ran.
  public func result(_ block: BuildingBlock, _ check: String) -> ConformanceOutcome? {
    results.first { $0.block == block && $0.check == check }?.outcome
  }

  /// The table `apiary conformance` prints, with a summary line.
  public var table: String {
    let rows = results.map { [$0.block.rawValue, $0.check, $0.outcome.label, $0.outcome.detail] }
    let header = ["BLOCK", "CHECK", "RESULT", "DETAIL"]
    var widths = header.map(\.count)
    for row in rows {
      for index in 0..<3 { widths[index] = max(widths[index], row[index].count) }
    }
    func line(_ cells: [String]) -> String {
      (0..<3).map { cells[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(
        separator: "  ")
        + "  " + cells[3]
    }
    var text = ([line(header)] + rows.map(line)).joined(separator: "\n")
    text += "\n\n\(passedCount) passed, \(failedCount) failed, \(skippedCount) skipped: "
    text += conforms ? "\(socket) conforms" : "\(socket) does not conform"
    return text
  }

  /// The report as JSON: `{socket, instance, services, conforms, passed, failed,
  /// skipped, results: [{block, check, result, detail, ms}]}`.
  public var json: Data {
    let object: [String: Any] = [
      "socket": socket, "instance": instance, "services": services, "conforms": conforms,
      "passed": passedCount, "failed": failedCount, "skipped": skippedCount,
      "results": results.map { result -> [String: Any] in
        let (seconds, attoseconds) = result.duration.components
        return [
          "block": result.block.rawValue, "check": result.check, "result": result.outcome.label,
          "detail": result.outcome.detail,
          "ms": seconds * 1000 + attoseconds / 1_000_000_000_000_000,
        ]
      },
    ]
    return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
  }
}
