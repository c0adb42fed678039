import Foundation
import Logging

/// Turns component definitions into live components: for each, the factory of its type
/// and version, then initialisation (Init with the resolved metadata, then Features or
/// ListOperations) within its `initTimeout`.
///
/// A failure stops start-up unless the definition says `ignoreErrors: true`, which marks
/// it FAILED with its reason. A type no factory provides yet is PENDING: a pluggable
/// component whose process starts after the sidecar. ``resolvePending(with:)`` retries
/// them when new factories appear.
public actor ComponentLoader {
  private var factories: FactoryRegistry
  private let registry: ComponentRegistry
  private let environment: [String: String]
  private let logger: Logger
  private var pending: [ComponentDefinition] = []

  public init(
    factories: FactoryRegistry, registry: ComponentRegistry, environment: [String: String],
    logger: Logger
  ) {
    self.factories = factories
    self.registry = registry
    self.environment = environment
    self.logger = logger
  }

  /// The definitions still waiting for their type to appear.
  public var pendingDefinitions: [ComponentDefinition] { pending }

  /// The types the loader can make.
  public var knownTypes: [String] { factories.types }

  /// Loads `definitions` in order (see ``InitializationOrder``).
  ///
  /// - Throws: ``ComponentLoadError`` for the first failure of a definition without
  ///   `ignoreErrors`.
  public func load(_ definitions: [ComponentDefinition]) async throws(ComponentLoadError) {
    for definition in definitions {
      try await load(definition)
    }
  }

  /// Registers new factories (e.g. sockets that appeared) and initialises the pending
  /// definitions they satisfy.
  public func resolvePending(
    with newFactories: [any ComponentFactory]
  ) async throws(ComponentLoadError) {
    for factory in newFactories { factories.register(factory) }
    let waiting = pending
    pending = []
    for definition in waiting {
      try await load(definition)
    }
  }

  /// Fails every definition still pending: called when `--component-wait` has passed.
  public func expirePending(after wait: Duration) async throws(ComponentLoadError) {
    let waiting = pending
    pending = []
    for definition in waiting {
      let reason =
        "no socket provides type \(definition.type) after waiting \(formatDuration(wait)); is the component process running and serving \(definition.type.split(separator: ".", maxSplits: 1).last.map(String.init) ?? definition.type).sock?"
      try await fail(definition, reason: reason, source: "")
    }
  }

  private func load(_ definition: ComponentDefinition) async throws(ComponentLoadError) {
    guard let factory = factories.factory(for: definition.type) else {
      if !pending.contains(where: { $0.name == definition.name }) { pending.append(definition) }
      await registry.record(
        definition, state: .pending, reason: "waiting for a socket that provides \(definition.type)"
      )
      logger.info(
        "component is PENDING: no socket provides its type yet",
        metadata: ["component": "\(definition.name)", "type": "\(definition.type)"])
      return
    }
    guard factory.accepts(version: definition.version) else {
      try await fail(
        definition,
        reason:
          "\(definition.source): spec.version '\(definition.version)' is not a version of \(definition.type) (\(factory.source))",
        source: factory.source.description)
      return
    }
    await registry.record(definition, state: .initializing, source: factory.source.description)
    do {
      let metadata = try await resolver.resolve(definition)
      let (kind, capabilities) = try await withDeadline(definition.initTimeout) {
        try await factory.make(
          name: definition.name, metadata: metadata.properties, timeout: definition.initTimeout)
      }
      await registry.up(
        InitializedComponent(
          name: definition.name, type: definition.type, version: definition.version,
          source: factory.source,
          capabilities: capabilities, kind: kind,
          metadata: metadata.properties.filter { !metadata.secretKeys.contains($0.key) },
          secretKeys: metadata.secretKeys, environmentKeys: metadata.environmentKeys))
      if let pluggable = factory as? PluggableFactory {
        let properties = metadata.properties
        let name = definition.name
        let timeout = definition.initTimeout
        await registry.setRestart(
          name,
          Restart(channel: pluggable.channel, timeout: timeout) {
            try await pluggable.make(name: name, metadata: properties, timeout: timeout)
          })
      }
      logger.info(
        "component is UP",
        metadata: [
          "component": "\(definition.name)", "type": "\(definition.type)",
          "socket": "\(factory.source)",
          "capabilities": "\(capabilities.joined(separator: ","))",
        ])
    } catch is DeadlineExceeded {
      try await fail(
        definition, reason: initTimeoutReason(definition), source: factory.source.description)
    } catch let error as ComponentCallError where error.kind == .deadlineExceeded {
      try await fail(
        definition, reason: initTimeoutReason(definition), source: factory.source.description)
    } catch {
      try await fail(
        definition, reason: "initialisation failed: \(error)", source: factory.source.description)
    }
  }

  private func initTimeoutReason(_ definition: ComponentDefinition) -> String {
    "initialisation did not finish within \(formatDuration(definition.initTimeout)) (spec.initTimeout)"
  }

  private func fail(
    _ definition: ComponentDefinition, reason: String, source: String
  ) async throws(ComponentLoadError) {
    await registry.record(definition, state: .failed, source: source, reason: reason)
    if definition.ignoreErrors {
      logger.warning(
        "component FAILED (ignoreErrors: true, continuing): \(reason)",
        metadata: ["component": "\(definition.name)", "type": "\(definition.type)"])
      return
    }
    throw ComponentLoadError(component: definition.name, type: definition.type, reason: reason)
  }

  /// Resolves metadata: literals, environment variables, and secrets read from the
  /// secret stores already UP.
  private var resolver: MetadataResolver {
    let registry = self.registry
    return MetadataResolver(environment: environment) { store, name, key in
      guard case .secretStore(let secrets)? = await registry.component(named: store)?.kind else {
        throw ComponentCallError(.unavailable, "secret store '\(store)' is not UP")
      }
      let secret = try await secrets.get(key: name, metadata: [:])
      guard let value = secret[key] else {
        throw SecretStoreError.notFound("\(name) (key \(key))")
      }
      return value
    }
  }
}

/// A component failed to start and start-up stops.
public struct ComponentLoadError: Error, Sendable, Equatable, CustomStringConvertible {
  public var component: String
  public var type: String
  public var reason: String

  public var description: String {
    "component '\(component)' (\(type)) failed to start: \(reason) (set spec.ignoreErrors: true to start without it)"
  }
}

/// A body did not finish within its deadline.
struct DeadlineExceeded: Error {
  var timeout: Duration
}

/// Runs `body`, cancelling it at `timeout`; throws ``DeadlineExceeded`` then.
func withDeadline<T: Sendable>(
  _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
  try await withThrowingTaskGroup(of: T?.self) { group in
    group.addTask { try await body() }
    group.addTask {
      try await Task.sleep(for: timeout)
      return nil
    }
    defer { group.cancelAll() }
    guard let first = try await group.next(), let value = first else {
      throw DeadlineExceeded(timeout: timeout)
    }
    return value
  }
}
