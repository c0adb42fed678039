import ApiaryShared
import ApiaryTestSupport
import ComponentKit
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("socket path preparation")
struct SocketPathTests {
  @Test("a missing folder is created with mode 0700, parents included")
  func createsFolder() throws {
    let root = try TemporaryFolder()
    defer { root.remove() }
    let path = root.file("a/b/store.sock")
    try prepareSocketPath(path)
    for folder in [root.file("a"), root.file("a/b")] {
      var info = stat()
      #expect(stat(folder, &info) == 0)
      #expect(
        info.st_mode & 0o777 == 0o700,
        "\(folder) has mode \(String(info.st_mode & 0o777, radix: 8))")
    }
    #expect(FileKind.of(path) == .missing)
  }

  @Test("a stale socket file is removed")
  func removesStaleSocket() throws {
    let root = try TemporaryFolder()
    defer { root.remove() }
    let path = root.file("stale.sock")
    try makeStaleSocket(at: path)
    #expect(FileKind.of(path) == .socket)
    try prepareSocketPath(path)
    #expect(FileKind.of(path) == .missing)
  }

  @Test("a regular file at the path is refused and left untouched")
  func refusesRegularFile() throws {
    let root = try TemporaryFolder()
    defer { root.remove() }
    let path = root.file("data.sock")
    try "precious".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: SocketPathError.self) { try prepareSocketPath(path) }
    do {
      try prepareSocketPath(path)
    } catch {
      #expect(
        error.description
          == "\(path) exists and is a regular file, not a socket; refusing to replace it")
    }
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
  }

  @Test("a path longer than a Unix socket address holds is refused")
  func refusesLongPath() throws {
    let path = "/tmp/" + String(repeating: "x", count: 120) + ".sock"
    do {
      try prepareSocketPath(path)
      Issue.record("a \(path.utf8.count)-byte path was accepted")
    } catch {
      #expect(error.description.contains("Unix sockets allow at most 107"))
    }
  }

  @Test("the sockets folder follows --sockets-dir, then the two variables, then Dapr's default")
  func socketsFolderResolution() {
    #expect(
      SocketsFolder.resolve(explicit: "/x", environment: ["APIARY_SOCKETS_DIR": "/y"]) == "/x")
    #expect(
      SocketsFolder.resolve(environment: [
        "APIARY_SOCKETS_DIR": "/y", "DAPR_COMPONENTS_SOCKETS_FOLDER": "/z",
      ]) == "/y")
    #expect(SocketsFolder.resolve(environment: ["DAPR_COMPONENTS_SOCKETS_FOLDER": "/z"]) == "/z")
    #expect(
      SocketsFolder.resolve(environment: ["APIARY_SOCKETS_DIR": ""])
        == "/tmp/dapr-components-sockets")
    #expect(SocketsFolder.socketPath(name: "redis", folder: "/s/") == "/s/redis.sock")
  }
}
