import ApiaryRuntime
import Logging
import Synchronization

/// How the application answered one delivered event.
public enum AppVerdict: Sendable, Equatable {
  /// Processed: acknowledge it.
  case success
  /// Failed: have the component deliver it again.
  case retry(String)
  /// The app could not be reached (nothing listens, or the connection failed): a
  /// retry, which ``AppReachability`` also reports once per outage.
  case unreachable(String)
  /// Failed for good: acknowledge it so it is not delivered again, and log it.
  case drop(String)
}

/// Delivered messages waiting for the application's verdict, by message id.
final class PendingAcknowledgements: Sendable {
  private let pending = Mutex<[String: DeliveredMessage]>([:])
  private let logger: Logger

  init(logger: Logger) {
    self.logger = logger
  }

  /// Holds `message` until the answer for `id`; `false` (and nothing held) when an
  /// answer for `id` is already awaited.
  func add(_ message: DeliveredMessage, id: String) -> Bool {
    pending.withLock { pending in
      guard pending[id] == nil else { return false }
      pending[id] = message
      return true
    }
  }

  /// Settles message `id` with `verdict`; `false` when no such message is pending.
  func settle(_ id: String, _ verdict: AppVerdict) async -> Bool {
    guard let message = pending.withLock({ $0.removeValue(forKey: id) }) else { return false }
    await Self.settle(message, verdict, logger: logger)
    return true
  }

  /// Sends every pending message back to the component (nack), so it is delivered
  /// again: used when the application goes away before answering.
  func releaseAll(reason: String) async {
    let messages = pending.withLock { pending in
      defer { pending.removeAll() }
      return Array(pending.values)
    }
    for message in messages {
      try? await message.nack(reason)
    }
  }

  /// Acknowledges `message` as the verdict says.
  static func settle(_ message: DeliveredMessage, _ verdict: AppVerdict, logger: Logger) async {
    do {
      switch verdict {
      case .success:
        try await message.ack()
      case .retry(let reason), .unreachable(let reason):
        try await message.nack(reason)
      case .drop(let reason):
        logger.warning(
          "dropping event \(message.id) of topic \(message.topic): \(reason)",
          metadata: ["topic": "\(message.topic)", "event": "\(message.id)"])
        try await message.ack()
      }
    } catch {
      logger.warning(
        "could not acknowledge event \(message.id) of topic \(message.topic): \(error)",
        metadata: ["topic": "\(message.topic)", "event": "\(message.id)"])
    }
  }
}
