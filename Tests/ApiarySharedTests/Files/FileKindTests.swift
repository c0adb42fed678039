import ApiaryShared
import ApiaryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `FileKind.of` on each kind of file a sockets folder can hold; a final symbolic link
/// is reported as a link, not followed.
@Suite("file kinds")
struct FileKindTests {
  @Test("missing, socket, directory, regular file, symbolic link and FIFO are told apart")
  func kinds() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }

    #expect(FileKind.of(folder.file("nothing")) == .missing)
    #expect(FileKind.of(folder.path) == .directory)

    let socket = folder.file("store.sock")
    try makeStaleSocket(at: socket)
    #expect(FileKind.of(socket) == .socket)

    let regular = folder.file("notes.txt")
    try "text".write(toFile: regular, atomically: false, encoding: .utf8)
    #expect(FileKind.of(regular) == .other("a regular file"))

    let link = folder.file("link.sock")
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: socket)
    #expect(FileKind.of(link) == .other("a symbolic link"))

    let fifo = folder.file("pipe")
    try #require(mkfifo(fifo, 0o600) == 0)
    #expect(FileKind.of(fifo) == .other("a FIFO"))
  }

  @Test("a dangling symbolic link is a link, not missing")
  func danglingLink() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let link = folder.file("gone.sock")
    try FileManager.default.createSymbolicLink(
      atPath: link, withDestinationPath: folder.file("never-there.sock"))
    #expect(FileKind.of(link) == .other("a symbolic link"))
  }
}
