import ApiaryTestSupport
import Foundation
import Testing

/// `apiary discover --json` against real sockets in temporary folders: each case
/// asserts the exact JSON printed.
@Suite("apiary discover")
struct DiscoverCommandTests {
  /// Runs `apiary discover --json` on `folder` and returns stdout, checking it exits 0.
  private func discover(_ folder: String, timeout: String = "2s") async throws -> String {
    let result = try await ChildProcess.run(
      try Locations.product("apiary"),
      ["discover", "--sockets-dir", folder, "--json", "--timeout", timeout])
    #expect(result.status == 0, "stderr: \(result.stderr)")
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  @Test("a component server on its socket: the exact JSON", arguments: ServedSocket.all)
  func servedSocket(_ served: ServedSocket) async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let socket = folder.file(served.socketFile)
    let (executable, arguments) = try served.command(socket)
    let server = try await startServing(executable, arguments, socket: socket)
    defer { Task { await server.stop() } }

    let json = try await discover(folder.path)
    #expect(json == served.expected(folder.path, socket))
    await server.stop()
  }

  @Test("a stale socket file with no listener is skipped")
  func staleSocket() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let socket = folder.file("crashed.sock")
    try makeStaleSocket(at: socket)

    let json = try await discover(folder.path)
    #expect(
      json == """
        {"socketsDir":"\(folder.path)","components":[],"skipped":[{"socket":"\(socket)",\
        "reason":"no process is listening on it (a stale socket file left by a component that exited?)"}]}
        """)
  }

  @Test("a regular file is not a socket: not dialled, not reported")
  func regularFile() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try "not a socket".write(toFile: folder.file("notes.sock"), atomically: true, encoding: .utf8)

    let json = try await discover(folder.path)
    #expect(json == #"{"socketsDir":"\#(folder.path)","components":[],"skipped":[]}"#)
  }

  @Test("an empty folder")
  func emptyFolder() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let json = try await discover(folder.path)
    #expect(json == #"{"socketsDir":"\#(folder.path)","components":[],"skipped":[]}"#)
  }

  @Test("a missing folder exits 1 with a message and prints no JSON")
  func missingFolder() async throws {
    let folder = try TemporaryFolder()
    folder.remove()
    let result = try await ChildProcess.run(
      try Locations.product("apiary"), ["discover", "--sockets-dir", folder.path, "--json"])
    #expect(result.status == 1)
    #expect(result.stdout.isEmpty)
    #expect(
      result.stderr.contains(
        "error: sockets folder \(folder.path) does not exist (set --sockets-dir, APIARY_SOCKETS_DIR or DAPR_COMPONENTS_SOCKETS_FOLDER)"
      ), "stderr: \(result.stderr)")
  }

  @Test("APIARY_SOCKETS_DIR names the folder when --sockets-dir is absent")
  func environmentFolder() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let result = try await ChildProcess.run(
      try Locations.product("apiary"), ["discover", "--json"],
      environment: [
        "APIARY_SOCKETS_DIR": folder.path, "DAPR_COMPONENTS_SOCKETS_FOLDER": "/nonexistent",
      ])
    #expect(result.status == 0, "stderr: \(result.stderr)")
    #expect(result.stdout.contains(#""socketsDir":"\#(folder.path)""#))
  }

  @Test("50 sockets that accept but never answer are scanned concurrently")
  func silentSockets() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let server = try ChildProcess(
      Locations.python,
      [Locations.pythonFixture("silent_servers.py"), "--dir", folder.path, "--count", "50"])
    defer { Task { await server.stop() } }
    #expect(
      await poll(timeout: .seconds(30)) { server.standardOutput.contains("ready") },
      "\(server.standardError)")

    let clock = ContinuousClock()
    let started = clock.now
    let json = try await discover(folder.path, timeout: "2s")
    let elapsed = clock.now - started

    // Sequential probing would take 50 × 2 s; concurrently it is one timeout plus
    // process start-up. The bound is the issue's, generous for a noisy machine.
    #expect(elapsed < .seconds(10), "scan took \(elapsed)")
    // Which words a socket gets depends on what the transport saw first: the deadline
    // (NIO) or a connection still without its HTTP/2 handshake (gRPC core). Both are true
    // of a peer that accepts and never answers.
    let reasons = [
      "answered no reflection within 2 s; is it a gRPC server?",
      "accepted the connection but did not complete a gRPC (HTTP/2) handshake; is it a gRPC server?",
    ]
    var normalised = json
    for reason in reasons.dropFirst() {
      normalised = normalised.replacingOccurrences(of: reason, with: reasons[0])
    }
    let skipped = (0..<50).map { index in
      let socket = folder.file("silent-\(String(format: "%03d", index)).sock")
      return #"{"socket":"\#(socket)","reason":"\#(reasons[0])"}"#
    }
    #expect(
      normalised
        == #"{"socketsDir":"\#(folder.path)","components":[],"skipped":[\#(skipped.joined(separator: ","))]}"#,
      "\(json)")
    await server.stop()
  }
}

