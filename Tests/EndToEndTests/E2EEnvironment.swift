import ApiaryTestSupport
import Foundation
import Testing

/// A running `apiary run` with the memstore sample (`statestore`, `greeter`), the
/// Python multi-component fixture (`events`, an input and output binding emitting
/// two events), the built-ins (`pubsub`, `builtin-store`, `secretstore` from a JSON
/// file) and a declarative Subscription (topic `orders` → `/orders`), on free ports.
/// The checks are the Python scripts in Tests/Fixtures/python/e2e, which use the
/// Dapr Python SDK.
final class E2EEnvironment: Sendable {
  let folder: TemporaryFolder
  let grpcPort: Int
  let httpPort: Int
  let maxBodySize = 65536
  let appID = "e2e"
  let token: String?
  let apiary: ChildProcess
  let memstore: ChildProcess
  let multi: ChildProcess
  let app: ChildProcess?

  enum App {
    case none
    case http
    case grpc
  }

  /// Starts everything and waits until the sidecar's APIs answer.
  /// - Parameters:
  ///   - multiArguments: More arguments of the Python multi-component fixture.
  ///   - extraResources: More YAML documents for the resources folder.
  ///   - extraArguments: More arguments of `apiary run`.
  ///   - extraEnvironment: More environment variables of `apiary run`.
  init(
    app appKind: App = .none, token: String? = nil, heartbeatInterval: String = "2s",
    multiArguments: [String] = [],
    extraResources: String = "", extraArguments: [String] = [],
    extraEnvironment: [String: String] = [:]
  ) async throws {
    folder = try TemporaryFolder(prefix: "apiary-e2e")
    self.token = token
    let sockets = folder.file("sockets")
    let resources = folder.file("resources")
    try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: resources, withIntermediateDirectories: true)
    try #"{"db-password": "s3cret", "api": {"key": "k1"}}"#.write(
      toFile: folder.file("secrets.json"), atomically: true, encoding: .utf8)
    try (Self.resourcesYAML(secretsFile: folder.file("secrets.json")) + extraResources)
      .write(toFile: resources + "/components.yaml", atomically: true, encoding: .utf8)

    memstore = try await startServing(
      try Locations.product("memstore"), ["--socket", sockets + "/memstore.sock"],
      socket: sockets + "/memstore.sock")
    multi = try await startServing(
      Locations.python,
      [Locations.pythonFixture("multi_component.py"), "--socket", sockets + "/multi.sock"]
        + multiArguments,
      socket: sockets + "/multi.sock")

    var arguments =
      [
        "run", "--resources-path", resources, "--sockets-dir", sockets, "--app-id", appID,
        "--grpc-port", "\(try freeTCPPort())", "--http-port", "\(try freeTCPPort())",
        "--max-body-size", "\(maxBodySize)", "--heartbeat-interval", heartbeatInterval,
        "--heartbeat-timeout", "500ms", "--failure-threshold", "2",
      ] + extraArguments
    grpcPort = Int(arguments[arguments.firstIndex(of: "--grpc-port")! + 1])!
    httpPort = Int(arguments[arguments.firstIndex(of: "--http-port")! + 1])!
    switch appKind {
    case .none:
      app = nil
    case .http, .grpc:
      let port = try freeTCPPort()
      let script = appKind == .http ? "e2e/http_app.py" : "e2e/grpc_app.py"
      let app = try ChildProcess(
        Locations.python,
        [
          Locations.pythonFixture(script), "--port", "\(port)", "--events",
          folder.file("events.jsonl"),
        ])
      self.app = app
      guard await poll(timeout: .seconds(30), { tcpPortAccepts(port) || !app.isRunning }),
        app.isRunning
      else {
        throw TestSupportError(
          "\(app.commandLine) did not listen on \(port):\n\(app.standardError)")
      }
      arguments += ["--app-port", "\(port)", "--app-protocol", appKind == .http ? "http" : "grpc"]
    }
    var environment = ["APIARY_API_TOKEN": "", "DAPR_API_TOKEN": ""]
    if let token { environment["APIARY_API_TOKEN"] = token }
    environment.merge(extraEnvironment) { _, new in new }
    apiary = try ChildProcess(try Locations.product("apiary"), arguments, environment: environment)
    let apiary = self.apiary
    let (grpc, http) = (grpcPort, httpPort)
    // Outbound health: the components started and the declarative subscriptions are
    // open, so nothing a test publishes from now on misses them.
    let ready = await poll(timeout: .seconds(60)) {
      guard apiary.isRunning else { return true }
      guard apiary.standardOutput.contains("started"), tcpPortAccepts(grpc) else { return false }
      return await httpGet(port: http, "/v1.0/healthz/outbound")?.status == 204
    }
    guard ready, apiary.isRunning else {
      let stderr = apiary.standardError
      await stop()
      throw TestSupportError("apiary did not start:\n\(stderr)")
    }
  }

  /// The resources folder's components.yaml: the shared component files
  /// Tests/Fixtures/components/memstore.yaml (`statestore`, `greeter`) and e2e.yaml
  /// (the built-ins, `events`, the Subscription), their `${NAME}` placeholders filled.
  static func resourcesYAML(secretsFile: String) throws -> String {
    try component("memstore.yaml", ["STATE_NAME": "statestore"]) + "---\n"
      + component("e2e.yaml", ["SECRETS_FILE": secretsFile])
  }

  /// A file of Tests/Fixtures/components with every `${KEY}` replaced by `values[KEY]`.
  static func component(_ name: String, _ values: [String: String]) throws -> String {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent()
      .appendingPathComponent("Fixtures/components")
    var text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    for (key, value) in values {
      text = text.replacingOccurrences(of: "${\(key)}", with: value)
    }
    guard !text.contains("${") else {
      throw TestSupportError("\(name): a placeholder without a value in \(values.keys.sorted())")
    }
    return text
  }

  /// Runs a check script (`sdk_checks.py` or `http_checks.py`) with `cases`; records
  /// an issue with its output unless it exits 0 having printed `ok CASE` for each.
  func check(
    _ script: String, _ cases: [String], arguments: [String] = [],
    environment extra: [String: String] = [:],
    sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    var environment = [
      "DAPR_GRPC_PORT": "\(grpcPort)", "DAPR_HTTP_PORT": "\(httpPort)", "APIARY_E2E_APP_ID": appID,
      "APIARY_E2E_MAX_BODY": "\(maxBodySize)", "DAPR_API_TOKEN": "",
      "APIARY_E2E_TOKEN": token ?? "",
      "DAPR_HEALTH_TIMEOUT": "30", "PYTHONUNBUFFERED": "1",
    ]
    environment.merge(extra) { _, new in new }
    let result = try await ChildProcess.run(
      Locations.python, [Locations.pythonFixture("e2e/\(script)")] + arguments + cases,
      environment: environment,
      timeout: .seconds(180))
    let passed = Set(
      result.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }.map {
        String($0.dropFirst(3))
      })
    #expect(
      result.status == 0 && passed == Set(cases),
      "\(script) \(cases.joined(separator: " ")) exited \(result.status)\nstdout:\n\(result.stdout)\nstderr:\n\(result.stderr)\napiary stderr (tail):\n\(apiary.standardError.suffix(3000))",
      sourceLocation: sourceLocation)
  }

  /// Calls the sidecar's HTTP API (with Python's urllib, so the tests need no curl);
  /// returns the status and the body.
  func http(
    _ method: String, _ path: String, json body: String? = nil
  ) async throws -> (status: Int, body: String) {
    let script = """
      import sys, urllib.request, urllib.error
      method, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
      request = urllib.request.Request(url, method=method, data=body.encode() if body else None,
                                       headers={"Content-Type": "application/json"})
      try:
          with urllib.request.urlopen(request, timeout=15) as response:
              status, text = response.status, response.read().decode()
      except urllib.error.HTTPError as error:
          status, text = error.code, error.read().decode()
      sys.stdout.write(f"{status}\\n{text}")
      """
    let result = try await ChildProcess.run(
      Locations.python, ["-c", script, method, "http://127.0.0.1:\(httpPort)\(path)", body ?? ""],
      timeout: .seconds(30))
    let lines = result.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    guard result.status == 0, let status = lines.first.flatMap({ Int($0) }) else {
      throw TestSupportError("\(method) \(path) failed: \(result.stderr)")
    }
    return (status, lines.count > 1 ? String(lines[1]) : "")
  }

  /// The app's delivery log: one JSON object per line.
  func appEvents() -> [[String: Any]] {
    guard let text = try? String(contentsOfFile: folder.file("events.jsonl"), encoding: .utf8)
    else { return [] }
    return text.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
  }

  /// Stops every process and removes the folder.
  func stop() async {
    await apiary.stop()
    if let app { await app.stop() }
    await memstore.stop()
    await multi.stop()
    folder.remove()
  }
}

/// Runs `body` with a started ``E2EEnvironment`` and stops it afterwards, also when
/// `body` throws.
func withE2E(
  app: E2EEnvironment.App = .none, token: String? = nil, heartbeatInterval: String = "2s",
  multiArguments: [String] = [], extraResources: String = "", extraArguments: [String] = [],
  extraEnvironment: [String: String] = [:], _ body: (E2EEnvironment) async throws -> Void
) async throws {
  let sidecar = try await E2EEnvironment(
    app: app, token: token, heartbeatInterval: heartbeatInterval, multiArguments: multiArguments,
    extraResources: extraResources, extraArguments: extraArguments,
    extraEnvironment: extraEnvironment)
  try await withCleanup {
    try await body(sidecar)
  } cleanup: {
    await sidecar.stop()
  }
}

/// The multi fixture's state store (`multi-store`, type `state.multi`) as a resource
/// document, for `extraResources`.
let multiStoreResource = """
  ---
  apiVersion: dapr.io/v1alpha1
  kind: Component
  metadata:
    name: multi-store
  spec:
    type: state.multi

  """
