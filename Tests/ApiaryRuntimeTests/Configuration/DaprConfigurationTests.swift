import ApiaryRuntime
import ApiaryTestSupport
import Foundation
import Testing

/// `--config` files: Dapr's `kind: Configuration` next to apiary's own settings (spec §4).
@Suite("Dapr Configuration")
struct DaprConfigurationTests {
  func load(_ files: [String: String], order: [String]) throws -> ApiaryConfig {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    for (name, text) in files {
      try text.write(toFile: folder.file(name), atomically: true, encoding: .utf8)
    }
    return try ApiaryConfig.load(paths: order.map(folder.file), environment: ["STORE": "vault"])
  }

  static let configuration = """
    apiVersion: dapr.io/v1alpha1
    kind: Configuration
    metadata:
      name: appconfig
    spec:
      secrets:
        scopes:
          - storeName: ${STORE}
            defaultAccess: deny
            allowedSecrets: ["db-password"]
          - storeName: other
            deniedSecrets: ["root"]
      tracing:
        samplingRate: "1"
        otel: {endpointAddress: "localhost:4317", isSecure: false, protocol: grpc}
      metrics:
        enabled: false
      accessControl:
        defaultAction: deny
    ---
    modules:
      actuator: false
    """

  @Test(
    "one file: Dapr's Configuration (with ${ENV}) and apiary's settings; secret scopes decide as daprd does"
  )
  func both() throws {
    let config = try load(["c.yaml": Self.configuration], order: ["c.yaml"])
    #expect(config.modules.actuator == false && config.modules.httpApi)
    #expect(config.dapr.allows(secret: "db-password", in: "vault"))
    #expect(!config.dapr.allows(secret: "other", in: "vault"))
    #expect(
      !config.dapr.allows(secret: "root", in: "other")
        && config.dapr.allows(secret: "x", in: "other"))
    #expect(config.dapr.allows(secret: "anything", in: "unscoped"))
    #expect(!config.dapr.allows(secret: "DB-PASSWORD", in: "vault"))
    #expect(
      config.dapr.tracing?.samplingRate == 1
        && config.dapr.tracing?.otelEndpoint == "localhost:4317")
    #expect(config.dapr.tracing?.otelSecure == false)
    #expect(config.dapr.metrics.enabled == false)
    #expect(config.dapr.unsupportedSections == ["accessControl"])
  }

  @Test("a later file's sections win; apiary's settings in two files are refused")
  func overlay() throws {
    let later =
      "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nspec:\n  metrics:\n    enabled: true\n"
    let config = try load(
      ["a.yaml": Self.configuration, "b.yaml": later], order: ["a.yaml", "b.yaml"])
    #expect(config.dapr.metrics.enabled && !config.dapr.secretScopes.isEmpty)
    #expect(throws: ConfigurationError.self) {
      try load(
        ["a.yaml": "modules:\n  httpApi: true\n", "b.yaml": "modules:\n  grpcApi: true\n"],
        order: ["a.yaml", "b.yaml"])
    }
  }

  @Test(
    "daprd's start-up failures name the file: a repeated storeName, a bad defaultAccess, a kind that is not Configuration",
    arguments: [
      (
        "spec:\n  secrets:\n    scopes:\n      - storeName: s\n      - storeName: s\n",
        "s storeName is repeated in secrets configuration"
      ),
      (
        "spec:\n  secrets:\n    scopes:\n      - storeName: s\n        defaultAccess: maybe\n",
        "defaultAccess maybe can be either allow or deny"
      ),
      (
        "spec:\n  tracing:\n    otel:\n      protocol: udp\n",
        "spec.tracing.otel.protocol 'udp' is not grpc or http"
      ),
    ])
  func failures(_ spec: String, _ message: String) throws {
    do {
      _ = try load(
        ["c.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Configuration\n" + spec], order: ["c.yaml"])
      Issue.record("accepted")
    } catch {
      #expect("\(error)".contains("c.yaml, document 1: \(message)"), "\(error)")
    }
    #expect(throws: ConfigurationError.self) {
      try load(["c.yaml": "kind: Resiliency\n"], order: ["c.yaml"])
    }
  }
}
