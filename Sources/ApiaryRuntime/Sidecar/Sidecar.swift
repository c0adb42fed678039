import ApiaryShared
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The sidecar's component life cycle as a service: load the configuration, discover
/// the sockets, initialise every component in dependency order, keep initialising
/// PENDING ones as their sockets appear, heartbeat them (``HealthMonitor``: DOWN after
/// failed beats, initialised again when they answer), and on shutdown close them in
/// reverse order.
public final class Sidecar: Service {
  public let options: SidecarOptions
  /// The configured components and their states.
  public let registry = ComponentRegistry()
  /// The supervised component processes, when `apiary.yaml` lists some.
  public let supervisor: ProcessSupervisor?
  /// Where component logs go; nil when log forwarding is off.
  public let logHub: ComponentLogHub?
  private let tailers = TailerTasks()
  private let warned = WarnedOnce()
  private let logger: Logger
  private let onStarted: @Sendable ([ComponentStatus]) -> Void
  private let prepared: LoadedResources?

  /// - Parameters:
  ///   - resources: What ``prepare(options:logger:)`` read, so that a bad file stops
  ///     start-up before any port opens; nil reads them when the service runs.
  ///   - supervisor: Started before discovery, stopped after the components close.
  ///   - onStarted: Called once every component that could start has started
  ///     (PENDING ones may follow later), with the start-up table.
  public init(
    options: SidecarOptions, logger: Logger, resources: LoadedResources? = nil,
    supervisor: ProcessSupervisor? = nil,
    logHub: ComponentLogHub? = nil,
    onStarted: @escaping @Sendable ([ComponentStatus]) -> Void = { _ in }
  ) {
    self.options = options
    self.logger = logger
    self.prepared = resources
    self.supervisor = supervisor
    self.logHub = logHub
    self.onStarted = onStarted
  }

  /// Reads and checks the resource files as ``run()`` will use them: components in
  /// initialisation order (the built-in defaults when there are none), components of
  /// building blocks Apiary does not serve left out, and types that are typos of
  /// built-in ones refused (``ComponentTypeCheck``). Types no socket serves yet are
  /// logged as waiting.
  ///
  /// - Throws: ``ConfigurationError`` naming the file and the field.
  public static func prepare(
    options: SidecarOptions, logger: Logger
  ) throws(ConfigurationError) -> LoadedResources {
    var resources = try ResourceLoader(
      paths: options.resourcesPaths, appID: options.appID, logger: logger
    )
    .loadResources()
    if resources.components.isEmpty {
      logger.info(
        "no component files: starting the built-in statestore (state.in-memory) and pubsub (pubsub.in-memory)"
      )
      resources.components = defaultDefinitions()
    }
    let socketNames = Set(
      SocketFolderListing.sockets(in: options.socketsDir).keys.map {
        componentName(forSocketFileName: ($0 as NSString).lastPathComponent)
      })
    let findings = ComponentTypeCheck.check(
      resources.components, builtIns: BuiltInFactories.types, socketNames: socketNames)
    if let error = findings.first(where: \.isError) {
      throw ConfigurationError(error.message)
    }
    for finding in findings {
      if case .unsupportedBlock(let definition) = finding {
        logger.warning("\(finding.message)")
        resources.components.removeAll { $0.name == definition.name }
      } else {
        logger.notice("\(finding.message)")
      }
    }
    resources.components = try InitializationOrder.order(resources.components)
    return resources
  }

  /// The definitions `apiary run` starts with no component files at all: a built-in
  /// state store named `statestore` and pub/sub named `pubsub`, as Dapr's quick start
  /// expects.
  public static func defaultDefinitions() -> [ComponentDefinition] {
    let source = DefinitionSource(file: "(built-in default)", document: 1)
    return [
      ComponentDefinition(
        name: "statestore", type: "state.in-memory", version: "v1", metadata: [],
        ignoreErrors: false,
        initTimeout: .seconds(5), secretStore: nil, scopes: [], source: source),
      ComponentDefinition(
        name: "pubsub", type: "pubsub.in-memory", version: "v1", metadata: [], ignoreErrors: false,
        initTimeout: .seconds(5), secretStore: nil, scopes: [], source: source),
    ]
  }

  public func run() async throws {
    let resources = try prepared ?? Self.prepare(options: options, logger: logger)
    let definitions = resources.components

    // Supervised component processes start before discovery, so it finds their sockets.
    if let supervisor { await supervisor.start() }
    let channels = ChannelSet()
    do {
      try await runComponents(
        definitions, subscriptions: resources.subscriptions, channels: channels)
    } catch {
      await close(channels: channels)
      throw error
    }
    await close(channels: channels)
  }

