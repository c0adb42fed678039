import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the sidecar's component life cycle (``Sidecar``) on a resources folder holding
/// `yaml`, until `body` returns; fails with the sidecar's error when start-up fails.
func withSidecar(
  yaml: String,
  socketsDir: String,
  componentWait: Duration = .seconds(30),
  environment: [String: String] = [:],
  heartbeatInterval: Duration = .seconds(2),
  failureThreshold: Int = 3,
  _ body: (Sidecar) async throws -> Void
) async throws {
  let resources = try TemporaryFolder(prefix: "apiary-res")
  defer { resources.remove() }
  try yaml.write(toFile: resources.file("components.yaml"), atomically: true, encoding: .utf8)
  let options = SidecarOptions(
    resourcesPaths: [resources.path], socketsDir: socketsDir, appID: "test-app",
    discoveryTimeout: .seconds(2),
    componentWait: componentWait, rescanInterval: .milliseconds(200), environment: environment,
    heartbeatInterval: heartbeatInterval, heartbeatTimeout: .milliseconds(500),
    failureThreshold: failureThreshold)
  let (started, startedSink) = AsyncStream<Void>.makeStream()
  let sidecar = Sidecar(options: options, logger: Logger(label: "sidecar-test")) { _ in
    startedSink.yield()
  }
  let group = ServiceGroup(services: [sidecar], logger: Logger(label: "sidecar-test"))
  try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask {
      defer { startedSink.finish() }
      try await group.run()
    }
    var iterator = started.makeAsyncIterator()
    guard await iterator.next() != nil else {
      // The sidecar stopped before it started: its error surfaces here.
      try await tasks.waitForAll()
      throw TestSupportError("the sidecar stopped before it started")
    }
    do {
      try await body(sidecar)
    } catch {
      await group.triggerGracefulShutdown()
      try? await tasks.waitForAll()
      throw error
    }
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
  }
}

/// The error the sidecar's service group failed with, unwrapped.
func underlyingError(_ error: any Error) -> any Error {
  if let group = error as? ServiceGroupError,
    let underlying = Mirror(reflecting: group).descendant("underlyingError") as? any Error
  {
    return underlying
  }
  return error
}

extension ComponentRegistry {
  /// The state store `name`, or a test failure.
  func stateStore(_ name: String) throws -> any StateStore {
    guard case .state(let store)? = component(named: name)?.kind else {
      throw TestSupportError("\(name) is not an UP state store")
    }
    return store
  }

  func pubSub(_ name: String) throws -> any PubSub {
    guard case .pubsub(let pubsub)? = component(named: name)?.kind else {
      throw TestSupportError("\(name) is not an UP pub/sub")
    }
    return pubsub
  }

  func secretStore(_ name: String) throws -> any SecretStore {
    guard case .secretStore(let store)? = component(named: name)?.kind else {
      throw TestSupportError("\(name) is not an UP secret store")
    }
    return store
  }

  func bindings(_ name: String) throws -> (input: (any InputBinding)?, output: (any OutputBinding)?)
  {
    guard case .bindings(let input, let output)? = component(named: name)?.kind else {
      throw TestSupportError("\(name) is not UP bindings")
    }
    return (input, output)
  }

  func hello(_ name: String) throws -> any HelloService {
    guard case .hello(let hello)? = component(named: name)?.kind else {
      throw TestSupportError("\(name) is not an UP hello")
    }
    return hello
  }
}

/// A component file with one document per `(name, type)`, with extra spec lines.
func componentsYAML(_ components: [(name: String, type: String, spec: String)]) -> String {
  components.map { component in
    """
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: \(component.name)
    spec:
      type: \(component.type)
      version: v1
    \(component.spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    """
  }.joined(separator: "\n---\n") + "\n"
}
