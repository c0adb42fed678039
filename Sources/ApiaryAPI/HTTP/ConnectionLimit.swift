import GRPCCoreCTransport
import Logging
import NIOCore
import Synchronization

/// Bounds the connections one HTTP port holds at once: a connection past the limit is
/// closed as soon as it is accepted, and a warning says so (at most one line per 10 s).
/// After many connections closed, or the last one, the memory they held is handed
/// back to the system, so a burst of connections does not raise the resident size for
/// good.
final class ConnectionLimit: Sendable {
  let limit: Int
  private let port: String
  private let logger: Logger
  private let open = Atomic<Int>(0)
  private struct Log {
    var last: ContinuousClock.Instant?
    var refused = 0
    var closedSinceTrim = 0
  }
  private let log = Mutex(Log())

  /// - Parameter port: How the port is named in the warning, e.g. `HTTP port 3500`.
  init(limit: Int, port: String, logger: Logger) {
    self.limit = limit
    self.port = port
    self.logger = logger
  }

  /// The connections open now.
  var openConnections: Int { open.load(ordering: .relaxed) }

  /// A handler for one new connection.
  func handler() -> Handler { Handler(gate: self) }

  /// Counts a connection in; false when it is over the limit (and was not counted).
  fileprivate func admit() -> Bool {
    let now = open.add(1, ordering: .relaxed).newValue
    guard now > limit else { return true }
    open.subtract(1, ordering: .relaxed)
    let line: Int? = log.withLock { log in
      log.refused += 1
      let instant = ContinuousClock.now
      if let last = log.last, instant - last < .seconds(10) { return nil }
      log.last = instant
      defer { log.refused = 0 }
      return log.refused
    }
    if let refused = line {
      logger.warning(
        "\(port): refused \(refused) connection(s): \(limit) are open, the limit (--max-connections)"
      )
    }
    return false
  }

  fileprivate func closed() {
    let remaining = open.subtract(1, ordering: .relaxed).newValue
    let trim = log.withLock { log in
      log.closedSinceTrim += 1
      guard log.closedSinceTrim >= 64 || (remaining == 0 && log.closedSinceTrim >= 16) else {
        return false
      }
      log.closedSinceTrim = 0
      return true
    }
    if trim { ProcessMemory.returnFreedSoon() }
  }

  /// The per-connection half: counts the connection while it is in the pipeline, and
  /// closes it at once when the port is full.
  final class Handler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let gate: ConnectionLimit
    private var counted = false

    fileprivate init(gate: ConnectionLimit) { self.gate = gate }

    func handlerAdded(context: ChannelHandlerContext) {
      if gate.admit() {
        counted = true
      } else {
        context.close(promise: nil)
      }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
      guard counted else { return }
      counted = false
      gate.closed()
    }
  }
}