  private func runComponents(
    _ definitions: [ComponentDefinition], subscriptions: [SubscriptionDefinition],
    channels: ChannelSet
  ) async throws {
    var factories = FactoryRegistry()
    var reserved: [String: String] = [:]
    for factory in BuiltInFactories.all(environment: options.environment) {
      factories.register(factory)
      reserved[factory.type] = "a built-in component"
    }
    let initial = await discover(reserved: reserved, known: [])
    for factory in initial.factories { factories.register(factory) }
    channels.merge(initial.channels)

    let loader = ComponentLoader(
      factories: factories, registry: registry, environment: options.environment, logger: logger)
    let monitor = HealthMonitor(
      registry: registry, interval: options.heartbeatInterval, timeout: options.heartbeatTimeout,
      failureThreshold: options.failureThreshold, logger: logger)
    let startedAt = ContinuousClock.now
    try await loader.load(definitions)
    await registry.markStarted(subscriptions: subscriptions)
    onStarted(await registry.all)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await monitor.run() }
      group.addTask {
        try await self.watchSockets(
          loader: loader, monitor: monitor, channels: channels, startedAt: startedAt)
      }
      group.addTask { try? await gracefulShutdown() }
      defer { group.cancelAll() }
      // The first to finish: shutdown, or the watcher failing a component that waited
      // too long for its socket.
      try await group.next()
    }
  }

  /// Follows the sockets folder for the sidecar's whole life (``SocketFolderWatcher``):
  /// a socket that appears is discovered while components are PENDING (they start as
  /// their type appears, and fail after `componentWait`); a known socket that is
  /// created again is heartbeated at once (its process restarted); a socket that
  /// disappears takes its components DOWN.
  private func watchSockets(
    loader: ComponentLoader, monitor: HealthMonitor, channels: ChannelSet,
    startedAt: ContinuousClock.Instant
  ) async throws {
    let watcher = SocketFolderWatcher(
      folder: options.socketsDir, interval: options.rescanInterval, mode: options.watchMode,
      logger: logger)
    var listing = SocketFolderListing(folder: options.socketsDir)
    _ = listing.update()
    let deadline = startedAt.advanced(by: options.componentWait)
    let folder = options.socketsDir
    var folderPresent = FileKind.of(folder) == .directory
    for await _ in watcher.wakeups() {
      let present = FileKind.of(folder) == .directory
      if present != folderPresent {
        folderPresent = present
        if !present {
          logger.warning(
            "the sockets folder \(folder) was removed: its components are DOWN until their sockets are back in it"
          )
        } else if let problem = SocketsFolderTrust.check(folder) {
          logger.warning(
            "the sockets folder is back, but \(problem); only sockets whose listener has an allowed uid are used"
          )
        } else {
          logger.notice("the sockets folder \(folder) exists again")
        }
      }
      let change = listing.update()
      for path in change.removed + change.created { warned.forget(socket: path) }
      let known = channels.paths
      for path in change.removed where known.contains(path) {
        await monitor.socketRemoved(path)
      }
      for path in change.created where known.contains(path) {
        logger.debug("component socket created again", metadata: ["socket": "\(path)"])
        await monitor.beat(socket: path)
      }
      guard await !loader.pendingDefinitions.isEmpty else { continue }
      if ContinuousClock.now >= deadline {
        try await loader.expirePending(after: options.componentWait)
        continue
      }
      var reserved: [String: String] = [:]
      for type in await loader.knownTypes { reserved[type] = "an earlier component" }
      let found = await discover(reserved: reserved, known: channels.paths)
      channels.merge(found.channels)
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
    let found = await scan(reserved: reserved, known: known)
    if let logHub {
      for component in found.report?.components ?? []
      where component.services.contains(Self.logsService) {
        guard let channel = found.channels[component.socket] else { continue }
        tailers.start(
          ComponentLogTailer(
            source: component.name, channel: channel, types: component.types, hub: logHub,
            logger: logger))
      }
    }
    return (found.factories, found.channels)
  }

  static let logsService = "apiary.proto.components.v1.ComponentLogs"

  private func scan(
    reserved: [String: String], known: Set<String>
  ) async -> (
    factories: [any ComponentFactory], channels: [String: ComponentChannel],
    report: DiscoveryReport?
  ) {
    let report: DiscoveryReport
    let channels: [String: ComponentChannel]
    do {
      var discovery = Discovery(
        socketsDir: options.socketsDir, timeout: options.discoveryTimeout, reservedTypes: reserved,
        logger: logger,
        excluding: known, transport: options.transport,
        allowedPeerUIDs: options.allowedComponentUIDs)
      discovery.warned = warned
      (report, channels) = try await discovery.scanKeepingChannels()
      for component in report.components { warned.forget(socket: component.socket) }
    } catch .missing(let folder) {
      logger.info("sockets folder \(folder) does not exist (yet): no pluggable components there")
      return ([], [:], nil)
    } catch {
      logger.warning("cannot scan the sockets folder: \(error)")
      return ([], [:], nil)
    }
    var factories: [any ComponentFactory] = []
    for component in report.components {
      guard let channel = channels[component.socket] else { continue }
      for type in component.types {
        guard let block = BuildingBlock(rawValue: String(type.prefix { $0 != "." })) else {
          continue
        }
        factories.append(
          PluggableFactory(
            type: type, block: block, channel: channel, services: component.services,
            callTimeout: options.callTimeout))
      }
    }
    return (factories, channels, report)
  }

  private func close(channels: ChannelSet) async {
    await tailers.cancelAll()
    logger.info("closing components")
    await registry.closeAll()
    for channel in channels.all { await channel.close() }
    if let supervisor { await supervisor.stop(grace: options.shutdownGrace) }
    logger.info("stopped")
  }
}

/// The open connections to component sockets, by path.
final class ChannelSet: Sendable {
  private let channels = Mutex<[String: ComponentChannel]>([:])

  /// Adds `new`, keeping the existing connection of a path already known.
  func merge(_ new: [String: ComponentChannel]) {
    channels.withLock { $0.merge(new) { old, _ in old } }
  }

  var paths: Set<String> { channels.withLock { Set($0.keys) } }
  var all: [ComponentChannel] { channels.withLock { Array($0.values) } }
}

/// The log tail streams, one task per component socket that serves ComponentLogs.
final class TailerTasks: Sendable {
  private let tasks = Mutex<[Task<Void, Never>]>([])

  func start(_ tailer: ComponentLogTailer) {
    let task = Task { await tailer.run() }
    tasks.withLock { $0.append(task) }
  }

  func cancelAll() async {
    let all = tasks.withLock { tasks in
      defer { tasks.removeAll() }
      return tasks
    }
    for task in all { task.cancel() }
    for task in all { await task.value }
  }
}
