import Synchronization

/// The parts received on one call, waiting for the single task that reads them. The
/// producer is the completion-queue poller; `take` suspends until a part, the end, or a
/// failure arrives. `onDrained` lets the owner start the next read when a slot frees up.
// @unchecked Sendable: all state is behind the `Mutex`; the class only adds the lock-free
// hand-off of a continuation that is resumed outside it.
final class Inbox<Part: Sendable>: @unchecked Sendable {
  private struct State {
    var parts: [Part] = []
    var head = 0
    var ended = false
    var failure: (any Error)?
    var waiter: UnsafeContinuation<Part?, any Error>?
  }

  private let state = Mutex(State())
  private enum Immediate {
    case part(Part)
    case end
    case failure(any Error)
    case wait
  }

  var buffered: Int { state.withLock { $0.parts.count - $0.head } }

  func push(_ part: Part) {
    let waiter: UnsafeContinuation<Part?, any Error>? = state.withLock { state in
      if let waiter = state.waiter {
        state.waiter = nil
        return waiter
      }
      state.parts.append(part)
      return nil
    }
    waiter?.resume(returning: part)
  }

  /// No more parts; a reader gets the buffered ones, then nil.
  func end() {
    let waiter = state.withLock { state -> UnsafeContinuation<Part?, any Error>? in
      state.ended = true
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume(returning: nil)
  }

  /// Ends with an error, after the buffered parts.
  func fail(_ error: any Error) {
    let waiter = state.withLock { state -> UnsafeContinuation<Part?, any Error>? in
      guard !state.ended, state.failure == nil else { return nil }
      state.failure = error
      defer { state.waiter = nil }
      return state.waiter
    }
    waiter?.resume(throwing: error)
  }

  /// The next part, or nil at the end. `cancel` runs if the task is cancelled while
  /// waiting; it must lead to `end`, `fail` or `push`.
  func take(onCancel cancel: @escaping @Sendable () -> Void) async throws -> Part? {
    let immediate: Immediate = state.withLock { state in
      if state.head < state.parts.count {
        let part = state.parts[state.head]
        state.head += 1
        if state.head == state.parts.count {
          state.parts.removeAll(keepingCapacity: true)
          state.head = 0
        }
        return .part(part)
      }
      if let failure = state.failure { return .failure(failure) }
      if state.ended { return .end }
      return .wait
    }
    switch immediate {
    case .part(let part): return part
    case .end: return nil
    case .failure(let error): throw error
    case .wait: break
    }
    return try await withTaskCancellationHandler {
      try await withUnsafeThrowingContinuation {
        (continuation: UnsafeContinuation<Part?, any Error>) in
        let resumeNow: Immediate = state.withLock { state in
          if state.head < state.parts.count {
            let part = state.parts[state.head]
            state.head += 1
            return .part(part)
          }
          if let failure = state.failure { return .failure(failure) }
          if state.ended { return .end }
          state.waiter = continuation
          return .wait
        }
        switch resumeNow {
        case .part(let part): continuation.resume(returning: part)
        case .end: continuation.resume(returning: nil)
        case .failure(let error): continuation.resume(throwing: error)
        case .wait: break
        }
      }
    } onCancel: {
      cancel()
    }
  }
}
