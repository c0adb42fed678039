import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Testing

/// Heartbeats against a real component process that is killed and restarted.
@Suite("heartbeat and recovery")
struct HealthMonitorTests {
  @Test("kill -9: the component goes DOWN; restarted, it is initialised again and UP")
  func killAndRestart() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var memstore = try await AdapterTests.startMemstore(folder)
    let yaml = componentsYAML([("store", "state.memstore", "metadata: []")])
    try await withSidecar(
      yaml: yaml, socketsDir: folder.path, heartbeatInterval: .milliseconds(200),
      failureThreshold: 3
    ) { sidecar in
      let store = try await sidecar.registry.stateStore("store")
      try await store.set(StateSetRequest(key: "k", value: Data("before".utf8)))
      #expect(await sidecar.registry.readiness == .up)
      let beaten = await poll(timeout: .seconds(10)) {
        await sidecar.registry.status(of: "store")?.lastHeartbeat != nil
      }
      #expect(beaten, "no heartbeat was recorded")

      memstore.signal(SIGKILL)
      _ = await memstore.waitForExit(timeout: .seconds(5))
      let clock = ContinuousClock()
      let killed = clock.now
      let down = await poll(timeout: .seconds(15)) {
        await sidecar.registry.status(of: "store")?.state == .down
      }
      #expect(down, "the component never went DOWN")
      let downAfter = clock.now - killed
      // While DOWN the registry hands out nothing: the API fails the call at once.
      #expect(await sidecar.registry.component(named: "store") == nil)
      #expect(await sidecar.registry.status(of: "store")?.reason?.isEmpty == false)
      #expect(await sidecar.registry.readiness == .down)
      #expect((await sidecar.registry.status(of: "store")?.consecutiveFailures ?? 0) >= 3)

      await memstore.stop()
      memstore = try await AdapterTests.startMemstore(folder)
      let up = await poll(timeout: .seconds(15)) {
        await sidecar.registry.status(of: "store")?.state == .up
      }
      #expect(up, "the component did not come back UP after its restart (DOWN after \(downAfter))")
      // memstore refuses calls for instances that were never initialised, so a
      // working call proves Init ran again; the data is gone with the old process.
      let again = try await sidecar.registry.stateStore("store")
      #expect(try await again.get(StateGetRequest(key: "k")) == .notFound)
      try await again.set(StateSetRequest(key: "k", value: Data("after".utf8)))
      #expect(try await again.get(StateGetRequest(key: "k")).data == Data("after".utf8))
      #expect(await sidecar.registry.readiness == .up)
      #expect(await sidecar.registry.status(of: "store")?.consecutiveFailures == 0)
    }
    await memstore.stop()
  }

  @Test("a restart between two beats is noticed (instance not initialised) and healed")
  func quickRestart() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var memstore = try await AdapterTests.startMemstore(folder)
    let yaml = componentsYAML([("store", "state.memstore", "metadata: []")])
    try await withSidecar(
      yaml: yaml, socketsDir: folder.path, heartbeatInterval: .milliseconds(300),
      failureThreshold: 100
    ) { sidecar in
      memstore.signal(SIGKILL)
      _ = await memstore.waitForExit(timeout: .seconds(5))
      await memstore.stop()
      memstore = try await AdapterTests.startMemstore(folder)
      let healed = await poll(timeout: .seconds(15)) {
        guard let store = try? await sidecar.registry.stateStore("store") else { return false }
        return (try? await store.set(StateSetRequest(key: "k", value: Data("v".utf8)))) != nil
      }
      #expect(healed, "calls kept failing after the component restarted")
      #expect(await sidecar.registry.status(of: "store")?.state == .up)
    }
    await memstore.stop()
  }
}