/// A component server `apiary discover` dials, and the exact JSON it prints for it.
struct ServedSocket: Sendable, CustomTestStringConvertible {
  let testDescription: String
  /// The socket's file name in the sockets folder.
  let socketFile: String
  /// The server's executable and arguments, given its socket's path.
  let command: @Sendable (_ socket: String) throws -> (String, [String])
  /// The JSON `apiary discover --json` prints, given the folder and the socket.
  let expected: @Sendable (_ folder: String, _ socket: String) -> String

  /// A Python fixture (Tests/Fixtures/python) serving on `--socket`, then `arguments`.
  static func python(
    _ description: String, socketFile: String, _ script: String, _ arguments: [String] = [],
    expected: @escaping @Sendable (String, String) -> String
  ) -> ServedSocket {
    ServedSocket(
      testDescription: description, socketFile: socketFile,
      command: { socket in
        (Locations.python, [Locations.pythonFixture(script), "--socket", socket] + arguments)
      },
      expected: expected)
  }

  static let all: [ServedSocket] = [
    ServedSocket(
      testDescription: "the memstore sample is state.memstore and hello.memstore",
      socketFile: "memstore.sock",
      command: { socket in (try Locations.product("memstore"), ["--socket", socket]) },
      expected: { folder, socket in
        """
        {"socketsDir":"\(folder)","components":[{"socket":"\(socket)","name":"memstore","reflection":"v1",\
        "services":["apiary.proto.components.v1.ComponentLogs","dapr.proto.components.v1.QueriableStateStore",\
        "dapr.proto.components.v1.StateStore",\
        "dapr.proto.components.v1.TransactionalStateStore","grpc.health.v1.Health",\
        "grpc.reflection.v1.ServerReflection","grpc.reflection.v1alpha.ServerReflection",\
        "spec.proto.pluggable.v1.hello.Hello"],"types":["state.memstore","hello.memstore"]}],"skipped":[]}
        """
      }),
    .python(
      "a server with only v1alpha reflection is found through v1alpha", socketFile: "Legacy.sock",
      "reflection_only_server.py", ["--reflection", "v1alpha"]
    ) { folder, socket in
      """
      {"socketsDir":"\(folder)","components":[{"socket":"\(socket)","name":"legacy","reflection":"v1alpha",\
      "services":["dapr.proto.components.v1.StateStore","grpc.reflection.v1alpha.ServerReflection"],\
      "types":["state.legacy"]}],"skipped":[]}
      """
    },
    .python(
      "a server with only v1 reflection is found through v1", socketFile: "vault.v2.sock",
      "reflection_only_server.py",
      ["--reflection", "v1", "--service", "dapr.proto.components.v1.SecretStore,example.Unknown"]
    ) { folder, socket in
      """
      {"socketsDir":"\(folder)","components":[{"socket":"\(socket)","name":"vault.v2","reflection":"v1",\
      "services":["dapr.proto.components.v1.SecretStore","example.Unknown","grpc.reflection.v1.ServerReflection"],\
      "types":["secretstores.vault.v2"]}],"skipped":[]}
      """
    },
    .python(
      "a Python grpcio component with grpcio-reflection exposing PubSub",
      socketFile: "py-pubsub.sock", "pubsub_component.py"
    ) { folder, socket in
      """
      {"socketsDir":"\(folder)","components":[{"socket":"\(socket)","name":"py-pubsub","reflection":"v1alpha",\
      "services":["dapr.proto.components.v1.PubSub","grpc.reflection.v1alpha.ServerReflection"],\
      "types":["pubsub.py-pubsub"]}],"skipped":[]}
      """
    },
    .python(
      "a plain echo server is skipped: it is not gRPC", socketFile: "echo.sock", "echo_server.py"
    ) { folder, socket in
      """
      {"socketsDir":"\(folder)","components":[],"skipped":[{"socket":"\(socket)",\
      "reason":"accepted the connection but did not complete a gRPC (HTTP/2) handshake; is it a gRPC server?"}]}
      """
    },
    .python(
      "a gRPC server without reflection is skipped with that reason", socketFile: "mute.sock",
      "reflection_only_server.py", ["--reflection", "none"]
    ) { folder, socket in
      """
      {"socketsDir":"\(folder)","components":[],"skipped":[{"socket":"\(socket)",\
      "reason":"speaks gRPC but serves no reflection (neither grpc.reflection.v1 nor v1alpha); Apiary cannot tell which components it offers"}]}
      """
    },
  ]
}
