import CoreMetrics
import Logging
import Synchronization

/// Counts the spans the exporter lost and says so in the log, at most once per
/// ``interval``: `apiary_tracing_spans_dropped_total{reason}` with reason
/// `queue_full` (the export queue was full: the collector is slow or down and the
/// queue's bound was reached) or `export_failed` (a batch the collector did not take:
/// down, refused, or too slow for the export timeout).
///
/// API calls never wait for the exporter: ending a span only puts it in the queue,
/// and what does not fit is dropped here.
public final class SpanDropReporter: Sendable {
  /// Why spans were lost.
  public enum Reason: String, Sendable, CaseIterable {
    case queueFull = "queue_full"
    case exportFailed = "export_failed"
  }

  private struct State {
    var pending: [Reason: Int] = [:]
    var lastReport: ContinuousClock.Instant?
    var lastError: String?
  }

  /// The shortest time between two log lines about drops.
  public let interval: Duration
  private let logger: Logger
  private let collector: String
  private let counters: [Reason: Counter]
  private let state = Mutex(State())

  /// - Parameter collector: The endpoint, for the log line.
  public init(
    logger: Logger, collector: String, interval: Duration = .seconds(10),
    countInMetrics: Bool = true
  ) {
    self.logger = logger
    self.collector = collector
    self.interval = interval
    var counters: [Reason: Counter] = [:]
    if countInMetrics {
      for reason in Reason.allCases {
        counters[reason] = Counter(
          label: "apiary_tracing_spans_dropped_total", dimensions: [("reason", reason.rawValue)])
      }
    }
    self.counters = counters
  }

  /// Records `count` spans lost for `reason`; logs when the last line is older than
  /// ``interval``. Returns the line logged, if any (for tests).
  @discardableResult
  public func dropped(
    _ count: Int, _ reason: Reason, error: String? = nil, now: ContinuousClock.Instant = .now
  ) -> String? {
    guard count > 0 else { return nil }
    counters[reason]?.increment(by: Int64(count))
    let report = state.withLock { state -> ([Reason: Int], String?)? in
      state.pending[reason, default: 0] += count
      if let error { state.lastError = error }
      if let last = state.lastReport, now - last < interval { return nil }
      defer {
        state.pending = [:]
        state.lastReport = now
      }
      return (state.pending, state.lastError)
    }
    guard let (pending, lastError) = report else { return nil }
    var parts: [String] = []
    if let full = pending[.queueFull] { parts.append("\(full) because the export queue was full") }
    if let failed = pending[.exportFailed] {
      parts.append("\(failed) in exports that failed\(lastError.map { " (\($0))" } ?? "")")
    }
    let line =
      "tracing: dropped \(parts.joined(separator: " and ")) spans; the collector at \(collector) is down or too slow. API calls are not held up; apiary_tracing_spans_dropped_total counts every drop (this line comes at most every \(interval))"
    logger.warning("\(line)")
    return line
  }
}

/// swift-otel's diagnostic logger: the batch span processor's warnings about lost
/// spans (a full queue, a failed export) become counts in ``SpanDropReporter``;
/// everything else goes to the sidecar's log (info as debug).
///
/// swift-otel 1.6 tells of lost spans only through these two log messages (its
/// processor's counters are internal), so they are matched by their text and their
/// `dropped_count` / `batch_size` metadata; `Tests/Observability` checks the drop
/// count end to end, so a release that words them otherwise fails there.
public struct OTelDiagnosticHandler: LogHandler {
  public var metadata: Logger.Metadata = [:]
  public var logLevel: Logger.Level = .info
  private let drops: SpanDropReporter
  private let forward: Logger

  /// The message swift-otel's batch processor logs with `dropped_count`.
  static let queueFullMessage = "Spans were dropped this iteration because queue was full"
  /// The message it logs with `batch_size` when an export fails or times out.
  static let exportFailedMessage = "Failed to export batch."

  public init(drops: SpanDropReporter, forward: Logger) {
    self.drops = drops
    self.forward = forward
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    let merged = metadata(with: event)
    let message = event.message.description
    func number(_ key: String) -> Int? { merged[key].flatMap { Int("\($0)") } }
    if message.hasPrefix(Self.queueFullMessage), let count = number("dropped_count") {
      drops.dropped(count, .queueFull)
      return
    }
    if message.hasPrefix(Self.exportFailedMessage), let count = number("batch_size") {
      drops.dropped(
        count, .exportFailed, error: event.error.map { "\($0)" } ?? merged["error"].map { "\($0)" })
      return
    }
    var fields = merged
    fields["source"] = "swift-otel"
    if let error = event.error { fields["error"] = "\(error)" }
    forward.log(
      level: event.level <= .info ? .debug : event.level, "tracing: \(message)", metadata: fields)
  }
}
