import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What changed in the sockets folder since the last look.
public struct SocketFolderChange: Sendable, Equatable {
  /// Sockets that appeared, or were replaced by a new socket file at the same path (a
  /// component process that restarted and bound again).
  public var created: [String] = []
  /// Sockets that are gone.
  public var removed: [String] = []

  public init(created: [String] = [], removed: [String] = []) {
    self.created = created
    self.removed = removed
  }

  public var isEmpty: Bool { created.isEmpty && removed.isEmpty }
}

/// The sockets of a folder as last seen, by path, with their identity (inode number
/// and change time, since a file system may reuse the inode at once): a socket
/// re-created at the same path counts as created even when the old file and the new
/// one were never seen apart.
public struct SocketFolderListing: Sendable {
  public let folder: String
  private var sockets: [String: FileIdentity] = [:]

  struct FileIdentity: Equatable, Sendable {
    var inode: UInt64
    var changedSeconds: Int
    var changedNanoseconds: Int
  }

  public init(folder: String) {
    self.folder = folder
  }

  /// Looks at the folder again and returns what changed since the last look. A
  /// missing or unreadable folder has no sockets.
  public mutating func update() -> SocketFolderChange {
    let now = Self.sockets(in: folder)
    var change = SocketFolderChange()
    for (path, identity) in now.sorted(by: { $0.key < $1.key }) where sockets[path] != identity {
      change.created.append(path)
    }
    for path in sockets.keys.sorted() where now[path] == nil {
      change.removed.append(path)
    }
    sockets = now
    return change
  }

  static func sockets(in folder: String) -> [String: FileIdentity] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
      return [:]
    }
    var found: [String: FileIdentity] = [:]
    for name in names {
      let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
      var info = stat()
      guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { continue }
      found[path] = FileIdentity(
        inode: UInt64(info.st_ino), changedSeconds: Int(info.st_ctim.tv_sec),
        changedNanoseconds: Int(info.st_ctim.tv_nsec))
    }
    return found
  }
}

/// Wakes its consumer when the sockets folder may have changed: at once (after a
/// 50 ms pause that lets a component finish bind and listen) on an inotify event, and
/// every `interval` in any case, so a missed event, or a folder created or re-created
/// later, costs at most one interval. Where inotify is unavailable (or with
/// ``Mode/polling``) it only wakes every `interval`.
///
/// Wake-ups coalesce: the consumer compares a ``SocketFolderListing`` at each one, so
/// a burst of events is one look and nothing is lost by merging them.
///
/// inotify is reached through Glibc directly: no listed library watches files on Linux.
public final class SocketFolderWatcher: Sendable {
  public enum Mode: String, Sendable {
    /// inotify where available, else polling.
    case automatic
    /// Polling only.
    case polling
  }

  public let folder: String
  public let interval: Duration
  public let mode: Mode
  private let logger: Logger

  public init(folder: String, interval: Duration, mode: Mode = .automatic, logger: Logger) {
    self.folder = folder
    self.interval = interval
    self.mode = mode
    self.logger = logger
  }

  /// A stream of wake-ups; the watching thread stops when the stream's consumer goes
  /// away (the iteration ends or its task is cancelled).
  public func wakeups() -> AsyncStream<Void> {
    let (stream, continuation) = AsyncStream.makeStream(
      of: Void.self, bufferingPolicy: .bufferingNewest(1))
    let box = StopFlag()
    continuation.onTermination = { _ in box.stop() }
    let folder = self.folder
    let intervalMilliseconds = max(
      10,
      Int(
        interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
      ))
    let mode = self.mode
    let logger = self.logger
    let thread = Thread {
      Self.watch(
        folder: folder, intervalMilliseconds: intervalMilliseconds, mode: mode, logger: logger,
        stop: box,
        wake: { continuation.yield() })
      continuation.finish()
    }
    thread.name = "apiary-socket-watcher"
    thread.start()
    return stream
  }

  /// The thread's loop.
  private static func watch(
    folder: String, intervalMilliseconds: Int, mode: Mode, logger: Logger, stop: StopFlag,
    wake: () -> Void
  ) {
    #if canImport(Glibc)
    var inotify: Int32 = -1
    if mode == .automatic {
      inotify = inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))
      if inotify < 0 {
        logger.notice(
          "inotify is unavailable (\(String(cString: strerror(errno)))): polling the sockets folder every \(intervalMilliseconds) ms"
        )
      }
    }
    defer { if inotify >= 0 { close(inotify) } }
    var watch: Int32 = -1
    var watchedInode: UInt64 = 0
    var announced = false
    while !stop.isStopped {
      if inotify >= 0 {
        let current = folderInode(folder)
        if watch >= 0, current != watchedInode {
          // The folder was removed or replaced: watch the new one when it exists.
          inotify_rm_watch(inotify, watch)
          watch = -1
        }
        if watch < 0, let current {
          let mask =
            UInt32(IN_CREATE) | UInt32(IN_DELETE) | UInt32(IN_MOVED_FROM) | UInt32(IN_MOVED_TO)
            | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_ATTRIB)
          watch = inotify_add_watch(inotify, folder, mask)
          if watch >= 0 {
            watchedInode = current
            if !announced {
              logger.debug(
                "watching the sockets folder with inotify", metadata: ["folder": "\(folder)"])
              announced = true
            }
            wake()  // the folder (re)appeared: look at it now
          }
        }
        if watch >= 0 {
          var descriptor = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
          let ready = poll(&descriptor, 1, Int32(intervalMilliseconds))
          if ready > 0 {
            usleep(50_000)  // let the component finish bind() and listen()
            drain(inotify)
          }
          wake()
          continue
        }
      }
      usleep(UInt32(intervalMilliseconds) * 1000)
      wake()
    }
    #else
    while !stop.isStopped {
      Thread.sleep(forTimeInterval: Double(intervalMilliseconds) / 1000)
      wake()
    }
    #endif
  }

  #if canImport(Glibc)
  private static func folderInode(_ folder: String) -> UInt64? {
    var info = stat()
    guard stat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return nil }
    return UInt64(info.st_ino)
  }

  /// Reads every pending event; their content does not matter, the listing does.
  private static func drain(_ inotify: Int32) {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
      if count <= 0 { return }
    }
  }
  #endif
}

/// Set once, read by the watching thread.
private final class StopFlag: Sendable {
  private let flag = Atomic<Bool>(false)
  func stop() { flag.store(true, ordering: .releasing) }
  var isStopped: Bool { flag.load(ordering: .acquiring) }
}
