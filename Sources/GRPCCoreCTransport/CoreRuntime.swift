internal import CGRPCCore
import Foundation
import Logging
import Synchronization

/// Process-wide gRPC core state: `grpc_init` once, core's log lines routed to swift-log
/// (core writes them to stderr otherwise), and the shared client completion queue.
enum CoreRuntime {
  private static let started: Void = {
    gpr_set_log_function(coreLogSink)
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR)
    grpc_init()
  }()

  static func start() { _ = started }

  /// The process's completion queues, one poller thread each (one per CPU, at most 4):
  /// every server registers all of them and spreads its accepts over them, and client
  /// calls use the one whose poller runs the calling handler.
  static let queues: [CompletionQueue] = {
    start()
    let count = min(max(ProcessInfo.processInfo.activeProcessorCount, 1), 4)
    return (0..<count).map { CompletionQueue(name: "grpc-core-\($0)") }
  }()

  private static let nextQueue = Mutex(0)

  /// The queue for a new client call: the calling handler's own (so the answer resumes it
  /// on the same thread), else the next in turn.
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
final class Completion: @unchecked Sendable {
  let onComplete: (_ success: Bool) -> Void
  init(_ onComplete: @escaping (_ success: Bool) -> Void) { self.onComplete = onComplete }
}

/// A completion queue with one dedicated thread in `grpc_completion_queue_next`, which is
/// also a Swift `TaskExecutor`: work started with this queue as its executor preference
/// (the server's handler tasks, and the child tasks GRPCCore starts in them) runs on the
/// poller thread, between completions. A call then goes from core's event to the handler
/// and back to core without waking another thread. Jobs enqueued from other threads wake
/// the poller through a connectivity watch, with a deadline in the past, on a channel that
/// never dials (core's C API has no alarm).
final class CompletionQueue: TaskExecutor, @unchecked Sendable {
  let raw: OpaquePointer
  private let waker: OpaquePointer
  private let lock = NSLock()
  private var jobs: [UnownedJob] = []
  private var sleeping = false
  private var wakePending = false
  private static var wakeTag: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 1)! }

  init(name: String) {
    CoreRuntime.start()
    let credentials = cgrpc_insecure_channel_credentials()
    defer { grpc_channel_credentials_release(credentials) }
    // A client channel that is never used for a call (watching does not dial).
    guard let raw = grpc_completion_queue_create_for_next(nil),
      let waker = grpc_channel_create("unix:/nonexistent/apiary-completion-queue-waker", credentials, nil)
    else {
      preconditionFailure("gRPC core could not create a completion queue")
    }
    self.raw = raw
    self.waker = waker
    let thread = Thread { [self] in self.poll() }
    thread.name = name
    thread.stackSize = 1 << 20
    thread.start()
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    lock.lock()
    jobs.append(job)
    let wake = sleeping && !wakePending
    if wake { wakePending = true }
    lock.unlock()
    if wake {
      grpc_channel_watch_connectivity_state(waker, GRPC_CHANNEL_SHUTDOWN, cgrpc_infinite_past(), raw, Self.wakeTag)
    }
  }

  private func poll() {
    let executor = asUnownedTaskExecutor()
    while true {
      // Jobs first; then wait for core, without a timeout only when no job is queued.
      lock.lock()
      let batch = jobs
      jobs.removeAll(keepingCapacity: true)
      let idle = batch.isEmpty
      sleeping = idle
      lock.unlock()
      for job in batch { job.runSynchronously(on: executor) }
      let event = grpc_completion_queue_next(raw, idle ? cgrpc_infinite_future() : cgrpc_infinite_past(), nil)
      lock.lock()
      sleeping = false
      lock.unlock()
      switch event.type {
      case GRPC_OP_COMPLETE:
        guard let tag = event.tag else { continue }
        if tag == Self.wakeTag {
          lock.lock()
          wakePending = false
          lock.unlock()
          continue
        }
        Unmanaged<Completion>.fromOpaque(tag).takeRetainedValue().onComplete(event.success != 0)
      case GRPC_QUEUE_SHUTDOWN:
        grpc_completion_queue_destroy(raw)
        return
      default:
        continue
      }
    }
  }

  /// Hands the queue's end to its poller, which destroys it once drained.
  func shutdown() { grpc_completion_queue_shutdown(raw) }

  /// A tag for `completion`; core owns the reference until the event arrives.
  static func tag(_ completion: Completion) -> UnsafeMutableRawPointer {
    Unmanaged.passRetained(completion).toOpaque()
  }

  /// Takes back a tag core refused (its batch never started).
  static func dropTag(_ tag: UnsafeMutableRawPointer) {
    Unmanaged<Completion>.fromOpaque(tag).release()
  }
}

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

  func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }
}

/// The poller executor a core server's handler runs on, for code that starts unstructured
/// tasks on its behalf (which do not inherit an executor preference, but do inherit task
/// locals): `Task(executorPreference: CoreTaskExecutor.current) { ... }` keeps them on the
/// same thread. Nil outside such handlers.
public enum CoreTaskExecutor {
  @TaskLocal public static var current: (any TaskExecutor)?
}
