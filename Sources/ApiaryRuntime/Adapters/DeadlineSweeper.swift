import GRPCCore
import GRPCCoreCTransport
import Synchronization

/// Enforces the deadlines of component calls with one shared timer, instead of one
/// timer per call.
///
/// A gRPC call with a timeout makes grpc-swift start a task that sleeps until the
/// deadline; when the call answers first, that sleep is cancelled, but on Linux the
/// runtime keeps its timer (about 1 KiB) until the deadline passes. At a few thousand
/// calls a second and a 30 s deadline that held tens of MiB (see BENCHMARKS.md). Here
/// each call runs in a task of its own, registered with its deadline; one sweeper task
/// looks every 50 ms and cancels the calls whose deadline passed, which then fail with
/// DEADLINE_EXCEEDED.
final class DeadlineSweeper: Sendable {
  static let shared = DeadlineSweeper()

  private struct Entry {
    var deadline: ContinuousClock.Instant
    var cancel: @Sendable () -> Void
    var expired = false
  }

  private struct State {
    var entries: [UInt64: Entry] = [:]
    var nextID: UInt64 = 0
    var sweeping = false
  }

  private let state = Mutex(State())
  private let clock = ContinuousClock()
  private let interval = Duration.milliseconds(50)

  /// Runs `body`, cancelling it when it has not answered within `timeout`.
  ///
  /// - Throws: What `body` throws, or `RPCError` DEADLINE_EXCEEDED when the deadline
  ///   passed first.
  func run<T: Sendable>(
    within timeout: Duration, _ body: @escaping @Sendable () async throws -> T
  ) async throws -> T {
    // On the calling handler's gRPC core poller thread when it has one (no thread hop).
    let work = Task(executorPreference: CoreTaskExecutor.current) { try await body() }
    let id = register(deadline: clock.now.advanced(by: timeout)) { work.cancel() }
    do {
      let value = try await withTaskCancellationHandler {
        try await work.value
      } onCancel: {
        work.cancel()
      }
      _ = unregister(id)
      return value
    } catch {
      if unregister(id) {
        throw RPCError(code: .deadlineExceeded, message: "no answer within \(timeout)")
      }
      throw error
    }
  }

  private func register(
    deadline: ContinuousClock.Instant, cancel: @escaping @Sendable () -> Void
  ) -> UInt64 {
    let (id, startSweeper) = state.withLock { state in
      state.nextID += 1
      state.entries[state.nextID] = Entry(deadline: deadline, cancel: cancel)
      defer { state.sweeping = true }
      return (state.nextID, !state.sweeping)
    }
    if startSweeper {
      Task.detached { [self] in await sweep() }
    }
    return id
  }

  /// Forgets a call; whether its deadline had passed.
  private func unregister(_ id: UInt64) -> Bool {
    state.withLock { $0.entries.removeValue(forKey: id)?.expired ?? false }
  }

  /// Cancels the calls past their deadline, every `interval`, for as long as any call
  /// is registered.
  private func sweep() async {
    while true {
      try? await Task.sleep(for: interval)
      let now = clock.now
      let (due, keepGoing) = state.withLock { state -> ([@Sendable () -> Void], Bool) in
        var due: [@Sendable () -> Void] = []
        for (id, entry) in state.entries where !entry.expired && entry.deadline <= now {
          state.entries[id]?.expired = true
          due.append(entry.cancel)
        }
        if state.entries.isEmpty { state.sweeping = false }
        return (due, state.sweeping)
      }
      for cancel in due { cancel() }
      if !keepGoing { return }
    }
  }
}
