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
  private let onShutdown: @Sendable () -> Void

  /// - Parameter onShutdown: What the Shutdown call does: begin the sidecar's graceful
  ///   shutdown.
  public init(registry: ComponentRegistry, options: AppAPIOptions, onShutdown: @escaping @Sendable () -> Void = {}) {
    self.options = options
    self.directory = ComponentDirectory(registry: registry)
    self.onShutdown = onShutdown
  }

  public var registry: ComponentRegistry { directory.registry }

  /// Whether the sidecar has finished starting its components.
  public var isReady: Bool {
    get async { await registry.isStarted }
  }

  /// Begins the sidecar's graceful shutdown.
  public func shutdown() { onShutdown() }

  /// Adds an attribute to the metadata API's extended metadata (SetMetadata).
  public func setExtendedMetadata(key: String, value: String) throws(APIError) {
    guard !key.isEmpty else {
      throw APIError(.invalidArgument, "ERR_MALFORMED_REQUEST", "a metadata key must not be empty")
    }
    extended.withLock { $0[key] = value }
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
