import ApiaryRuntime

/// Finds the configured component an API call names, as the building block the
/// call needs, or says precisely why it cannot: unknown (400), or not UP (503, at
/// once: a call never waits for a component).
public struct ComponentDirectory: Sendable {
  /// The building blocks the API serves, with the Dapr error code for an unknown name.
  public enum Block: String, Sendable {
    case state
    case pubsub
    case bindings
    case secretstores
    case hello

    /// Dapr's error code for "no such component".
    var notFoundCode: String {
      switch self {
      case .state: "ERR_STATE_STORE_NOT_FOUND"
      case .pubsub: "ERR_PUBSUB_NOT_FOUND"
      case .bindings: "ERR_BINDING_NOT_FOUND"
      case .secretstores: "ERR_SECRET_STORE_NOT_FOUND"
      case .hello: "ERR_HELLO_NOT_FOUND"
      }
    }

    /// How a message names it: "state store", "pub/sub", …
    var noun: String {
      switch self {
      case .state: "state store"
      case .pubsub: "pub/sub"
      case .bindings: "binding"
      case .secretstores: "secret store"
      case .hello: "hello component"
      }
    }
  }

  public let registry: ComponentRegistry

  public init(registry: ComponentRegistry) {
    self.registry = registry
  }

  /// The UP component `name` of building block `block`.
  ///
  /// - Throws: ``APIError`` `invalidArgument` with the block's not-found code when no
  ///   component of that block has that name; `unavailable` (`ERR_COMPONENT_NOT_READY`)
  ///   when it exists but is not UP.
  public func component(_ name: String, of block: Block) async throws(APIError) -> InitializedComponent {
    guard !name.isEmpty else {
      throw APIError(.invalidArgument, block.notFoundCode, "no \(block.noun) name given")
    }
    guard let status = await registry.status(of: name), status.type.hasPrefix(block.rawValue + ".") else {
      let known = await registry.all.filter { $0.type.hasPrefix(block.rawValue + ".") }.map(\.name)
      let hint = known.isEmpty ? "none is configured" : "configured: \(known.joined(separator: ", "))"
      throw APIError(.invalidArgument, block.notFoundCode, "\(block.noun) \(name) is not found (\(hint))")
    }
    guard status.state == .up, let component = await registry.component(named: name) else {
      let reason = status.reason.map { ": \($0)" } ?? ""
      throw APIError(
        .unavailable, "ERR_COMPONENT_NOT_READY", "\(block.noun) \(name) is \(status.state.rawValue)\(reason)")
    }
    return component
  }

  /// The state store `name`.
  public func stateStore(_ name: String) async throws(APIError) -> (store: any StateStore, component: InitializedComponent) {
    let component = try await component(name, of: .state)
    guard case .state(let store) = component.kind else {
      throw APIError(.invalidArgument, Block.state.notFoundCode, "\(name) is not a state store")
    }
    return (store, component)
  }

  /// The pub/sub `name`.
  public func pubSub(_ name: String) async throws(APIError) -> any PubSub {
    let component = try await component(name, of: .pubsub)
    guard case .pubsub(let pubsub) = component.kind else {
      throw APIError(.invalidArgument, Block.pubsub.notFoundCode, "\(name) is not a pub/sub")
    }
    return pubsub
  }

  /// The output binding `name`.
  public func outputBinding(_ name: String) async throws(APIError) -> any OutputBinding {
    let component = try await component(name, of: .bindings)
    guard case .bindings(_, let output?) = component.kind else {
      throw APIError(.invalidArgument, Block.bindings.notFoundCode, "binding \(name) is not an output binding")
    }
    return output
  }

  /// The secret store `name`.
  public func secretStore(_ name: String) async throws(APIError) -> any SecretStore {
    let component = try await component(name, of: .secretstores)
    guard case .secretStore(let store) = component.kind else {
      throw APIError(.invalidArgument, Block.secretstores.notFoundCode, "\(name) is not a secret store")
    }
    return store
  }

  /// The hello component `name`.
  public func hello(_ name: String) async throws(APIError) -> any HelloService {
    let component = try await component(name, of: .hello)
    guard case .hello(let hello) = component.kind else {
      throw APIError(.invalidArgument, Block.hello.notFoundCode, "\(name) is not a hello component")
    }
    return hello
  }
}
