import ComponentKit
import Foundation
import Logging
import ServiceLifecycle

/// The sidecar's component life cycle as a service: load the configuration, discover
/// the sockets, initialise every component in dependency order, keep initialising
/// PENDING ones as their sockets appear, heartbeat them (``HealthMonitor``: DOWN after
/// failed beats, initialised again when they answer), and on shutdown close them in
/// reverse order.
public final class Sidecar: Service {
  public let options: SidecarOptions
  /// The configured components and their states.
  public let registry = ComponentRegistry()
  private let logger: Logger
  private let onStarted: @Sendable ([ComponentStatus]) -> Void

  /// - Parameter onStarted: Called once every component that could start has started
  ///   (PENDING ones may follow later), with the start-up table.
  public init(options: SidecarOptions, logger: Logger, onStarted: @escaping @Sendable ([ComponentStatus]) -> Void = { _ in }) {
    self.options = options
    self.logger = logger
    self.onStarted = onStarted
  }

  /// The definitions `apiary run` starts with no component files at all: a built-in
  /// state store named `statestore` and pub/sub named `pubsub`, as Dapr's quick start
  /// expects.
  public static func defaultDefinitions() -> [ComponentDefinition] {
    let source = DefinitionSource(file: "(built-in default)", document: 1)
    return [
      ComponentDefinition(
        name: "statestore", type: "state.in-memory", version: "v1", metadata: [], ignoreErrors: false,
        initTimeout: .seconds(5), secretStore: nil, scopes: [], source: source),
      ComponentDefinition(
        name: "pubsub", type: "pubsub.in-memory", version: "v1", metadata: [], ignoreErrors: false,
        initTimeout: .seconds(5), secretStore: nil, scopes: [], source: source),
    ]
  }

  public func run() async throws {
    let resources = try ResourceLoader(paths: options.resourcesPaths, appID: options.appID, logger: logger)
      .loadResources()
    var definitions = resources.components
    if definitions.isEmpty {
      logger.info("no component files: starting the built-in statestore (state.in-memory) and pubsub (pubsub.in-memory)")
      definitions = Self.defaultDefinitions()
    }
    definitions = try InitializationOrder.order(definitions)

    var factories = FactoryRegistry()
    var reserved: [String: String] = [:]
    for factory in BuiltInFactories.all(environment: options.environment) {
      factories.register(factory)
      reserved[factory.type] = "a built-in component"
    }
    var channels: [String: ComponentChannel] = [:]
    let initial = await discover(reserved: reserved, known: [])
    for factory in initial.factories { factories.register(factory) }
    channels.merge(initial.channels) { old, _ in old }

    let loader = ComponentLoader(
      factories: factories, registry: registry, environment: options.environment, logger: logger)
    let monitor = HealthMonitor(
      registry: registry, interval: options.heartbeatInterval, timeout: options.heartbeatTimeout,
      failureThreshold: options.failureThreshold, logger: logger)
    do {
      try await loader.load(definitions)
      await registry.markStarted(subscriptions: resources.subscriptions)
      onStarted(await registry.all)
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await monitor.run() }
        defer { group.cancelAll() }
        try await waitForPending(loader: loader, channels: &channels)
        try? await gracefulShutdown()
      }
    } catch {
      await close(channels: channels)
      throw error
    }
    await close(channels: channels)
  }

  /// Rescans the sockets folder every `rescanInterval` while components are PENDING,
  /// until they are all resolved or `componentWait` has passed.
  private func waitForPending(loader: ComponentLoader, channels: inout [String: ComponentChannel]) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: options.componentWait)
    while await !loader.pendingDefinitions.isEmpty {
      guard clock.now < deadline else {
        try await loader.expirePending(after: options.componentWait)
        return
      }
      do {
        try await Task.sleep(for: options.rescanInterval)
      } catch {
        return  // shutting down
      }
      var reserved: [String: String] = [:]
      for type in await loader.knownTypes { reserved[type] = "an earlier component" }
      let found = await discover(reserved: reserved, known: Set(channels.keys))
      channels.merge(found.channels) { old, _ in old }
      if !found.factories.isEmpty {
        try await loader.resolvePending(with: found.factories)
      }
    }
  }

  /// Scans the sockets folder; sockets in `known` are not dialled again. The
  /// connections discovery opened are the ones the adapters use.
  private func discover(
    reserved: [String: String], known: Set<String>
  ) async -> (factories: [any ComponentFactory], channels: [String: ComponentChannel]) {
    let report: DiscoveryReport
    let channels: [String: ComponentChannel]
    do {
      (report, channels) = try await Discovery(
        socketsDir: options.socketsDir, timeout: options.discoveryTimeout, reservedTypes: reserved, logger: logger,
        excluding: known
      ).scanKeepingChannels()
    } catch .missing(let folder) {
      logger.info("sockets folder \(folder) does not exist (yet): no pluggable components there")
      return ([], [:])
    } catch {
      logger.warning("cannot scan the sockets folder: \(error)")
      return ([], [:])
    }
    var factories: [any ComponentFactory] = []
    for component in report.components {
      guard let channel = channels[component.socket] else { continue }
      for type in component.types {
        guard let block = BuildingBlock(rawValue: String(type.prefix { $0 != "." })) else { continue }
        factories.append(PluggableFactory(type: type, block: block, channel: channel, services: component.services))
      }
    }
    return (factories, channels)
  }

  private func close(channels: [String: ComponentChannel]) async {
    logger.info("closing components")
    await registry.closeAll()
    for channel in channels.values { await channel.close() }
    logger.info("stopped")
  }
}
