import ApiaryRuntime
import Foundation
import Synchronization

/// The application API's semantics, shared by the gRPC service and the HTTP routes:
/// component lookup, state key prefixes, CloudEvents, error mapping. The two surfaces
/// only translate their wire formats to and from these calls.
public final class AppAPI: Sendable {
  public let options: AppAPIOptions
  public let directory: ComponentDirectory
  /// Streaming, programmatic and declarative subscriptions, for the metadata API.
  public let subscriptions = SubscriptionTable()
  private let extended = Mutex<[String: String]>([:])
  private let readinessHolds = Atomic<Int>(0)
  /// The resiliency policies of component calls and deliveries.
  public let policies: ResiliencyPolicies
  /// Spans and metrics of the API and the deliveries; both off by default.
  public let observability: Observability
  private let onShutdown: @Sendable () -> Void

  /// - Parameters:
  ///   - observability: The tracer (when tracing is on) and the API metrics (when
  ///     metrics are on).
  ///   - onShutdown: What the Shutdown call does: begin the sidecar's graceful
  ///     shutdown.
  public init(
    registry: ComponentRegistry, options: AppAPIOptions,
    policies: ResiliencyPolicies = ResiliencyPolicies(),
    observability: Observability = .off, onShutdown: @escaping @Sendable () -> Void = {}
  ) {
    self.options = options
    self.policies = policies
    self.observability = observability
    self.directory = ComponentDirectory(registry: registry)
    self.onShutdown = onShutdown
  }

  public var registry: ComponentRegistry { directory.registry }

  /// Whether the sidecar has finished starting its components and every start-up
  /// step that holds readiness (the declarative subscriptions, the outbox relays) is
  /// done, so nothing published from now on misses them.
  public var isReady: Bool {
    get async { await registry.isStarted && readinessHolds.load(ordering: .acquiring) == 0 }
  }

  /// The readiness the health routes report: the registry's, held at INIT while a
  /// start-up step holds it.
  public var readiness: Readiness {
    get async {
      let readiness = await registry.readiness
      guard readiness == .up, readinessHolds.load(ordering: .acquiring) > 0 else {
        return readiness
      }
      return .initializing
    }
  }

  /// Holds readiness at INIT until the returned hold is released: taken before
  /// anything serves by a service that must subscribe first.
  public func holdReadiness() -> ReadinessHold {
    readinessHolds.add(1, ordering: .acquiringAndReleasing)
    return ReadinessHold { [self] in
      _ = readinessHolds.subtract(1, ordering: .acquiringAndReleasing)
    }
  }

  /// Begins the sidecar's graceful shutdown.
  public func shutdown() { onShutdown() }

  /// Sets an attribute of the metadata API's extended metadata (SetMetadata); an
  /// empty value removes it.
  ///
  /// - Throws: ``DaprError`` `invalidArgument` for an empty key; `tooLarge`
  ///   (`ERR_METADATA_LIMIT`) when the attributes would pass
  ///   ``AppAPIOptions/maxMetadataEntries`` or ``AppAPIOptions/maxMetadataBytes``:
  ///   nothing is changed then.
  public func setExtendedMetadata(key: String, value: String) throws(DaprError) {
    guard !key.isEmpty else {
      throw DaprError(.invalidArgument, "ERR_MALFORMED_REQUEST", "a metadata key must not be empty")
    }
    let limits = (entries: options.maxMetadataEntries, bytes: options.maxMetadataBytes)
    let refusal: DaprError? = extended.withLock { attributes in
      guard !value.isEmpty else {
        attributes[key] = nil
        return nil
      }
      var next = attributes
      next[key] = value
      if next.count > limits.entries {
        return DaprError(
          .tooLarge, "ERR_METADATA_LIMIT",
          "the app's metadata would hold \(next.count) attributes; the limit is \(limits.entries) (--max-metadata-entries). Set an attribute to an empty value to remove it"
        )
      }
      let bytes = next.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
      if bytes > limits.bytes {
        return DaprError(
          .tooLarge, "ERR_METADATA_LIMIT",
          "the app's metadata would hold \(bytes) bytes; the limit is \(limits.bytes) bytes (--max-metadata-size). Set an attribute to an empty value to remove it"
        )
      }
      attributes = next
      return nil
    }
    if let refusal { throw refusal }
  }

  /// The attributes set with ``setExtendedMetadata(key:value:)``.
  public var customMetadata: [String: String] { extended.withLock { $0 } }
}

/// A hold on the sidecar's readiness (``AppAPI/holdReadiness()``), released once.
public final class ReadinessHold: Sendable {
  private let release: @Sendable () -> Void
  private let released = Atomic<Bool>(false)

  init(release: @escaping @Sendable () -> Void) { self.release = release }

  /// Lets readiness go (once; later calls do nothing).
  public func done() {
    if !released.exchange(true, ordering: .acquiringAndReleasing) { release() }
  }
}

extension AppAPI {
  /// Runs a call to component `name` inside its resiliency policy for `direction`
  /// (timeout per attempt, retries, circuit breaker); at once when it has none.
  func outbound<T: Sendable>(
    _ name: String, direction: ResiliencyDirection, _ body: @escaping @Sendable () async throws -> T
  ) async throws -> T {
    guard let policy = policies.policy(component: name, direction: direction) else {
      return try await body()
    }
    return try await policy.run(body)
  }
}

/// The subscriptions the sidecar delivers, for the metadata API.
public actor SubscriptionTable {
  /// How a subscription was made.
  public enum Kind: String, Sendable {
    case declarative = "DECLARATIVE"
    case programmatic = "PROGRAMMATIC"
    case streaming = "STREAMING"
  }

  /// One active subscription.
  public struct Entry: Sendable, Equatable {
    public var pubsubName: String
    public var topic: String
    public var routes: SubscriptionRoutes
    public var metadata: [String: String]
    public var deadLetterTopic: String
    public var kind: Kind

    public init(
      pubsubName: String, topic: String, routes: SubscriptionRoutes, metadata: [String: String],
      deadLetterTopic: String, kind: Kind
    ) {
      self.pubsubName = pubsubName
      self.topic = topic
      self.routes = routes
      self.metadata = metadata
      self.deadLetterTopic = deadLetterTopic
      self.kind = kind
    }
  }

  private var entries: [UInt64: Entry] = [:]
  private var next: UInt64 = 0

  public init() {}

  /// Records `entry`; returns the handle that removes it.
  public func add(_ entry: Entry) -> UInt64 {
    next += 1
    entries[next] = entry
    return next
  }

  public func remove(_ handle: UInt64) {
    entries[handle] = nil
  }

  /// The subscriptions, in the order they were made.
  public var all: [Entry] { entries.sorted { $0.key < $1.key }.map(\.value) }
}
