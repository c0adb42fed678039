import ApiaryContracts
import ApiaryShared
import Logging
import Synchronization

/// Where a component's log records wait for the sidecar.
///
/// Records produced while no sidecar is tailing are kept in a bounded ring (the oldest
/// give way); a `Tail` stream first receives the waiting records at or above its
/// minimum level, then every new one. A record handed to a tailer leaves the ring, so a
/// sidecar that re-opens its stream after a reconnect does not see it twice.
///
/// The level a component logs at follows the sidecar: while streams are open, the
/// lowest minimum any of them asked for; otherwise ``defaultLevel``.
public final class ComponentLogStore: Sendable {
  private struct Tailer {
    var minimum: Logger.Level
    var continuation: AsyncStream<Apiary_Proto_Components_V1_LogRecord>.Continuation
  }

  private struct State {
    var ring: [Apiary_Proto_Components_V1_LogRecord] = []
    var ringStart = 0
    var dropped = 0
    var tailers: [Int: Tailer] = [:]
    var nextTailer = 0
    var defaultLevel: Logger.Level
  }

  /// How many records wait at most while no one tails.
  public let capacity: Int
  private let state: Mutex<State>

  /// Creates a store keeping at most `capacity` untailed records; components log at
  /// `defaultLevel` and above while no sidecar is tailing.
  public init(capacity: Int = 1000, defaultLevel: Logger.Level = .info) {
    self.capacity = max(1, capacity)
    self.state = Mutex(State(defaultLevel: defaultLevel))
  }

  /// The level below which records are not worth producing right now.
  public var minimumLevel: Logger.Level {
    state.withLock { state in
      state.tailers.values.map(\.minimum).min() ?? state.defaultLevel
    }
  }

  /// The level used while no sidecar is tailing.
  public var defaultLevel: Logger.Level {
    get { state.withLock { $0.defaultLevel } }
    set { state.withLock { $0.defaultLevel = newValue } }
  }

  /// How many untailed records gave way to newer ones since the store was created.
  public var droppedCount: Int { state.withLock { $0.dropped } }

  /// The records waiting for a tailer, oldest first.
  public var pending: [Apiary_Proto_Components_V1_LogRecord] {
    state.withLock { state in
      Array(state.ring[state.ringStart...]) + Array(state.ring[..<state.ringStart])
    }
  }

  /// Adds a record: hands it to every tailer that wants its level, or keeps it in the
  /// ring when none does.
  public func append(_ record: Apiary_Proto_Components_V1_LogRecord) {
    let level = Logger.Level(record.level)
    state.withLock { state in
      var delivered = false
      for tailer in state.tailers.values where level >= tailer.minimum {
        tailer.continuation.yield(record)
        delivered = true
      }
      guard !delivered else { return }
      if state.ring.count < capacity {
        state.ring.append(record)
      } else {
        state.ring[state.ringStart] = record
        state.ringStart = (state.ringStart + 1) % capacity
        state.dropped += 1
      }
    }
  }

  /// Opens a tail: the waiting records at or above `minimum`, then every new one, until
  /// the returned stream is dropped or ``finishAll()`` is called.
  public func tail(minimum: Logger.Level) -> AsyncStream<Apiary_Proto_Components_V1_LogRecord> {
    let (stream, continuation) = AsyncStream<Apiary_Proto_Components_V1_LogRecord>.makeStream(
      bufferingPolicy: .bufferingNewest(capacity * 2)
    )
    let id = state.withLock { state in
      let ordered = Array(state.ring[state.ringStart...]) + Array(state.ring[..<state.ringStart])
      var kept: [Apiary_Proto_Components_V1_LogRecord] = []
      for record in ordered {
        if Logger.Level(record.level) >= minimum {
          continuation.yield(record)
        } else {
          kept.append(record)
        }
      }
      state.ring = kept
      state.ringStart = 0
      let id = state.nextTailer
      state.nextTailer += 1
      state.tailers[id] = Tailer(minimum: minimum, continuation: continuation)
      return id
    }
    continuation.onTermination = { [weak self] _ in
      self?.state.withLock { _ = $0.tailers.removeValue(forKey: id) }
    }
    return stream
  }

  /// Ends every open tail, as the server does when it stops.
  public func finishAll() {
    let continuations = state.withLock { state in
      let all = state.tailers.values.map(\.continuation)
      state.tailers.removeAll()
      return all
    }
    for continuation in continuations { continuation.finish() }
  }
}
