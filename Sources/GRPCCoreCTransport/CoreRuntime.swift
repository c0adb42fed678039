internal import CGRPCCore
import Foundation
import Logging
import Synchronization

/// Process-wide gRPC core state: `grpc_init` once, core's log lines routed to swift-log
/// (core writes them to stderr otherwise), and the process's completion queues.
enum CoreRuntime {
  private static let started: Void = {
    gpr_set_log_function(coreLogSink)
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR)
    grpc_init()
  }()

  static func start() { _ = started }

  /// The process's completion queues, one poller thread each (one per CPU, at most 4).
  /// Every server registers all of them and spreads its accepts over them; a client call
  /// made from a server handler uses the handler's own queue (its answer then resumes the
  /// handler on the same thread), any other client call the next queue in turn.
  static let queues: [CompletionQueue] = {
    start()
    let count = min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 4)
    return (0..<count).map { CompletionQueue(name: "grpc-core-\($0)") }
  }()

  private static let nextQueue = Mutex(0)

  /// The queue for a new client call: the running handler's, else the next in turn.
  static func queueForCall() -> CompletionQueue {
    if let current = CoreTaskExecutor.current as? CompletionQueue { return current }
    let queues = self.queues
    let index = nextQueue.withLock { next in
      defer { next = (next + 1) % queues.count }
      return next
    }
    return queues[index]
  }

  static let logger = Logger(label: "apiary.grpc-core")

  /// The last error line core logged, so failures it only logs (a bind error) can be put
  /// into the thrown error's message.
  static let lastError = Mutex<String?>(nil)

  static var version: String { String(cString: grpc_version_string()) }
}

/// Core's log function: its lines go to swift-log (so `--log-format json` stays clean).
private func coreLogSink(_ arguments: UnsafeMutablePointer<gpr_log_func_args>?) {
  guard let arguments else { return }
  let file = arguments.pointee.file
  let line = arguments.pointee.line
  let text = arguments.pointee.message.map { String(cString: $0) } ?? ""
  let level: Logger.Level
  switch arguments.pointee.severity {
  case GPR_LOG_SEVERITY_ERROR:
    level = .warning
    CoreRuntime.lastError.withLock { $0 = text }
  case GPR_LOG_SEVERITY_INFO: level = .info
  default: level = .debug
  }
  let source = file.map { String(cString: $0) }.map { ($0 as NSString).lastPathComponent } ?? "core"
  CoreRuntime.logger.log(level: level, "\(text)", metadata: ["core": "\(source):\(line)"])
}

/// One batch handed to core: the tag, retained by core until its event, and what to do
/// then. `onComplete` runs on the poller thread, so it must be short and never block.
// @unchecked Sendable: immutable; handed to core as a tag and run once on the poller.
final class Completion: @unchecked Sendable {
  let onComplete: (_ success: Bool) -> Void
  init(_ onComplete: @escaping (_ success: Bool) -> Void) { self.onComplete = onComplete }
}

/// A completion queue with one dedicated thread in `grpc_completion_queue_next`, which is
/// also a Swift `TaskExecutor`. A server handler's task, the child tasks GRPCCore starts
/// in it, and the component calls it makes prefer this executor, so a unary call goes from
/// core's event through the handler to core's next batch on one thread, with no hop to the
/// cooperative pool and back (each hop is a futex wake-up and a context switch).
///
/// The poller runs the jobs queued for it between completions. A job enqueued from another
/// thread while the poller waits in core wakes it with an empty batch on a call of a lame
/// channel: core posts an empty batch's completion at once, from the enqueuing thread,
/// which costs one kick of the queue's poller and nothing else.
// @unchecked Sendable: `raw` and `wakeCall` are immutable after init and core's queue and
// batch functions are thread-safe; the job list is behind `lock`.
final class CompletionQueue: TaskExecutor, @unchecked Sendable {
  let raw: OpaquePointer
  /// A call that never sends anything; empty batches on it are the poller's wake-ups.
  private let wakeCall: OpaquePointer
  private let lock = NSLock()
  private var jobs: [UnownedJob] = []
  /// The poller is (about to be) blocked in core: a new job must wake it.
  private var sleeping = false
  /// A wake-up batch is on its way; one is enough.
  private var wakePending = false

