import ServiceLifecycle

/// Runs a server until it ends by itself or graceful shutdown begins; then it gets
/// `grace` to finish its in-flight calls before it is cancelled.
///
/// `serve` must begin its own graceful shutdown (stop accepting, finish what is in
/// flight) when the service's graceful shutdown is triggered; this only bounds how
/// long that may take.
func serveDraining(
  grace: Duration, _ serve: @escaping @Sendable () async throws -> Void
) async throws {
  try await withThrowingTaskGroup(of: Bool.self) { group in
    group.addTask {
      try await serve()
      return true
    }
    group.addTask {
      // Returns when graceful shutdown begins (or throws when cancelled first).
      try await gracefulShutdown()
      try await Task.sleep(for: grace)
      return false
    }
    defer { group.cancelAll() }
    // Either the server ended, or the grace period passed: then cancel what still runs.
    _ = try await group.next()
  }
}
