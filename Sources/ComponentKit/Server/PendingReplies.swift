import GRPCCore
import Synchronization

/// The deliveries of one stream that wait for the sidecar's answer, by message id:
/// input binding events (`Read`) and pub/sub messages (`PullMessages`) alike.
///
/// A delivery registers its continuation under a fresh id before its message is
/// written; the stream's reader resolves it when the answer naming that id arrives.
/// When the stream ends, every waiting delivery fails with ``PendingReplies/Closed``.
final class PendingReplies<Reply: Sendable>: Sendable {
  /// The stream ended while a delivery still waited for its answer.
  struct Closed: Error {}

  private struct State {
    var waiting: [String: CheckedContinuation<Reply, any Error>] = [:]
    var counter: UInt64 = 0
    var closed = false
  }
  private let state = Mutex(State())
  private let closedError: @Sendable () -> any Error

  /// - Parameter closedError: What a delivery throws when the stream ends first.
  init(closedError: @escaping @Sendable () -> any Error) {
    self.closedError = closedError
  }

  /// A new message id, unique within the stream.
  func nextID() -> String {
    state.withLock { state in
      state.counter += 1
      return String(state.counter)
    }
  }

  /// Waits for the answer to message `id`, which `send` writes once the wait is
  /// registered. Cancelling the calling task fails the wait with `CancellationError`.
  func wait(for id: String, send: @Sendable () -> Void) async throws -> Reply {
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { continuation in
        if register(id, continuation) { send() }
      }
    } onCancel: {
      fail(id, CancellationError())
    }
  }

  /// Records a waiting continuation; resumes it at once with an error (and returns
  /// false) when the stream is closed or the task already cancelled.
  private func register(_ id: String, _ continuation: CheckedContinuation<Reply, any Error>) -> Bool
  {
    let refusal: (any Error)? = state.withLock { state in
      if state.closed { return closedError() }
      if Task.isCancelled { return CancellationError() }
      state.waiting[id] = continuation
      return nil
    }
    if let refusal {
      continuation.resume(throwing: refusal)
      return false
    }
    return true
  }

  /// Hands the answer for message `id` to its delivery; unknown ids are ignored (and
  /// reported, so the caller can log a peer that answers what it was never sent).
  @discardableResult
  func resolve(_ id: String, with reply: Reply) -> Bool {
    guard let continuation = state.withLock({ $0.waiting.removeValue(forKey: id) }) else {
      return false
    }
    continuation.resume(returning: reply)
    return true
  }

  private func fail(_ id: String, _ error: any Error) {
    state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(throwing: error)
  }

  /// Fails every waiting delivery and refuses new ones.
  func close() {
    let waiting = state.withLock { state in
      state.closed = true
      defer { state.waiting = [:] }
      return Array(state.waiting.values)
    }
    for continuation in waiting { continuation.resume(throwing: closedError()) }
  }
}

/// Runs one stream on which the component sends messages and the sidecar answers each:
/// a reader hands the sidecar's messages to `receive`, a single writer sends what
/// `produce` yields (so concurrent deliveries never interleave), and `produce` runs
/// the component's code. Whichever ends first — the sidecar, the writer or the
/// component — ends the others, and every delivery still waiting fails.
func serveAnsweredStream<Inbound: Sendable, Outbound: Sendable, Reply: Sendable>(
  messages: RPCAsyncSequence<Inbound, any Error>,
  writer: RPCWriter<Outbound>,
  replies: PendingReplies<Reply>,
  receive: @escaping @Sendable (Inbound) throws -> Void,
  produce: @escaping @Sendable (AsyncStream<Outbound>.Continuation) async throws -> Void
) async throws {
  let (outgoing, sink) = AsyncStream<Outbound>.makeStream()
  try await mappingErrors {
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        for try await message in messages { try receive(message) }
      }
      group.addTask {
        for await message in outgoing { try await writer.write(message) }
      }
      group.addTask { try await produce(sink) }
      defer {
        replies.close()
        sink.finish()
        group.cancelAll()
      }
      _ = try await group.next()
    }
  }
}
