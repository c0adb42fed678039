import ApiaryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What `apiary run`, `check` and `discover` say at start-up: mistakes in files and
/// flags are found before any port opens, each with one line naming the file, the
/// field or the flag.
@Suite("Start-up end to end", .serialized)
struct StartupEndToEndTests {
  static let typo = """
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: cache
    spec:
      type: state.in-memroy
    """

  @Test(
    "a typo of a built-in type: check exits 1 and run stops before any port opens, both suggesting the type"
  )
  func typoOfBuiltIn() async throws {
    let folders = try RunFolders(yaml: Self.typo)
    defer { folders.remove() }
    let apiary = try Locations.product("apiary")
    let check = try await ChildProcess.run(
      apiary,
      ["check", "--resources-path", folders.resources.path, "--sockets-dir", folders.sockets.path])
    #expect(check.status == 1)
    #expect(
      check.stderr.contains(
        "error: \(folders.resources.file("components.yaml")), document 1: spec.type: no built-in has type 'state.in-memroy' and no socket serves it; did you mean 'state.in-memory'?"
      ), "\(check.stderr)")

    let http = try freeTCPPort()
    let started = ContinuousClock.now
    let run = try await ChildProcess.run(
      apiary, folders.run(["--http-port", "\(http)", "--grpc-port", "\(try freeTCPPort())"]),
      timeout: .seconds(20))
    #expect(run.status == 1)
    #expect(ContinuousClock.now - started < .seconds(10))
    let lines = run.stderr.split(separator: "\n")
    #expect(
      lines.first?.hasPrefix("error: ") == true
        && lines.first?.contains("did you mean 'state.in-memory'?") == true, "\(run.stderr)")
    #expect(!run.stderr.contains("listening"), "a port opened: \(run.stderr)")
  }

  @Test(
    "a type a socket may still bring waits (check says so, exit 0); a block Apiary does not serve is left out"
  )
  func waitingType() async throws {
    let folders = try RunFolders(
      yaml: """
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: orders
        spec:
          type: state.redis-cluster
        ---
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: locks
        spec:
          type: lock.redis
        """)
    defer { folders.remove() }
    let check = try await ChildProcess.run(
      try Locations.product("apiary"),
      ["check", "--resources-path", folders.resources.path, "--sockets-dir", folders.sockets.path])
    #expect(check.status == 0, "\(check.stderr)")
    #expect(
      check.stdout.contains("it waits for redis-cluster.sock in the sockets folder"),
      "\(check.stdout)")
    #expect(check.stdout.contains("component 'locks' (lock.redis) is left out"), "\(check.stdout)")
    #expect(check.stdout.contains("ok: 1 components"), "\(check.stdout)")
  }

  @Test("a bad component file stops run first, with one error line and no server noise")
  func badFileFirst() async throws {
    let folders = try RunFolders(
      yaml:
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\nspec:\n  version: v1\n"
    )
    defer { folders.remove() }
    let run = try await ChildProcess.run(
      try Locations.product("apiary"),
      folders.run(["--http-port", "\(try freeTCPPort())", "--grpc-port", "0"]),
      timeout: .seconds(20))
    #expect(run.status == 1)
    #expect(
      run.stderr.hasPrefix(
        "error: \(folders.resources.file("components.yaml")), document 1: spec.type is missing"),
      "\(run.stderr)")
    #expect(
      !run.stderr.contains("CancellationError") && !run.stderr.contains("Already closed"),
      "\(run.stderr)")
  }

  @Test("a port in use is named with its flag, for the HTTP and the gRPC port")
  func portInUse() async throws {
    let folders = try RunFolders()
    defer { folders.remove() }
    let taken = openListener()
    defer { close(taken.fd) }
    for flag in ["--http-port", "--grpc-port"] {
      let other = flag == "--http-port" ? "--grpc-port" : "--http-port"
      let run = try await ChildProcess.run(
        try Locations.product("apiary"),
        folders.run([flag, "\(taken.port)", other, "\(try freeTCPPort())"]),
        timeout: .seconds(20))
      #expect(run.status == 1)
      let errors = run.stderr.split(separator: "\n").filter { $0.contains("error") }
      #expect(
        errors == [
          "error: cannot listen on 127.0.0.1:\(taken.port) (\(flag)): Address already in use; choose another port with \(flag)"
        ], "\(run.stderr)")
    }
  }

  @Test(
    "a socket skipped for its listener's uid is warned about once, not at every rescan; discover skips it too"
  )
  func uidSkipOnce() async throws {
    let folders = try RunFolders(
      yaml:
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: later\nspec:\n  type: state.later\n"
    )
    defer { folders.remove() }
    let socket = folders.sockets.file("memstore.sock")
    let memstore = try await startServing(
      try Locations.product("memstore"), ["--socket", socket], socket: socket)
    let stranger = "\(UInt32(geteuid()) &+ 4242)"
    let discover = try await ChildProcess.run(
      try Locations.product("apiary"),
      [
        "discover", "--sockets-dir", folders.sockets.path, "--json", "--allowed-component-uids",
        stranger,
      ])
    #expect(
      discover.stdout.contains(#""components":[]"#)
        && discover.stdout.contains("not an allowed component uid"), "\(discover.stdout)")
    let defaultUID = try await ChildProcess.run(
      try Locations.product("apiary"),
      ["discover", "--sockets-dir", folders.sockets.path, "--json"])
    #expect(defaultUID.stdout.contains(#""name":"memstore""#), "\(defaultUID.stdout)")

    let apiary = try ChildProcess(
      try Locations.product("apiary"),
      folders.run([
        "--http-port", "0", "--grpc-port", "0", "--allowed-component-uids", stranger,
        "--rescan-interval", "100ms",
        "--log-level", "debug", "--component-wait", "60s",
      ]))
    // A PENDING component keeps the folder rescanned: several scans, one warning.
    let rescanned = await poll(timeout: .seconds(30)) {
      apiary.standardError.components(separatedBy: "not an allowed component uid").count > 4
        || !apiary.isRunning
    }
    #expect(rescanned && apiary.isRunning, "\(apiary.standardError.suffix(2000))")
    let warnings = apiary.standardError.split(separator: "\n").filter {
      $0.contains("warning") && $0.contains("not an allowed component uid")
    }
    #expect(warnings.count == 1, "\(warnings)")
    await apiary.stop()
    await memstore.stop()
  }

  @Test(
    "a resources folder entry that is a looping or dangling link is reported with the file and the reason; check -v lists it"
  )
  func brokenLinks() async throws {
    let folders = try RunFolders(
      yaml:
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: s\nspec:\n  type: state.in-memory\n"
    )
    defer { folders.remove() }
    let loop = folders.resources.file("loop.yaml")
    #expect(symlink(folders.resources.file("loop2.yaml"), loop) == 0)
    #expect(symlink(loop, folders.resources.file("loop2.yaml")) == 0)
    #expect(
      symlink(folders.resources.file("gone.yaml"), folders.resources.file("dangling.yaml")) == 0)
    let check = try await ChildProcess.run(
      try Locations.product("apiary"), ["check", "-v", "--resources-path", folders.resources.path])
    #expect(check.status == 0, "\(check.stderr)")
    #expect(
      check.stdout.contains(
        "skipped \(loop): a symbolic link to \(folders.resources.file("loop2.yaml")) that loops"),
      "\(check.stdout)")
    #expect(
      check.stdout.contains(
        "skipped \(folders.resources.file("dangling.yaml")): a symbolic link to"), "\(check.stdout)"
    )
    let quiet = try await ChildProcess.run(
      try Locations.product("apiary"), ["check", "--resources-path", folders.resources.path])
    #expect(quiet.stderr.contains("skipping \(loop)"), "\(quiet.stderr)")
  }

  @Test(
    "a sockets folder that is a dangling link: the error names the link's target and how to create it"
  )
  func danglingSocketsFolder() async throws {
    let parent = try TemporaryFolder()
    defer { parent.remove() }
    let link = parent.file("sockets")
    #expect(symlink(parent.file("real-sockets"), link) == 0)
    let run = try await ChildProcess.run(
      try Locations.product("apiary"),
      ["run", "--sockets-dir", link, "--http-port", "0", "--grpc-port", "0"],
      timeout: .seconds(20))
    #expect(run.status == 1)
    #expect(
      run.stderr.contains(
        "sockets folder \(link) is a symbolic link to \(parent.file("real-sockets")), which does not exist; create it (mkdir -m 700 \(parent.file("real-sockets")))"
      ), "\(run.stderr)")
  }

  /// A listening TCP socket on a kernel-chosen port of 127.0.0.1.
  func openListener() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    listen(fd, 1)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
  }
}
