/// The factory of one component type found on a socket: each component configured
/// with this type gets adapters over the socket's shared channel, with its own
/// `x-component-instance`.
public struct PluggableFactory: ComponentFactory {
  public let type: String
  public let block: BuildingBlock
  public let channel: ComponentChannel
  /// For `bindings.*`: which of the two binding services the socket serves.
  public let hasInputBinding: Bool
  public let hasOutputBinding: Bool
  /// For `state.*`: whether the socket tells its transaction size limit.
  public let hasMultiMaxSize: Bool
  /// How long one call (other than Init, Features, Ping) may take.
  public let callTimeout: Duration

  public init(
    type: String, block: BuildingBlock, channel: ComponentChannel, services: [String],
    callTimeout: Duration = .seconds(30)
  ) {
    self.callTimeout = callTimeout
    self.type = type
    self.block = block
    self.channel = channel
    self.hasInputBinding = services.contains("dapr.proto.components.v1.InputBinding")
    self.hasOutputBinding = services.contains("dapr.proto.components.v1.OutputBinding")
    self.hasMultiMaxSize = services.contains(
      "dapr.proto.components.v1.TransactionalStoreMultiMaxSize")
  }

  public var source: ComponentSource { .socket(channel.socketPath) }

  /// Pluggable components answer to versions "", "v0" and "v1", as in Dapr.
  public func accepts(version: String) -> Bool { ["", "v0", "v1"].contains(version) }

  public func make(
    name: String, metadata: [String: String], timeout: Duration
  ) async throws -> (ComponentKind, [String]) {
    let context = AdapterContext(
      channel: channel, instance: name, callTimeout: callTimeout, block: block, type: type)
    switch block {
    case .state:
      let adapter = StateStoreAdapter(context: context, servesMultiMaxSize: hasMultiMaxSize)
      return (.state(adapter), try await adapter.initialise(metadata: metadata, timeout: timeout))
    case .pubsub:
      let adapter = PubSubAdapter(context: context)
      return (.pubsub(adapter), try await adapter.initialise(metadata: metadata, timeout: timeout))
    case .secretstores:
      let adapter = SecretStoreAdapter(context: context)
      return (
        .secretStore(adapter), try await adapter.initialise(metadata: metadata, timeout: timeout)
      )
    case .hello:
      let adapter = HelloAdapter(context: context)
      try await adapter.initialise(metadata: metadata, type: type, timeout: timeout)
      return (.hello(adapter), [])
    case .bindings:
      var input: InputBindingAdapter?
      var output: OutputBindingAdapter?
      var operations: [String] = []
      if hasInputBinding {
        let adapter = InputBindingAdapter(context: context)
        try await adapter.initialise(metadata: metadata, timeout: timeout)
        input = adapter
      }
      if hasOutputBinding {
        let adapter = OutputBindingAdapter(context: context)
        operations = try await adapter.initialise(metadata: metadata, timeout: timeout)
        output = adapter
      }
      return (.bindings(input: input, output: output), operations)
    }
  }
}
