/// The building blocks a pluggable component can implement, and the gRPC services that
/// reveal each one through reflection.
public enum BuildingBlock: String, Sendable, CaseIterable, Comparable {
  case state
  case pubsub
  case bindings
  case secretstores
  case hello

  /// The component type a socket named `name` gets for this building block, e.g.
  /// `state.my-store`.
  public func componentType(name: String) -> String {
    "\(rawValue).\(name)"
  }

  public static func < (lhs: Self, rhs: Self) -> Bool {
    allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
  }
}

/// What a gRPC service found on a component socket means to the sidecar.
public enum ServiceRole: Sendable, Equatable {
  /// The service that makes the socket a component of this building block.
  case primary(BuildingBlock)
  /// An optional service used through another building block's connection, gated by
  /// its `Features` answer (e.g. `TransactionalStateStore` next to `StateStore`).
  case auxiliary(BuildingBlock)
  /// Infrastructure every gRPC server may offer: reflection, health, Apiary's logs.
  case infrastructure
  /// A service the sidecar does not know; listed and ignored.
  case unknown

  /// The role of the fully qualified service `name`.
  public static func of(_ name: String) -> ServiceRole {
    switch name {
    case "dapr.proto.components.v1.StateStore": .primary(.state)
    case "dapr.proto.components.v1.TransactionalStateStore",
      "dapr.proto.components.v1.QueriableStateStore",
      "dapr.proto.components.v1.TransactionalStoreMultiMaxSize":
      .auxiliary(.state)
    case "dapr.proto.components.v1.PubSub": .primary(.pubsub)
    case "dapr.proto.components.v1.InputBinding", "dapr.proto.components.v1.OutputBinding":
      .primary(.bindings)
    case "dapr.proto.components.v1.SecretStore": .primary(.secretstores)
    case "spec.proto.pluggable.v1.hello.Hello": .primary(.hello)
    case "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
      "grpc.health.v1.Health", "apiary.proto.components.v1.ComponentLogs":
      .infrastructure
    default: .unknown
    }
  }
}

/// The component name a socket file gets: its file name minus the last extension,
/// lower-cased (`My-Store.sock` → `my-store`, `a.b.sock` → `a.b`, `redis` → `redis`).
public func componentName(forSocketFileName fileName: String) -> String {
  var base = Substring(fileName)
  if let dot = base.lastIndex(of: "."), dot != base.startIndex {
    base = base[..<dot]
  }
  return base.lowercased()
}
