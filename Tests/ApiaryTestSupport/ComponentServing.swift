import ApiaryShared
import ComponentKit
import Logging
import ServiceLifecycle

/// Runs a ComponentServer serving `components` on a socket in a fresh folder for the
/// duration of `body`, which gets the socket's path; then stops it.
///
/// - Throws: What `body` throws, or ``TestSupportError`` when the server left its
///   socket behind.
public func withComponentServer(
  components: [ComponentRegistration],
  logStore: ComponentLogStore = ComponentLogStore(),
  _ body: (String) async throws -> Void
) async throws {
  let folder = try TemporaryFolder()
  defer { folder.remove() }
  let socket = folder.file("sockets/test.sock")
  let server = try ComponentServer(socketPath: socket, components: components, logStore: logStore)
  let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
  try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    try await waitForSocket(socket)
    try await withCleanup {
      try await body(socket)
    } cleanup: {
      await group.triggerGracefulShutdown()
    }
    try await tasks.waitForAll()
  }
  if FileKind.of(socket) != .missing {
    throw TestSupportError("the server left its socket \(socket) behind")
  }
}
