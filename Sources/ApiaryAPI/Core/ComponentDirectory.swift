import ApiaryRuntime

/// Finds the configured component an API call names, as the building block the
/// call needs, or says why it cannot with daprd's error for that block (none of
/// the block configured, or no component of that name), or apiary's own 503 at once
/// when it exists but is not UP: a call never waits for a component.
public struct ComponentDirectory: Sendable {
  /// The building blocks the API serves.
  public enum Block: String, Sendable {
    case state
    case pubsub
    case bindings
    case secretstores
    case hello

    /// How a message names it: "state store", "pubsub", …
    var noun: String {
      switch self {
      case .state: "state store"
      case .pubsub: "pubsub"
      case .bindings: "binding"
      case .secretstores: "secret store"
      case .hello: "hello component"
      }
    }
  }

  /// What a lookup found.
  enum Found {
    case component(InitializedComponent)
    /// No component of the block is configured at all.
    case noneConfigured
    /// Components of the block exist; none has this name.
    case unknown
    /// It exists and is not UP (the state, and the reason when known).
    case notReady(String, String?)
  }

  public let registry: ComponentRegistry

  public init(registry: ComponentRegistry) {
    self.registry = registry
  }

  /// The UP component `name` of building block `block`, or why there is none.
  func lookup(_ name: String, of block: Block) async -> Found {
    let prefix = block.rawValue + "."
    guard let status = await registry.status(of: name), status.type.hasPrefix(prefix) else {
      let any = await registry.all.contains { $0.type.hasPrefix(prefix) }
      return any ? .unknown : .noneConfigured
    }
    guard status.state == .up, let component = await registry.component(named: name) else {
      return .notReady(status.state.rawValue, status.reason)
    }
    return .component(component)
  }

  /// Every configured component of `block`, by name.
  func names(of block: Block) async -> [String] {
    await registry.all.filter { $0.type.hasPrefix(block.rawValue + ".") }.map(\.name)
  }

  /// The state store `name`.
  ///
  /// - Throws: ``DaprError`` `stateNotConfigured` (no state store at all),
  ///   `stateNotFound`, or apiary's 503 when it is not UP.
  public func stateStore(
    _ name: String, appID: String
  ) async throws(DaprError) -> (store: any StateStore, component: InitializedComponent) {
    let component: InitializedComponent
    switch await lookup(name, of: .state) {
    case .component(let found):
      component = found
    case .noneConfigured:
      throw .stateNotConfigured(name, appID: appID)
    case .unknown:
      throw .stateNotFound(name, appID: appID)
    case .notReady(let state, let reason):
      throw .componentNotReady(Block.state.noun, name, state: state, reason: reason)
    }
    guard case .state(let store) = component.kind else {
      throw DaprError.stateNotFound(name, appID: appID)
    }
    return (store, component)
  }

  /// The pub/sub `name`.
  ///
  /// - Throws: ``DaprError`` `pubsubEmpty`, `pubsubNotConfigured`, `pubsubNotFound`,
  ///   or apiary's 503 when it is not UP.
  public func pubSub(
    _ name: String, requestMetadata: [String: String] = [:]
  ) async throws(DaprError) -> (any PubSub, InitializedComponent) {
    guard !name.isEmpty else { throw .pubsubEmpty(requestMetadata: requestMetadata) }
    let component: InitializedComponent
    switch await lookup(name, of: .pubsub) {
    case .component(let found):
      component = found
    case .noneConfigured:
      throw .pubsubNotConfigured(name)
    case .unknown:
      throw .pubsubNotFound(name, requestMetadata: requestMetadata)
    case .notReady(let state, let reason):
      throw .componentNotReady(Block.pubsub.noun, name, state: state, reason: reason)
    }
    guard case .pubsub(let pubsub) = component.kind else {
      throw DaprError.pubsubNotFound(name, requestMetadata: requestMetadata)
    }
    return (pubsub, component)
  }

  /// The output binding `name`.
  ///
  /// - Throws: ``DaprError`` `invokeBinding` (`couldn't find output binding …`, a 500
  ///   as daprd answers), or apiary's 503 when it is not UP.
  public func outputBinding(
    _ name: String
  ) async throws(DaprError) -> (any OutputBinding, InitializedComponent) {
    let component: InitializedComponent
    switch await lookup(name, of: .bindings) {
    case .component(let found):
      component = found
    case .noneConfigured, .unknown:
      throw .invokeBinding(name, problem: "couldn't find output binding \(name)")
    case .notReady(let state, let reason):
      throw .componentNotReady(Block.bindings.noun, name, state: state, reason: reason)
    }
    guard case .bindings(_, let output?) = component.kind else {
      throw DaprError.invokeBinding(name, problem: "couldn't find output binding \(name)")
    }
    return (output, component)
  }

  /// The secret store `name`.
  ///
  /// - Throws: ``DaprError`` `secretStoresNotConfigured`, `secretStoreNotFound` (401,
  ///   as daprd answers), or apiary's 503 when it is not UP.
  public func secretStore(_ name: String) async throws(DaprError) -> any SecretStore {
    let component: InitializedComponent
    switch await lookup(name, of: .secretstores) {
    case .component(let found):
      component = found
    case .noneConfigured:
      throw .secretStoresNotConfigured()
    case .unknown:
      throw .secretStoreNotFound(name)
    case .notReady(let state, let reason):
      throw .componentNotReady(Block.secretstores.noun, name, state: state, reason: reason)
    }
    guard case .secretStore(let store) = component.kind else {
      throw DaprError.secretStoreNotFound(name)
    }
    return store
  }

  /// The hello component `name` (Layotto's, no Dapr counterpart: apiary's 400).
  public func hello(_ name: String) async throws(DaprError) -> any HelloService {
    let component: InitializedComponent
    switch await lookup(name, of: .hello) {
    case .component(let found):
      component = found
    case .noneConfigured, .unknown:
      let known = await names(of: .hello)
      let hint =
        known.isEmpty ? "none is configured" : "configured: \(known.joined(separator: ", "))"
      throw DaprError(
        .invalidArgument, "ERR_HELLO_NOT_FOUND", "hello component \(name) is not found (\(hint))")
    case .notReady(let state, let reason):
      throw .componentNotReady(Block.hello.noun, name, state: state, reason: reason)
    }
    guard case .hello(let hello) = component.kind else {
      throw DaprError(.invalidArgument, "ERR_HELLO_NOT_FOUND", "\(name) is not a hello component")
    }
    return hello
  }
}
