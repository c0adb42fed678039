import ApiaryRuntime
import Testing

@Suite("component naming and service roles")
struct NamingTests {
  @Test(
    "the component name is the file name minus its last extension, lower-cased",
    arguments: [
      ("my-store.sock", "my-store"), ("Redis.sock", "redis"), ("a.b.sock", "a.b"),
      ("plain", "plain"), (".hidden", ".hidden"), ("UPPER.SOCKET", "upper"),
    ])
  func names(fileName: String, expected: String) {
    #expect(componentName(forSocketFileName: fileName) == expected)
  }

  @Test("each known service maps to its building block; others are unknown")
  func roles() {
    #expect(ServiceRole.of("dapr.proto.components.v1.StateStore") == .primary(.state))
    #expect(
      ServiceRole.of("dapr.proto.components.v1.TransactionalStateStore") == .auxiliary(.state))
    #expect(ServiceRole.of("dapr.proto.components.v1.QueriableStateStore") == .auxiliary(.state))
    #expect(
      ServiceRole.of("dapr.proto.components.v1.TransactionalStoreMultiMaxSize")
        == .auxiliary(.state))
    #expect(ServiceRole.of("dapr.proto.components.v1.PubSub") == .primary(.pubsub))
    #expect(ServiceRole.of("dapr.proto.components.v1.InputBinding") == .primary(.bindings))
    #expect(ServiceRole.of("dapr.proto.components.v1.OutputBinding") == .primary(.bindings))
    #expect(ServiceRole.of("dapr.proto.components.v1.SecretStore") == .primary(.secretstores))
    #expect(ServiceRole.of("spec.proto.pluggable.v1.hello.Hello") == .primary(.hello))
    #expect(ServiceRole.of("grpc.health.v1.Health") == .infrastructure)
    #expect(ServiceRole.of("apiary.proto.components.v1.ComponentLogs") == .infrastructure)
    #expect(ServiceRole.of("example.Thing") == .unknown)
    #expect(BuildingBlock.secretstores.componentType(name: "vault") == "secretstores.vault")
  }
}
