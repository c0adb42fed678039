import ApiaryAPI
import Foundation
import Hummingbird
import Logging

@testable import ApiaryRuntime

/// The components `apiary run` starts with no component files (the built-in `statestore`
/// and `pubsub`), loaded by the sidecar's own loader with start-up finished, and an
/// ``AppAPI`` over them: what the HTTP and gRPC route tests call.
struct BuiltInComponents {
  let registry: ComponentRegistry
  let api: AppAPI

  init(appID: String = "routes-app", maxBodySize: Int = 1 << 20) async throws {
    registry = ComponentRegistry()
    var factories = FactoryRegistry()
    for factory in BuiltInFactories.all(environment: [:]) { factories.register(factory) }
    let loader = ComponentLoader(
      factories: factories, registry: registry, environment: [:], logger: Logger(label: "test"))
    try await loader.load(Sidecar.defaultDefinitions())
    await registry.markStarted(subscriptions: [])
    api = AppAPI(registry: registry, options: AppAPIOptions(appID: appID, maxBodySize: maxBodySize))
  }

  /// The built-in pub/sub `pubsub`, to subscribe to what the API publishes.
  func pubSub() async throws -> any PubSub {
    guard case .pubsub(let pubsub)? = await registry.component(named: "pubsub")?.kind else {
      throw BuiltInComponentsError.notUp("pubsub")
    }
    return pubsub
  }
}

enum BuiltInComponentsError: Error {
  case notUp(String)
}

/// A response body as a JSON object; empty when it is not one.
func jsonObject(_ buffer: ByteBuffer) -> [String: Any] {
  (try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any]) ?? [:]
}
