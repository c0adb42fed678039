import Synchronization

/// Counts `count` steps down and runs `done` once, after the last (at once when there
/// are none): start-up steps that hold readiness until each has been tried.
final class CountDown: Sendable {
  private let remaining: Mutex<Int>
  private let done: @Sendable () -> Void

  init(_ count: Int, done: @escaping @Sendable () -> Void) {
    remaining = Mutex(count)
    self.done = done
    if count == 0 { done() }
  }

  /// One step is over.
  @Sendable func one() {
    let last = remaining.withLock { remaining -> Bool in
      remaining -= 1
      return remaining == 0
    }
    if last { done() }
  }
}
