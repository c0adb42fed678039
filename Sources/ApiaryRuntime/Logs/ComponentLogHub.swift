import CoreMetrics
import Foundation
import Logging
import Synchronization

/// One log record of a component, as the sidecar keeps and shows it.
public struct ForwardedLogRecord: Sendable, Equatable {
  public var time: Date
  public var level: Logger.Level
  public var message: String
  /// The component process it came from (its socket's name, or a supervised process).
  public var source: String
  /// The record's own fields plus `component`, `type`, `socket` (or `stream`).
  public var fields: [String: String]

  public init(
    time: Date, level: Logger.Level, message: String, source: String, fields: [String: String]
  ) {
    self.time = time
    self.level = level
    self.message = message
    self.source = source
    self.fields = fields
  }
}

/// The one home of every component's logs: each record that arrives (from a `Tail`
/// stream or a supervised process's output) is rate-limited per source, made safe
/// (control characters escaped, at most 16 KiB), written through the sidecar's logger
/// with its component metadata, kept in that source's ring of recent records, and
/// handed to live followers.
///
/// A source floods when it sends more than `ratePerSecond` records a second beyond a
/// `burst`; what goes over is dropped and counted, and the count is logged at most
/// once a second. Each source also has a minimum level, changed at run time through
/// ``setLevel(_:for:)``; the tail streams watch ``levelChanges(for:)`` to re-open
/// with it.
public final class ComponentLogHub: Sendable {
  /// Longer messages are cut here, with a marker.
  public static let maximumMessageBytes = 16 * 1024

  private struct Source {
    var ring: [ForwardedLogRecord] = []
    var ringStart = 0
    var level: Logger.Level
    var tokens: Double
    var lastRefill: ContinuousClock.Instant
    var dropped = 0
    var droppedTotal = 0
    var lastDropReport: ContinuousClock.Instant?
    var followers: [Int: AsyncStream<ForwardedLogRecord>.Continuation] = [:]
    var levelWatchers: [Int: AsyncStream<Logger.Level>.Continuation] = [:]
  }

  private struct State {
    var sources: [String: Source] = [:]
    var nextID = 0
  }

  private let logger: Logger
  private let capacity: Int
  private let ratePerSecond: Double
  private let burst: Double
  private let defaultLevel: Logger.Level
  private let state = Mutex(State())

  /// - Parameters:
  ///   - capacity: Records kept per source for `/actuator/logs`.
  ///   - defaultLevel: The minimum level of a source until it is changed.
  public init(
    logger: Logger, capacity: Int = 1000, ratePerSecond: Double = 1000, burst: Double = 2000,
    defaultLevel: Logger.Level = .info
  ) {
    self.logger = logger
    self.capacity = max(1, capacity)
    self.ratePerSecond = ratePerSecond
    self.burst = max(1, burst)
    self.defaultLevel = defaultLevel
  }

  private func newSource(now: ContinuousClock.Instant) -> Source {
    Source(level: defaultLevel, tokens: burst, lastRefill: now)
  }

  /// Makes `source` known (so it is listed and has a level) before any record.
  public func register(_ source: String) {
    let added = state.withLock { state in
      guard state.sources[source] == nil else { return false }
      state.sources[source] = newSource(now: .now)
      return true
    }
    if added { Self.countDropped(0, source: source) }
  }

  /// `apiary_component_log_records_dropped_total{component}`: the records of a
  /// flooding source that were dropped (shown at 0 from the source's first record).
  private static func countDropped(_ count: Int, source: String) {
    guard ComponentMetrics.isEnabled else { return }
    Counter(
      label: "apiary_component_log_records_dropped_total", dimensions: [("component", source)]
    )
    .increment(by: Int64(count))
  }

