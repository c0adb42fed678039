import GRPCCore
import Synchronization

/// The gRPC metadata key that names the configured component instance a call is for.
public let componentInstanceHeader = "x-component-instance"

/// One live instance of a building block per `x-component-instance` value.
///
/// The sidecar may configure several components on one socket; each call carries the
/// configured name in the header, and each `Init` creates that name's instance anew
/// (a sidecar that reconnects re-runs Init, so the instance restarts clean). Calls for
/// a name that was never initialised fail with FAILED_PRECONDITION.
public final class InstanceRegistry<Instance: Sendable>: Sendable {
  private let make: @Sendable () -> Instance
  private let instances = Mutex<[String: Instance]>([:])

  /// Creates a registry that builds instances with `make`.
  public init(make: @escaping @Sendable () -> Instance) {
    self.make = make
  }

  /// The instance name a call is for: the header's value, or "" when absent.
  public static func instanceName(in metadata: Metadata) -> String {
    for value in metadata[stringValues: componentInstanceHeader] {
      return value
    }
    return ""
  }

  /// Creates a fresh instance for the call's name, lets `initialise` set it up, then
  /// makes it the one that name's calls reach. When `initialise` throws, the previous
  /// instance (if any) stays in place.
  public func initialise(
    metadata: Metadata,
    _ initialise: (Instance) async throws -> Void
  ) async throws {
    let name = Self.instanceName(in: metadata)
    let instance = make()
    try await initialise(instance)
    instances.withLock { $0[name] = instance }
  }

  /// The instance a call is for.
  ///
  /// - Throws: `RPCError` FAILED_PRECONDITION when the name was never initialised.
  public func instance(for metadata: Metadata) throws(RPCError) -> Instance {
    let name = Self.instanceName(in: metadata)
    guard let instance = instances.withLock({ $0[name] }) else {
      let shown =
        name.isEmpty
        ? "the default instance (no \(componentInstanceHeader) header)" : "instance '\(name)'"
      throw RPCError(
        code: .failedPrecondition, message: "\(shown) is not initialised; call Init first")
    }
    return instance
  }

  /// The names of the initialised instances.
  public var names: [String] { instances.withLock { Array($0.keys) }.sorted() }
}
