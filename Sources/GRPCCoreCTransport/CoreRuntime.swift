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

  /// The one completion queue every client call in the process uses, with its poller.
  static let clientQueue: CompletionQueue = {
    start()
    return CompletionQueue(name: "grpc-core-client")
  }()

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

/// A completion queue with one dedicated thread in `grpc_completion_queue_next`. Core
/// drives connection I/O from the threads that poll, so this thread only runs the
/// completions and never waits on Swift code.
// @unchecked Sendable: immutable after init; core's queue functions are thread-safe.
final class CompletionQueue: @unchecked Sendable {
  let raw: OpaquePointer

  init(name: String) {
    CoreRuntime.start()
    guard let raw = grpc_completion_queue_create_for_next(nil) else {
      preconditionFailure("grpc_completion_queue_create_for_next returned NULL")
    }
    self.raw = raw
    let queue = UncheckedPointer(raw)
    let thread = Thread { CompletionQueue.poll(queue.pointer) }
    thread.name = name
    thread.stackSize = 256 << 10
    thread.start()
  }

  private static func poll(_ raw: OpaquePointer) {
    while true {
      let event = grpc_completion_queue_next(raw, cgrpc_infinite_future(), nil)
      switch event.type {
      case GRPC_OP_COMPLETE:
        guard let tag = event.tag else { continue }
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
