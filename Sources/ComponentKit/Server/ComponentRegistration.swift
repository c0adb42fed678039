import ApiaryContracts
import GRPCCore

/// A building block a ``ComponentServer`` serves: the gRPC services that implement it
/// and the names reflection lists for them.
public struct ComponentRegistration: Sendable {
  /// The services to register with the server.
  public let services: [any RegistrableRPCService]
  /// Their fully qualified names, as reflection lists them.
  public let serviceNames: [String]

  /// Registers ready-made grpc-swift-2 services (for contracts ComponentKit has no
  /// protocol for, or full control), listed in reflection under `serviceNames`.
  public init(services: [any RegistrableRPCService], serviceNames: [String]) {
    self.services = services
    self.serviceNames = serviceNames
  }

  /// One service, listed in reflection under its descriptor's name.
  init(_ service: some RegistrableRPCService, named descriptor: ServiceDescriptor) {
    self.init(services: [service], serviceNames: [descriptor.fullyQualifiedService])
  }

  /// A state store: `StateStore`, plus `TransactionalStateStore` when `Store` conforms
  /// to ``TransactionalStateStoreComponent`` and `QueriableStateStore` when it conforms
  /// to ``QueriableStateStoreComponent``. `make` runs once per `Init`.
  public static func stateStore<Store: StateStoreComponent>(
    _ make: @escaping @Sendable () -> Store
  ) -> Self {
    let instances = InstanceRegistry(make: make)
    var services: [any RegistrableRPCService] = [StateStoreService(instances: instances)]
    var names = [Dapr_Proto_Components_V1_StateStore.descriptor.fullyQualifiedService]
    if Store.self is any TransactionalStateStoreComponent.Type {
      services.append(TransactionalStateStoreService(instances: instances))
      names.append(
        Dapr_Proto_Components_V1_TransactionalStateStore.descriptor.fullyQualifiedService)
    }
    if Store.self is any QueriableStateStoreComponent.Type {
      services.append(QueriableStateStoreService(instances: instances))
      names.append(Dapr_Proto_Components_V1_QueriableStateStore.descriptor.fullyQualifiedService)
    }
    return Self(services: services, serviceNames: names)
  }

  /// A hello component (Layotto's `spec.proto.pluggable.v1.hello.Hello`). `make` runs
  /// once per `Init`.
  public static func hello<Greeter: HelloComponent>(
    _ make: @escaping @Sendable () -> Greeter
  ) -> Self {
    Self(
      HelloService(instances: InstanceRegistry(make: make)),
      named: Spec_Proto_Pluggable_V1_Hello_Hello.descriptor)
  }
}
