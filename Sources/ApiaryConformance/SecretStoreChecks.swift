import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCCoreCTransport

/// The secret store contract (`dapr.proto.components.v1.SecretStore`).
enum SecretStoreChecks {
  typealias Client = Dapr_Proto_Components_V1_SecretStore.Client<SelectedClientTransport>

  static func suite() -> BlockSuite {
    BlockSuite(
      block: .secretstores,
      initialise: { context in
        var request = Dapr_Proto_Components_V1_SecretStoreInitRequest()
        request.metadata.properties = context.options.metadata
        let client = Client(wrapping: context.client)
        return try await context.initialise {
          _ = try await client.`init`(request, metadata: $0, options: $1)
        } features: {
          try await client.features(.init(), metadata: $0, options: $1).features
        }
      },
      checks: [ping, bulkGet, get, getMissing, singleValue])
  }

  static func all(_ context: CheckContext) async throws -> [String: [String: String]] {
    try await expectOK("BulkGet") {
      try await Client(wrapping: context.client).bulkGet(
        .init(), metadata: context.metadata, options: context.callOptions
      )
      .data.mapValues(\.secrets)
    }
  }

  static func secret(_ context: CheckContext, _ key: String) async throws -> [String: String] {
    var request = Dapr_Proto_Components_V1_GetSecretRequest()
    request.key = key
    return try await Client(wrapping: context.client).get(
      request, metadata: context.metadata, options: context.callOptions
    ).data
  }

  static let ping = Check("ping") { context in
    _ = try await expectOK("Ping") {
      try await Client(wrapping: context.client).ping(
        .init(), metadata: context.metadata, options: context.callOptions)
    }
    return "Ping answered"
  }

  static let bulkGet = Check("bulk-get") { context in
    let secrets = try await all(context)
    if let empty = secrets.first(where: { $0.value.isEmpty }) {
      throw CheckFailure("BulkGet lists secret '\(empty.key)' with no key/value pairs")
    }
    return "BulkGet listed \(secrets.count) secret\(secrets.count == 1 ? "" : "s")"
  }

  static let get = Check("get") { context in
    let key: String
    if let named = context.options.secretKey {
      key = named
    } else if let first = try await all(context).keys.sorted().first {
      key = first
    } else {
      throw CheckSkip("the store holds no secrets; pass --secret-key NAME to check Get")
    }
    let value = try await expectOK("Get(\(key))") { try await secret(context, key) }
    guard !value.isEmpty else {
      throw CheckFailure("Get(\(key)) answered no key/value pairs for a secret that exists")
    }
    let listed = try await all(context)[key]
    if let listed, listed != value {
      throw CheckFailure(
        "Get(\(key)) answered keys \(value.keys.sorted()), BulkGet lists \(listed.keys.sorted()) for it"
      )
    }
    return
      "Get(\(key)) answered \(value.count) pair\(value.count == 1 ? "" : "s")\(listed == nil ? "" : ", as BulkGet lists it")"
  }

  static let getMissing = Check("get-missing") { context in
    let key = "apiary-conformance-missing-\(context.runID)"
    let error = try await expectStatus(
      "Get of a secret that does not exist", "a missing secret must be an error"
    ) {
      _ = try await secret(context, key)
    }
    return
      "a missing secret is an error (\(error.code)\(error.code == .notFound ? "" : "; NOT_FOUND says it best"))"
  }

  static let singleValue = Check("single-value") { context in
    guard !context.features.contains("MULTIPLE_KEY_VALUES_PER_SECRET") else {
      throw CheckSkip(
        "the store declares MULTIPLE_KEY_VALUES_PER_SECRET: a secret may hold several pairs")
    }
    let secrets = try await all(context)
    if let several = secrets.first(where: { $0.value.count > 1 }) {
      throw CheckFailure(
        "secret '\(several.key)' holds \(several.value.count) pairs, but MULTIPLE_KEY_VALUES_PER_SECRET is not declared"
      )
    }
    return "every secret holds one pair, as a store without MULTIPLE_KEY_VALUES_PER_SECRET must"
  }
}
