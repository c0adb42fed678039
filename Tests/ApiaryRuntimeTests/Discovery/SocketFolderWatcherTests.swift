import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Logging
import Testing

@Suite("the sockets folder watcher")
struct SocketFolderWatcherTests {
  @Test(
    "the listing reports sockets created, removed, and re-created at the same path; other files are ignored"
  )
  func listing() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var listing = SocketFolderListing(folder: folder.path)
    #expect(listing.update().isEmpty)
    try makeStaleSocket(at: folder.file("a.sock"))
    try "not a socket".write(toFile: folder.file("notes.txt"), atomically: true, encoding: .utf8)
    #expect(listing.update() == SocketFolderChange(created: [folder.file("a.sock")], removed: []))
    #expect(listing.update().isEmpty)
    // A restarted component unlinks and binds again: a new inode at the same path.
    try makeStaleSocket(at: folder.file("b.sock"))
    try FileManager.default.removeItem(atPath: folder.file("a.sock"))
    try makeStaleSocket(at: folder.file("a.sock"))
    try FileManager.default.removeItem(atPath: folder.file("b.sock"))
    // b.sock appeared and vanished between two looks: nothing to report for it.
    #expect(listing.update() == SocketFolderChange(created: [folder.file("a.sock")], removed: []))
    try FileManager.default.removeItem(atPath: folder.file("a.sock"))
    #expect(listing.update() == SocketFolderChange(created: [], removed: [folder.file("a.sock")]))
  }

  @Test("a missing folder has no sockets; when it appears its sockets are reported")
  func missingFolder() throws {
    let parent = try TemporaryFolder()
    defer { parent.remove() }
    let path = parent.file("later")
    var listing = SocketFolderListing(folder: path)
    #expect(listing.update().isEmpty)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    try makeStaleSocket(at: path + "/x.sock")
    #expect(listing.update().created == [path + "/x.sock"])
  }

  @Test(
    "inotify wakes the watcher long before its interval; polling wakes it every interval",
    arguments: [SocketFolderWatcher.Mode.automatic, .polling])
  func wakes(mode: SocketFolderWatcher.Mode) async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    // With inotify the interval is far longer than the test may take, so only an
    // event can explain a wake-up that sees the new socket.
    let interval: Duration = mode == .automatic ? .seconds(600) : .milliseconds(100)
    let watcher = SocketFolderWatcher(
      folder: folder.path, interval: interval, mode: mode, logger: Logger(label: "test"))
    let path = folder.path
    let found = try await withThrowingTaskGroup(of: Bool.self) { group in
      group.addTask {
        var listing = SocketFolderListing(folder: path)
        _ = listing.update()
        for await _ in watcher.wakeups() where !listing.update().created.isEmpty { return true }
        return false
      }
      group.addTask {
        try await Task.sleep(for: .milliseconds(500))
        try makeStaleSocket(at: folder.file("new.sock"))
        try await Task.sleep(for: .seconds(60))
        return false
      }
      defer { group.cancelAll() }
      return try await group.next() ?? false
    }
    #expect(found, "the watcher (\(mode)) never reported the new socket")
  }
}
