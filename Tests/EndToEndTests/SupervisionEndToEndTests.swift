import ApiaryTestSupport
import Foundation
import Testing

/// `apiary run --config apiary.yaml`: supervised component processes and modules.
@Suite("Supervision and modules end to end", .serialized)
struct SupervisionEndToEndTests {
  /// Starts `apiary run` with `config` and waits for its start-up table and `waitPort`.
  func startApiary(
    _ folder: TemporaryFolder, config: String, grpcPort: Int, httpPort: Int, waitPort: Int,
    resources: String? = nil
  ) async throws -> ChildProcess {
    let sockets = folder.file("sockets")
    try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true)
    try config.write(toFile: folder.file("apiary.yaml"), atomically: true, encoding: .utf8)
    var arguments = [
      "run", "--config", folder.file("apiary.yaml"), "--sockets-dir", sockets, "--grpc-port",
      "\(grpcPort)",
      "--http-port", "\(httpPort)", "--heartbeat-interval", "200ms", "--heartbeat-timeout", "500ms",
      "--shutdown-grace", "2s",
    ]
    let resourcesFolder = folder.file("resources")
    try FileManager.default.createDirectory(
      atPath: resourcesFolder, withIntermediateDirectories: true)
    if let resources {
      try resources.write(
        toFile: resourcesFolder + "/components.yaml", atomically: true, encoding: .utf8)
    }
    arguments += ["--resources-path", resourcesFolder]
    let apiary = try ChildProcess(
      try Locations.product("apiary"), arguments,
      environment: ["APIARY_API_TOKEN": "", "DAPR_API_TOKEN": ""])
    let ready = await poll(timeout: .seconds(60)) {
      !apiary.isRunning || (apiary.standardOutput.contains("started") && tcpPortAccepts(waitPort))
    }
    guard ready, apiary.isRunning else {
      let stderr = apiary.standardError
      await apiary.stop()
      throw TestSupportError("apiary did not start:\n\(stderr)")
    }
    return apiary
  }

  /// The `process` detail of component `name` in /actuator/components.
  func process(of name: String, port: Int) async -> [String: Any]? {
    guard let body = await httpGet(port: port, "/actuator/components")?.body,
      let list = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]],
      let entry = list.first(where: { $0["name"] as? String == name })
    else { return nil }
    return entry["process"] as? [String: Any]
  }

  @Test(
    "apiary launches memstore, restarts it after kill -9 and stops it on SIGTERM; a crashing process is retried with backoff; grpcApi off closes its port"
  )
  func supervision() async throws {
    let folder = try TemporaryFolder(prefix: "apiary-supervision")
    defer { folder.remove() }
    let (grpcPort, httpPort) = (try freeTCPPort(), try freeTCPPort())
    let memstore = try Locations.product("memstore")
    let config = """
      modules:
        grpcApi: false
      processes:
        - name: memstore
          command: [\(memstore), --socket, \(folder.file("sockets"))/memstore.sock]
          restart: always
          backoff: {initial: 200ms, max: 1s}
        - name: crasher
          command: [/bin/sh, -c, "echo '{\\"level\\":\\"error\\",\\"msg\\":\\"crasher gives up\\"}'; exit 3"]
          restart: on-failure
          backoff: {initial: 100ms, max: 400ms}
          startTimeout: 500ms
      """
    let resources = """
      apiVersion: dapr.io/v1alpha1
      kind: Component
      metadata:
        name: statestore
      spec:
        type: state.memstore
      """
    let apiary = try await startApiary(
      folder, config: config, grpcPort: grpcPort, httpPort: httpPort, waitPort: httpPort,
      resources: resources)
    defer { apiary.signal(SIGKILL) }

    #expect(!tcpPortAccepts(grpcPort), "the gRPC API listens although modules.grpcApi is false")
    // Ready once the supervised memstore's socket answered and its component is UP.
    #expect(
      await poll(timeout: .seconds(15)) {
        await httpGet(port: httpPort, "/actuator/health/readiness")?.status == 200
      })
    let first = try #require(
      await process(of: "statestore", port: httpPort), "no process detail for statestore")
    let firstPID = try #require(first["pid"] as? Int)
    #expect(first["state"] as? String == "running")

    kill(Int32(firstPID), SIGKILL)
    let restarted = await poll(timeout: .seconds(20), every: .milliseconds(50)) {
      guard let detail = await process(of: "statestore", port: httpPort),
        let pid = detail["pid"] as? Int
      else { return false }
      guard pid != firstPID else { return false }
      return await httpGet(port: httpPort, "/actuator/health/readiness")?.status == 200
    }
    #expect(restarted, "memstore was not restarted:\n\(apiary.standardError.suffix(3000))")
    let second = await process(of: "statestore", port: httpPort)
    #expect(
      second?["restarts"] as? Int == 1 && second?["lastExit"] as? String == "signal 9",
      "\(String(describing: second))")
    let secondPID = second?["pid"] as? Int ?? 0

    let crasherRetried = await poll(timeout: .seconds(10)) {
      apiary.standardError.components(
        separatedBy: "[crasher] supervised process exited (exit status 3); restarting in"
      ).count > 3
    }
    #expect(crasherRetried, "\(apiary.standardError.suffix(3000))")
    #expect(
      apiary.standardError.contains("error [crasher] crasher gives up stream=stdout"),
      "\(apiary.standardError.suffix(3000))")
    for delay in ["0.1 seconds", "0.2 seconds", "0.4 seconds"] {
      #expect(apiary.standardError.contains("(exit status 3); restarting in \(delay)"))
    }
    #expect(
      !apiary.standardError.contains("(exit status 3); restarting in 0.8 seconds"),
      "backoff passed its maximum")

    apiary.signal(SIGTERM)
    let status = await apiary.waitForExit(timeout: .seconds(20))
    #expect(
      status == 0,
      "apiary exited \(String(describing: status)) on SIGTERM:\n\(apiary.standardError.suffix(2000))"
    )
    #expect(
      kill(Int32(secondPID), 0) != 0, "the supervised memstore (pid \(secondPID)) outlived apiary")
  }

  @Test(
    "modules off: with httpApi, actuator and metrics off nothing listens on the HTTP port; each route family goes with its module"
  )
  func modulesOff() async throws {
    let folder = try TemporaryFolder(prefix: "apiary-modules")
    defer { folder.remove() }
    let (grpcPort, httpPort) = (try freeTCPPort(), try freeTCPPort())
    let apiary = try await startApiary(
      folder, config: "modules: {httpApi: false, actuator: false, metrics: false}",
      grpcPort: grpcPort,
      httpPort: httpPort, waitPort: grpcPort)
    #expect(!tcpPortAccepts(httpPort), "the HTTP port is open although every HTTP module is off")
    await apiary.stop()

    let other = try TemporaryFolder(prefix: "apiary-modules")
    defer { other.remove() }
    let (grpc2, http2) = (try freeTCPPort(), try freeTCPPort())
    let second = try await startApiary(
      other, config: "modules: {httpApi: false, metrics: false}", grpcPort: grpc2, httpPort: http2,
      waitPort: http2)
    #expect(await httpGet(port: http2, "/actuator/health/liveness")?.status == 200)
    #expect(await httpGet(port: http2, "/v1.0/healthz")?.status == 404)
    #expect(await httpGet(port: http2, "/metrics")?.status == 404)
    await second.stop()
  }
}
