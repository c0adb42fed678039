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
  private let subscriptionsOpen = Atomic<Bool>(true)
  private let onShutdown: @Sendable () -> Void

  /// - Parameter onShutdown: What the Shutdown call does: begin the sidecar's graceful
  ///   shutdown.
  public init(registry: ComponentRegistry, options: AppAPIOptions, onShutdown: @escaping @Sendable () -> Void = {}) {
    self.options = options
    self.directory = ComponentDirectory(registry: registry)
    self.onShutdown = onShutdown
  }

  public var registry: ComponentRegistry { directory.registry }

  /// Whether the sidecar has finished starting its components and, when it delivers
  /// to the app, opened the declarative subscriptions (so nothing published from now
  /// on misses them).
  public var isReady: Bool {
    get async { await registry.isStarted && subscriptionsOpen.load(ordering: .acquiring) }
  }

  /// The readiness the health routes report: the registry's, held at INIT until the
  /// declarative subscriptions are open.
  public var readiness: Readiness {
    get async {
      let readiness = await registry.readiness
      guard readiness == .up, !subscriptionsOpen.load(ordering: .acquiring) else { return readiness }
      return .initializing
    }
  }

  /// Holds readiness until ``subscriptionsOpened()``: called when the sidecar will
  /// deliver to the app, before anything serves.
  public func awaitSubscriptions() { subscriptionsOpen.store(false, ordering: .releasing) }

  /// The declarative subscriptions are open (or could not be, their pub/sub not UP).
  public func subscriptionsOpened() { subscriptionsOpen.store(true, ordering: .releasing) }

  /// Begins the sidecar's graceful shutdown.
  public func shutdown() { onShutdown() }

  /// Sets an attribute of the metadata API's extended metadata (SetMetadata); an
  /// empty value removes it.
  ///
  /// - Throws: ``APIError`` `invalidArgument` for an empty key; `tooLarge`
  ///   (`ERR_METADATA_LIMIT`) when the attributes would pass
  ///   ``AppAPIOptions/maxMetadataEntries`` or ``AppAPIOptions/maxMetadataBytes``:
  ///   nothing is changed then.
  public func setExtendedMetadata(key: String, value: String) throws(APIError) {
    guard !key.isEmpty else {
      throw APIError(.invalidArgument, "ERR_MALFORMED_REQUEST", "a metadata key must not be empty")
    }
    let limits = (entries: options.maxMetadataEntries, bytes: options.maxMetadataBytes)
    let refusal: APIError? = extended.withLock { attributes in
      guard !value.isEmpty else {
        attributes[key] = nil
        return nil
      }
      var next = attributes
      next[key] = value
      if next.count > limits.entries {
        return APIError(
          .tooLarge, "ERR_METADATA_LIMIT",
          "the app's metadata would hold \(next.count) attributes; the limit is \(limits.entries) (--max-metadata-entries). Set an attribute to an empty value to remove it")
      }
      let bytes = next.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
      if bytes > limits.bytes {
        return APIError(
          .tooLarge, "ERR_METADATA_LIMIT",
          "the app's metadata would hold \(bytes) bytes; the limit is \(limits.bytes) bytes (--max-metadata-size). Set an attribute to an empty value to remove it")
      }
      attributes = next
      return nil
    }
    if let refusal { throw refusal }
  }

  /// The attributes set with ``setExtendedMetadata(key:value:)``.
  public var customMetadata: [String: String] { extended.withLock { $0 } }
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
    public var route: String
    public var metadata: [String: String]
    public var deadLetterTopic: String
    public var kind: Kind
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