  /// Takes one record: see the type's description. Returns false when it was dropped by
  /// the rate limit or is below the source's level.
  @discardableResult
  public func record(_ incoming: ForwardedLogRecord, now: ContinuousClock.Instant = .now) -> Bool {
    var record = incoming
    record.message = Self.safe(record.message)
    for (key, value) in record.fields { record.fields[key] = Self.safe(value) }
    let (accepted, report, followers, dropped, isNew) = state.withLock {
      state -> (Bool, Int?, [AsyncStream<ForwardedLogRecord>.Continuation], Bool, Bool) in
      let isNew = state.sources[record.source] == nil
      var source = state.sources[record.source] ?? newSource(now: now)
      defer { state.sources[record.source] = source }
      // Refill the bucket.
      let elapsed = now - source.lastRefill
      let seconds =
        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
      source.tokens = min(burst, source.tokens + seconds * ratePerSecond)
      source.lastRefill = now
      var report: Int?
      if source.dropped > 0, source.lastDropReport.map({ now - $0 >= .seconds(1) }) ?? true {
        report = source.dropped
        source.dropped = 0
        source.lastDropReport = now
      }
      guard record.level >= source.level else { return (false, report, [], false, isNew) }
      guard source.tokens >= 1 else {
        source.dropped += 1
        source.droppedTotal += 1
        if source.lastDropReport == nil { source.lastDropReport = now }
        return (false, report, [], true, isNew)
      }
      source.tokens -= 1
      if source.ring.count < capacity {
        source.ring.append(record)
      } else {
        source.ring[source.ringStart] = record
        source.ringStart = (source.ringStart + 1) % capacity
      }
      return (true, report, Array(source.followers.values), false, isNew)
    }
    if dropped || isNew { Self.countDropped(dropped ? 1 : 0, source: record.source) }
    if let report {
      logger.warning(
        "dropped \(report) log records of a component flooding over \(Int(ratePerSecond)) records/s",
        metadata: ["component": "\(record.source)"])
    }
    guard accepted else { return false }
    var metadata: Logger.Metadata = [:]
    for (key, value) in record.fields { metadata[key] = "\(value)" }
    metadata["component"] = "\(record.fields["component"] ?? record.source)"
    logger.log(level: record.level, "\(record.message)", metadata: metadata)
    for follower in followers { follower.yield(record) }
    return true
  }

  /// The most recent records of `source`, oldest first: at most `limit`, at or above
  /// `minimum`.
  public func recent(
    _ source: String, limit: Int = 100, minimum: Logger.Level = .trace
  ) -> [ForwardedLogRecord] {
    let all: [ForwardedLogRecord] = state.withLock { state in
      guard let source = state.sources[source] else { return [] }
      return Array(source.ring[source.ringStart...]) + Array(source.ring[..<source.ringStart])
    }
    return Array(all.filter { $0.level >= minimum }.suffix(max(0, limit)))
  }

  /// Every record of `source` from now on, until the consumer stops.
  public func follow(_ source: String) -> AsyncStream<ForwardedLogRecord> {
    let (stream, continuation) = AsyncStream.makeStream(
      of: ForwardedLogRecord.self, bufferingPolicy: .bufferingNewest(capacity))
    let id = state.withLock { state in
      state.nextID += 1
      if state.sources[source] == nil { state.sources[source] = newSource(now: .now) }
      state.sources[source]?.followers[state.nextID] = continuation
      return state.nextID
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.sources[source]?.followers.removeValue(forKey: id) }
    }
    return stream
  }

  /// The known sources with their levels and dropped counts, by name.
  public var sources: [String: (level: Logger.Level, dropped: Int)] {
    state.withLock { state in state.sources.mapValues { ($0.level, $0.droppedTotal) } }
  }

  /// The minimum level of `source`.
  public func level(of source: String) -> Logger.Level {
    state.withLock { $0.sources[source]?.level ?? defaultLevel }
  }

  /// Changes the minimum level of `source`; its tail stream re-opens with it.
  public func setLevel(_ level: Logger.Level, for source: String) {
    let watchers = state.withLock { state in
      if state.sources[source] == nil { state.sources[source] = newSource(now: .now) }
      state.sources[source]?.level = level
      return Array(state.sources[source]?.levelWatchers.values ?? [:].values)
    }
    for watcher in watchers { watcher.yield(level) }
  }

  /// Yields the new level of `source` each time it changes.
  public func levelChanges(for source: String) -> AsyncStream<Logger.Level> {
    let (stream, continuation) = AsyncStream.makeStream(
      of: Logger.Level.self, bufferingPolicy: .bufferingNewest(1))
    let id = state.withLock { state in
      state.nextID += 1
      if state.sources[source] == nil { state.sources[source] = newSource(now: .now) }
      state.sources[source]?.levelWatchers[state.nextID] = continuation
      return state.nextID
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.sources[source]?.levelWatchers.removeValue(forKey: id) }
    }
    return stream
  }

  /// `text` with control characters escaped and cut to ``maximumMessageBytes``.
  public static func safe(_ text: String) -> String {
    var escaped = ProcessOutputRecord.escaped(text)
    if escaped.utf8.count > maximumMessageBytes {
      var cut = escaped.utf8.prefix(maximumMessageBytes)
      while String(cut) == nil { cut = cut.dropLast() }
      escaped = (String(cut) ?? "") + " …[truncated]"
    }
    return escaped
  }
}
