import ApiaryTestSupport
import Foundation
import Testing

@testable import ApiaryRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Who may place component sockets, and whose sockets apiary uses.
@Suite("socket trust")
struct SocketTrustTests {
  @Test("a missing sockets folder is created 0700; a private one passes")
  func createdPrivate() throws {
    let parent = try TemporaryFolder()
    defer { parent.remove() }
    let folder = parent.file("a/b/sockets")
    #expect(SocketsFolderTrust.prepare(folder) == nil)
    var info = stat()
    #expect(stat(folder, &info) == 0)
    #expect(info.st_mode & 0o777 == 0o700, "mode \(String(info.st_mode & 0o777, radix: 8))")
    #expect(SocketsFolderTrust.prepare(folder) == nil)
  }

  @Test("group- or world-writable, or owned by someone else: refused with the folder and the fix")
  func refused() throws {
    let me = geteuid()
    let directory = S_IFDIR
    #expect(
      SocketsFolderTrust.problem(path: "/s", mode: directory | 0o700, owner: me, me: me) == nil)
    #expect(
      SocketsFolderTrust.problem(path: "/s", mode: directory | 0o755, owner: me, me: me) == nil)
    #expect(
      SocketsFolderTrust.problem(path: "/s", mode: directory | 0o777, owner: me, me: me)
        == "sockets folder /s has mode 777: group- or world-writable, so another user could place sockets there (chmod 700 /s)"
    )
    #expect(
      SocketsFolderTrust.problem(path: "/s", mode: directory | 0o770, owner: me, me: me)?.contains(
        "mode 770") == true)
    #expect(
      SocketsFolderTrust.problem(path: "/s", mode: directory | 0o1777, owner: me, me: me)?.contains(
        "mode 1777") == true)
    #expect(
      SocketsFolderTrust.problem(path: "/s", mode: directory | 0o700, owner: me &+ 1, me: me)
        == "sockets folder /s is owned by uid \(me &+ 1), not by apiary's uid \(me): another user could place sockets there"
    )
    #expect(
      SocketsFolderTrust.problem(path: "/s", mode: S_IFREG | 0o600, owner: me, me: me)
        == "sockets folder /s is not a folder")
  }

  @Test(
    "a socket whose listener runs as a user not allowed is skipped with the reason; an allowed one is used"
  )
  func peerCredentials() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let me = UInt32(geteuid())
    let stranger = me &+ 4242
    try await withStateStores(in: folder, named: ["store.sock"]) {
      let refused = try await Discovery(socketsDir: folder.path, allowedPeerUIDs: [stranger]).scan()
      #expect(refused.components.isEmpty)
      #expect(
        refused.skipped == [
          SkippedSocket(
            socket: folder.file("store.sock"),
            reason:
              "refused: the process listening on it runs as uid \(me), not an allowed component uid (\(stranger); see --allowed-component-uids)"
          )
        ])
      let allowed = try await Discovery(socketsDir: folder.path, allowedPeerUIDs: [me]).scan()
      #expect(allowed.components.map(\.socket) == [folder.file("store.sock")])
    }
  }

  @Test("apiary run refuses a world-writable sockets folder unless --allow-insecure-sockets-dir")
  func runRefusesInsecureFolder() async throws {
    let resources = try TemporaryFolder()
    let sockets = try TemporaryFolder()
    defer {
      resources.remove()
      sockets.remove()
    }
    #expect(chmod(sockets.path, 0o777) == 0)
    let arguments = [
      "run", "--resources-path", resources.path, "--sockets-dir", sockets.path, "--grpc-port", "0",
      "--http-port", "0",
    ]
    let refused = try await ChildProcess.run(
      try Locations.product("apiary"), arguments, timeout: .seconds(30))
    #expect(refused.status == 1)
    #expect(
      refused.stderr.contains(
        "error: sockets folder \(sockets.path) has mode 777: group- or world-writable, so another user could place sockets there (chmod 700 \(sockets.path)). Pass --allow-insecure-sockets-dir to run anyway."
      ), "\(refused.stderr)")

    let allowed = try ChildProcess(
      try Locations.product("apiary"), arguments + ["--allow-insecure-sockets-dir"])
    let started = await poll(timeout: .seconds(30)) {
      allowed.standardOutput.contains("pubsub") || !allowed.isRunning
    }
    #expect(started && allowed.isRunning, "stderr: \(allowed.standardError)")
    #expect(
      allowed.standardError.contains("running anyway because of --allow-insecure-sockets-dir"),
      "\(allowed.standardError)")
    allowed.signal(SIGTERM)
    #expect(await allowed.waitForExit(timeout: .seconds(10)) == 0)
    await allowed.stop()
  }

  @Test("--allowed-component-uids must be uids or any")
  func badUIDs() async throws {
    let result = try await ChildProcess.run(
      try Locations.product("apiary"), ["run", "--allowed-component-uids", "root"],
      timeout: .seconds(30))
    #expect(result.status != 0)
    #expect(
      result.stderr.contains("--allowed-component-uids 'root': 'root' is not a uid"),
      "\(result.stderr)")
  }
}
