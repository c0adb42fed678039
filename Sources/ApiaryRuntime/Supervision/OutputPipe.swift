import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One output stream of a supervised process: a pipe whose write end becomes the
/// child's stdout or stderr and whose read end is read by a thread of its own.
///
/// Not `Pipe` with a `readabilityHandler`: that runs on a libdispatch read source, and
/// on Linux read sources set up and torn down while others come and go can corrupt
/// libdispatch's epoll bookkeeping (swift-corelibs-libdispatch issue 949, open); CI's
/// test process died of it with SIGSEGV in `_dispatch_event_loop_drain`. Here a plain
/// thread blocks in read(2), and only it closes the read end, after the stream's end.
///
/// Both ends are close-on-exec: no other child inherits this pipe (the spawn's dup2
/// onto 1 or 2 clears the flag for the child the pipe is meant for).
final class OutputPipe: Sendable {
  /// The end the child writes; the supervisor closes its own copy once the child runs.
  let writeEnd: Int32
  private let readEnd: Int32

  init() throws {
    var ends: [Int32] = [-1, -1]
    // pipe2 is not in Swift's Glibc module, hence pipe and then the flag.
    guard pipe(&ends) == 0 else {
      throw SupervisionError("cannot create an output pipe: \(String(cString: strerror(errno)))")
    }
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    readEnd = ends[0]
    writeEnd = ends[1]
  }

  /// Reads until every writer has closed the pipe (the child and any child of its own
  /// that kept it), handing the bytes to `forwarder`, then closes the read end and
  /// finishes the forwarder.
  func startReading(into forwarder: LineForwarder, name: String) {
    let readEnd = self.readEnd
    let thread = Thread {
      defer {
        close(readEnd)
        forwarder.finish()
      }
      var buffer = [UInt8](repeating: 0, count: 64 * 1024)
      while true {
        let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
        if count > 0 {
          forwarder.feed(buffer[..<count])
        } else if count < 0 && errno == EINTR {
          continue
        } else {
          return  // 0: the end; < 0: the pipe is unusable, which ends it too
        }
      }
    }
    thread.name = name
    thread.start()
  }

  /// Closes both ends of a pipe whose child never started.
  func discard() {
    close(readEnd)
    close(writeEnd)
  }

  /// Closes the supervisor's copy of the write end, once the child has its own.
  func closeWriteEnd() {
    close(writeEnd)
  }
}
