import ApiaryContracts
import ApiaryRuntime
import ApiaryTestSupport
import ComponentKit
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// A state store that stores nothing: discovery only needs its services to exist.
struct NullStore: StateStoreComponent {
  func initialise(metadata: [String: String]) async throws {}
  func features() async throws -> [StateStoreFeature] { [] }
  func get(
    _ request: Dapr_Proto_Components_V1_GetRequest
  ) async throws -> Dapr_Proto_Components_V1_GetResponse { .init() }
  func set(_ request: Dapr_Proto_Components_V1_SetRequest) async throws {}
  func delete(_ request: Dapr_Proto_Components_V1_DeleteRequest) async throws {}
}

/// Serves a state store on each of `socketNames` in `folder` while `body` runs.
func withStateStores(
  in folder: TemporaryFolder,
  named socketNames: [String],
  _ body: () async throws -> Void
) async throws {
  let servers = try socketNames.map { name in
    try ComponentServer(socketPath: folder.file(name), components: [.stateStore { NullStore() }])
  }
  let group = ServiceGroup(services: servers, logger: Logger(label: "test"))
  try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    for name in socketNames { try await waitForSocket(folder.file(name)) }
    do {
      try await body()
    } catch {
      await group.triggerGracefulShutdown()
      throw error
    }
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
  }
}

@Suite("discovery")
struct DiscoveryTests {
  @Test("a type two sockets would both provide goes to the first; the second is reported")
  func collisionBetweenSockets() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try await withStateStores(in: folder, named: ["Orders.sock", "orders.sock"]) {
      let report = try await Discovery(socketsDir: folder.path).scan()
      #expect(report.components.map(\.socket) == [folder.file("Orders.sock")])
      #expect(report.components.first?.types == ["state.orders"])
      #expect(
        report.skipped == [
          SkippedSocket(
            socket: folder.file("orders.sock"),
            reason: "state.orders is already provided by \(folder.file("Orders.sock"))")
        ])
    }
  }

  @Test("a socket never replaces a reserved (built-in) type")
  func collisionWithBuiltIn() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try await withStateStores(in: folder, named: ["in-memory.sock", "cache.sock"]) {
      let discovery = Discovery(
        socketsDir: folder.path, reservedTypes: ["state.in-memory": "the built-in in-memory store"])
      let report = try await discovery.scan()
      #expect(report.components.map(\.types) == [["state.cache"]])
      #expect(
        report.skipped == [
          SkippedSocket(
            socket: folder.file("in-memory.sock"),
            reason: "state.in-memory is already provided by the built-in in-memory store")
        ])
    }
  }

  @Test("a missing folder and a file in its place are errors, not empty results")
  func folderErrors() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    await #expect(throws: DiscoveryFolderError.missing(folder.file("nope"))) {
      _ = try await Discovery(socketsDir: folder.file("nope")).scan()
    }
    try "x".write(toFile: folder.file("file"), atomically: true, encoding: .utf8)
    await #expect(throws: DiscoveryFolderError.notAFolder(folder.file("file"))) {
      _ = try await Discovery(socketsDir: folder.file("file")).scan()
    }
  }
}
