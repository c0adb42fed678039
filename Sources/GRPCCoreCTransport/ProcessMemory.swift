import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Hands memory the process freed back to the system.
///
/// glibc keeps freed blocks in its arenas for reuse, so a burst (thousands of
/// connections, or one oversized message read in thousands of small buffers) raises
/// the resident size for good unless something returns them. `malloc_trim` does, in
/// milliseconds; it is called after such bursts, never per call.
package enum ProcessMemory {
  /// Returns free memory of every arena to the system (glibc's `malloc_trim(0)`);
  /// nothing where the C library has no such call (musl).
  package static func returnFreed() {
    _ = mallocTrim?(0)
  }

  /// Returns free memory once a second has passed without another such request:
  /// after a burst of connections closed, the libraries that held them free their
  /// buffers a little after each close is seen, so the trim waits for the burst to end.
  package static func returnFreedSoon() {
    requests.add(1, ordering: .relaxed)
    guard !scheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
    Task.detached(priority: .background) {
      var seen = requests.load(ordering: .relaxed)
      while true {
        try? await Task.sleep(for: .seconds(1))
        let now = requests.load(ordering: .relaxed)
        if now == seen { break }
        seen = now
      }
      scheduled.store(false, ordering: .releasing)
      returnFreed()
    }
  }

  private static let scheduled = Atomic<Bool>(false)
  private static let requests = Atomic<Int>(0)

  /// glibc's `malloc_trim`, looked up at run time: Swift's Glibc module does not
  /// export `malloc.h`, and other C libraries lack it.
  private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
    #if canImport(Glibc)
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    #else
    return nil
    #endif
  }()
}
