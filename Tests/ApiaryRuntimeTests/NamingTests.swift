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

  @Test("durations are written the way Dapr's configuration writes them")
  func durations() {
    #expect(DurationParsing.parse("2s") == .seconds(2))
    #expect(DurationParsing.parse("500ms") == .milliseconds(500))
    #expect(DurationParsing.parse("1m30s") == .seconds(90))
    #expect(DurationParsing.parse("1.5s") == .milliseconds(1500))
    #expect(DurationParsing.parse("2h") == .seconds(7200))
    #expect(DurationParsing.parse("5") == nil)
    #expect(DurationParsing.parse("") == nil)
    #expect(DurationParsing.parse("fast") == nil)
    #expect(DurationParsing.parse("5 parsecs") == nil)
  }

  @Test("durations in daprd's log lines are written as Go's time.Duration prints them")
  func goDurations() {
    #expect(goDurationString(.milliseconds(100)) == "100ms")
    #expect(goDurationString(.milliseconds(1500)) == "1.5s")
    #expect(goDurationString(.seconds(120)) == "2m0s")
    #expect(goDurationString(.seconds(3600)) == "1h0m0s")
    #expect(goDurationString(.seconds(90)) == "1m30s")
    #expect(goDurationString(.zero) == "0s")
    #expect(goDurationString(.microseconds(2)) == "2µs")
    #expect(goDurationString(.nanoseconds(1_500_000)) == "1.5ms")
  }

  @Test("durations past 100 years are refused, not a crash (found by fuzzing: 2562048h overflowed)")
  func hugeDurations() {
    #expect(DurationParsing.parse("876000h") == .seconds(876_000 * 3600))
    for text in ["876001h", "2562048h", "99999999999999999999h", "1e400s", "876000h1s"] {
      #expect(DurationParsing.parse(text) == nil, "\(text)")
    }
  }

  @Test("JSON strings escape quotes, backslashes and control characters")
  func jsonText() {
    #expect(JSONText.quoted(#"a "b" \c"#) == #""a \"b\" \\c""#)
    #expect(JSONText.quoted("line\nnext\u{01}") == #""line\nnext\u0001""#)
    #expect(JSONText.quoted("día/🐝") == "\"día/🐝\"")
  }
}