  init(name: String) {
    CoreRuntime.start()
    guard let raw = grpc_completion_queue_create_for_next(nil) else {
      preconditionFailure("grpc_completion_queue_create_for_next returned NULL")
    }
    self.raw = raw
    let channel = grpc_lame_client_channel_create(
      "apiary-poller-wake-up", GRPC_STATUS_UNAVAILABLE, "never sends")!
    let method = grpc_slice_from_static_string("/apiary.Poller/Wake")
    guard
      let call = grpc_channel_create_call(
        channel, nil, cgrpc_propagate_defaults(), raw, method, nil, cgrpc_infinite_future(), nil)
    else {
      preconditionFailure("gRPC core could not create the poller's wake-up call")
    }
    wakeCall = call
    let thread = Thread { [self] in self.poll() }
    thread.name = name
    thread.stackSize = 1 << 20
    thread.start()
  }

  /// The wake-up batch's tag: never a ``Completion``'s (those are heap objects).
  private static var wakeTag: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 1)! }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    lock.lock()
    jobs.append(job)
    let wake = sleeping && !wakePending
    if wake { wakePending = true }
    lock.unlock()
    if wake { grpc_call_start_batch(wakeCall, nil, 0, Self.wakeTag, nil) }
  }

  private func poll() {
    let executor = asUnownedTaskExecutor()
    var batch: [UnownedJob] = []
    // Jobs ran in the last round: before running more, look at core without blocking, so
    // jobs that keep queueing jobs cannot starve core's events.
    var ranJobs = false
    while true {
      lock.lock()
      swap(&batch, &jobs)
      guard !batch.isEmpty else {
        sleeping = true
        lock.unlock()
        let event = grpc_completion_queue_next(raw, cgrpc_infinite_future(), nil)
        lock.lock()
        sleeping = false
        lock.unlock()
        ranJobs = false
        if !handle(event) { return }
        continue
      }
      lock.unlock()
      if ranJobs, !handle(grpc_completion_queue_next(raw, cgrpc_infinite_past(), nil)) { return }
      for job in batch { job.runSynchronously(on: executor) }
      batch.removeAll(keepingCapacity: true)
      ranJobs = true
    }
  }

  /// Runs one event of core's; false once the queue has shut down.
  private func handle(_ event: grpc_event) -> Bool {
    switch event.type {
    case GRPC_OP_COMPLETE:
      guard let tag = event.tag else { return true }
      if tag == Self.wakeTag {
        lock.lock()
        wakePending = false
        lock.unlock()
      } else {
        Unmanaged<Completion>.fromOpaque(tag).takeRetainedValue().onComplete(event.success != 0)
      }
      return true
    case GRPC_QUEUE_SHUTDOWN:
      grpc_completion_queue_destroy(raw)
      return false
    default:
      return true
    }
  }

  /// A tag for `completion`; core owns the reference until the event arrives.
  static func tag(_ completion: Completion) -> UnsafeMutableRawPointer {
    Unmanaged.passRetained(completion).toOpaque()
  }

  /// Takes back a tag core refused (its batch never started).
  static func dropTag(_ tag: UnsafeMutableRawPointer) {
    Unmanaged<Completion>.fromOpaque(tag).release()
  }
}

/// The poller executor a core server's handler runs on, for code that starts unstructured
/// tasks on the handler's behalf: those inherit task locals but not an executor preference,
/// so `Task(executorPreference: CoreTaskExecutor.current) { ... }` keeps them on the
/// handler's thread. Nil outside such handlers.
public enum CoreTaskExecutor {
  @TaskLocal public static var current: (any TaskExecutor)?
}

// @unchecked Sendable: carries a core handle whose functions are thread-safe.
struct UncheckedPointer: @unchecked Sendable {
  let pointer: OpaquePointer
  init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// State behind a lock, for values holding C pointers (which `Mutex`'s `sending` rules
/// cannot see are only touched under the lock). The invariant: C pointers in the state are
/// used only inside `withLock`, or on the poller for a batch that has completed.
final class Locked<Value>: @unchecked Sendable {
  private var value: Value
  private let lock = NSLock()

  init(_ value: Value) { self.value = value }

  func withLock<Result, Failure: Error>(
    _ body: (inout Value) throws(Failure) -> Result
  ) throws(Failure) -> Result {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }
}
