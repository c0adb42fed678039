import ApiaryContracts
import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// What a local user can read from a running sidecar, and what the app can make it
/// hold: metadata values, metric labels, the routes open without the token, and the
/// metadata API's bounds.
@Suite("Exposure and bounds end to end", .serialized)
struct ExposureEndToEndTests {
  /// A pluggable secret store (the Python fixture) and a store whose metadata mixes a
  /// literal with a credential in it, an environment value and a secret.
  static let resources = """
    ---
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: vault
    spec:
      type: secretstores.multi
      metadata:
        - name: secret.db-password-7f3a.value
          value: swordfish
    ---
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: orders
    spec:
      type: state.in-memory
      metadata:
        - name: redisPassword
          value: x-literal-password
        - name: connectionString
          value: redis://u:p@db
        - name: region
          envRef: ORDERS_REGION
        - name: token
          secretKeyRef: {name: db-password-7f3a, key: value}
    auth:
      secretStore: vault

    """

  static let environment = ["ORDERS_REGION": "region-from-env-51c2"]

  @Test(
    "/actuator/components shows metadata names with values redacted; --actuator-show-metadata-values shows file values, never envRef or secretKeyRef ones"
  )
  func componentMetadata() async throws {
    for showValues in [false, true] {
      try await withE2E(
        extraResources: Self.resources,
        extraArguments: showValues ? ["--actuator-show-metadata-values"] : [],
        extraEnvironment: Self.environment
      ) { sidecar in
        let body = await httpGet(port: sidecar.httpPort, "/actuator/components")?.body ?? ""
        let orders = try #require(Self.component("orders", in: body), "\(body)")
        let metadata = try #require(orders["metadata"] as? [String: String], "\(orders)")
        #expect(Set(metadata.keys) == ["redisPassword", "connectionString", "region", "token"])
        #expect(metadata["region"] == "******" && metadata["token"] == "******", "\(metadata)")
        #expect(!body.contains("region-from-env-51c2"))
        // The secret's value is a literal in the vault's own file: shown only with the flag.
        #expect(body.contains("swordfish") == showValues)
        if showValues {
          #expect(
            metadata["redisPassword"] == "x-literal-password"
              && metadata["connectionString"] == "redis://u:p@db")
        } else {
          #expect(
            metadata["redisPassword"] == "******" && metadata["connectionString"] == "******",
            "\(metadata)")
          #expect(!body.contains("x-literal-password") && !body.contains("u:p@db"))
        }
      }
    }
  }

  @Test(
    "/metrics labels name methods only: a secret's name read through a pluggable store appears nowhere in it"
  )
  func metricsCarryNoRequestData() async throws {
    try await withE2E(extraResources: Self.resources, extraEnvironment: Self.environment) {
      sidecar in
      let found = await httpGet(port: sidecar.httpPort, "/v1.0/secrets/vault/db-password-7f3a")
      #expect(found?.status == 200, "\(String(describing: found))")
      let missing = await httpGet(port: sidecar.httpPort, "/v1.0/secrets/vault/no-such-secret-9d1e")
      #expect(missing?.status != 200)
      let metrics = await httpGet(port: sidecar.httpPort, "/metrics")?.body ?? ""
      #expect(
        metrics.contains(#"apiary_component_calls_total{component="vault",method="Get"}"#),
        "\(metrics)")
      #expect(!metrics.contains("db-password-7f3a") && !metrics.contains("no-such-secret-9d1e"))
      #expect(!metrics.contains("Get("))
    }
  }

  @Test(
    "with a token: the probes answer without it with a status only; details, info and components need it; /metrics and healthz stay open"
  )
  func routesOpenWithoutTheToken() async throws {
    try await withE2E(token: "t0ken") { sidecar in
      let port = sidecar.httpPort
      let token = ["dapr-api-token": "t0ken"]
      for path in ["/actuator/health/liveness", "/actuator/health/readiness"] {
        let open = await httpGet(port: port, path)
        #expect(open?.status == 200, "\(path): \(String(describing: open))")
        let object =
          try JSONSerialization.jsonObject(with: Data((open?.body ?? "").utf8)) as? [String: Any]
        #expect(object?.keys.sorted() == ["status"], "\(path): \(String(describing: open))")
        let detailed = await httpRequest(port: port, "GET", path, headers: token)
        #expect(
          detailed?.body.contains(#""components""#) == true,
          "\(path): \(String(describing: detailed))")
      }
      #expect(
        !(await httpGet(port: port, "/actuator/health/readiness")?.body.contains("memstore") ?? true)
      )
      for path in ["/actuator/info", "/actuator/components", "/actuator/logger"] {
        #expect(await httpGet(port: port, path)?.status == 401, "\(path)")
        #expect(
          await httpRequest(port: port, "GET", path, headers: token)?.status == 200, "\(path)")
      }
      #expect(await httpGet(port: port, "/metrics")?.status == 200)
      #expect(await httpGet(port: port, "/v1.0/healthz")?.status == 204)
    }
  }

  @Test(
    "the metadata API is bounded in attributes and bytes (HTTP 413 / gRPC RESOURCE_EXHAUSTED, the limit named); an empty value removes an attribute"
  )
  func metadataBounds() async throws {
    try await withE2E(extraArguments: ["--max-metadata-entries", "3", "--max-metadata-size", "1Ki"])
    { sidecar in
      let port = sidecar.httpPort
      for key in ["a", "b", "c"] {
        #expect(
          await httpRequest(port: port, "PUT", "/v1.0/metadata/\(key)", body: Array("v".utf8))?
            .status
            == 204)
      }
      let fourth = await httpRequest(port: port, "PUT", "/v1.0/metadata/d", body: Array("v".utf8))
      #expect(fourth?.status == 413, "\(String(describing: fourth))")
      #expect(
        fourth?.body.contains("ERR_METADATA_LIMIT") == true
          && fourth?.body.contains("--max-metadata-entries") == true)
      // Removing one makes room again.
      #expect(await httpRequest(port: port, "PUT", "/v1.0/metadata/a")?.status == 204)
      let listed = await httpGet(port: port, "/v1.0/metadata")?.body ?? ""
      #expect(!listed.contains(#""a":"#) && listed.contains(#""b":"v""#), "\(listed)")
      let large = await httpRequest(
        port: port, "PUT", "/v1.0/metadata/big",
        body: Array(repeating: UInt8(ascii: "x"), count: 1500))
      #expect(large?.status == 413, "\(String(describing: large))")

      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: "127.0.0.1", port: sidecar.grpcPort), transportSecurity: .plaintext
        )
      ) { client in
        let dapr = Dapr_Proto_Runtime_V1_Dapr.Client(wrapping: client)
        var request = Dapr_Proto_Runtime_V1_SetMetadataRequest()
        request.key = "e"
        request.value = "v"
        _ = try await dapr.setMetadata(request)
        request.key = "f"
        let error = await #expect(throws: RPCError.self) { _ = try await dapr.setMetadata(request) }
        #expect(error?.code == .resourceExhausted, "\(String(describing: error))")
        #expect(error?.message.contains("--max-metadata-entries") == true)
        request.key = "e"
        request.value = String(repeating: "y", count: 2000)
        let tooBig = await #expect(throws: RPCError.self) {
          _ = try await dapr.setMetadata(request)
        }
        #expect(
          tooBig?.message.contains("--max-metadata-size") == true, "\(String(describing: tooBig))")
      }
    }
  }

  /// The entry of component `name` in an `/actuator/components` body.
  static func component(_ name: String, in body: String) -> [String: Any]? {
    let list = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]]
    return list?.first { $0["name"] as? String == name }
  }
}
