import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCCoreCTransport
import SwiftProtobuf

/// The state store contract (`dapr.proto.components.v1.StateStore` and its
/// transactional and queriable parts).
enum StateChecks {
  typealias Store = Dapr_Proto_Components_V1_StateStore.Client<SelectedClientTransport>

  static func suite(services: Set<String>) -> BlockSuite {
    BlockSuite(
      block: .state,
      initialise: { context in
        var request = Dapr_Proto_Components_V1_InitRequest()
        request.metadata.properties = context.options.metadata
        let store = Store(wrapping: context.client)
        return try await context.initialise {
          _ = try await store.`init`(request, metadata: $0, options: $1)
        } features: {
          try await store.features(.init(), metadata: $0, options: $1).features
        }
      },
      checks: basics + bulk + etags + [transactionOrder, transactionAtomic, ttl, query])
  }

  // MARK: - Calls

  /// A value as stored: its bytes and its etag ("" when none).
  struct Stored: Equatable {
    var data: Data
    var etag: String
    var exists: Bool { !data.isEmpty || !etag.isEmpty }
  }

  static func set(
    _ context: CheckContext, _ key: String, _ value: Data, etag: String? = nil,
    concurrency: Dapr_Proto_Components_V1_StateOptions.StateConcurrency = .concurrencyUnspecified,
    metadata: [String: String] = [:]
  ) async throws {
    var request = Dapr_Proto_Components_V1_SetRequest()
    request.key = key
    request.value = value
    if let etag { request.etag.value = etag }
    request.options.concurrency = concurrency
    request.metadata = metadata
    _ = try await Store(wrapping: context.client).set(
      request, metadata: context.metadata, options: context.callOptions)
  }

  static func get(_ context: CheckContext, _ key: String) async throws -> Stored {
    var request = Dapr_Proto_Components_V1_GetRequest()
    request.key = key
    let response = try await Store(wrapping: context.client).get(
      request, metadata: context.metadata, options: context.callOptions)
    return Stored(data: response.data, etag: response.hasEtag ? response.etag.value : "")
  }

  static func delete(_ context: CheckContext, _ key: String, etag: String? = nil) async throws {
    var request = Dapr_Proto_Components_V1_DeleteRequest()
    request.key = key
    if let etag { request.etag.value = etag }
    _ = try await Store(wrapping: context.client).delete(
      request, metadata: context.metadata, options: context.callOptions)
  }

  /// Reads `key`, failing the check unless it holds exactly `value`.
  static func expectValue(
    _ context: CheckContext, _ key: String, _ value: Data, _ what: String
  ) async throws {
    let stored = try await expectOK("Get") { try await get(context, key) }
    guard stored.data == value else {
      throw CheckFailure(
        "\(what): Get(\(key)) answered \(describe(stored.data)), expected \(describe(value))")
    }
  }

  /// Reads `key`, failing the check unless it is absent (empty data, no etag).
  static func expectAbsent(_ context: CheckContext, _ key: String, _ what: String) async throws {
    let stored = try await expectOK("Get") { try await get(context, key) }
    guard !stored.exists else {
      throw CheckFailure(
        "\(what): Get(\(key)) answered \(describe(stored.data)) with etag '\(stored.etag)'; an absent key is empty data and no etag"
      )
    }
  }

  static func describe(_ data: Data) -> String {
    if data.isEmpty { return "nothing" }
    if data.count <= 40, let text = String(data: data, encoding: .utf8),
      !text.contains(where: \.isNewline)
    {
      return "'\(text)'"
    }
    return describeSize(data.count)
  }

  // MARK: - Basics

  /// The kinds of value a store must keep byte for byte.
  static let valueKinds: [(String, Data)] = [
    ("text", Data("hello, conformance".utf8)),
    ("JSON", Data(#"{"id":7,"tags":["a","b"],"nested":{"ok":true,"none":null},"pi":3.14}"#.utf8)),
    ("UTF-8", Data("Grüße, 世界, 🐝".utf8)),
    ("binary (every byte value)", Data((0...255).map { UInt8($0) })),
    ("1 MiB", Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })),
  ]

  static let basics: [Check] = [
    Check("ping") { context in
      _ = try await expectOK("Ping") {
        try await Store(wrapping: context.client).ping(
          .init(), metadata: context.metadata, options: context.callOptions)
      }
      return "Ping answered"
    },
    Check("get-missing") { context in
      try await expectAbsent(context, context.key("never-set"), "a key never set")
      return "a key never set reads as empty data and no etag"
    },
    Check("set-get-values") { context in
      for (index, (kind, value)) in valueKinds.enumerated() {
        let key = context.key("value-\(index)")
        try await expectOK("Set (\(kind))") { try await set(context, key, value) }
        try await expectValue(context, key, value, "a \(kind) value")
      }
      return "\(valueKinds.map(\.0).joined(separator: ", ")) values read back byte for byte"
    },
    Check("keys") { context in
      let names = [
        "plain", "with space", "with/slash", "ünïcödé-🔑", "with||bars", "MixedCase", "mixedcase",
      ]
      for (index, name) in names.enumerated() {
        try await expectOK("Set") {
          try await set(context, context.key(name), Data("value \(index)".utf8))
        }
      }
      for (index, name) in names.enumerated() {
        try await expectValue(
          context, context.key(name), Data("value \(index)".utf8), "key '\(name)'")
      }
      return
        "\(names.count) keys with spaces, slashes, Unicode, '||' and only case apart kept apart"
    },
    Check("overwrite") { context in
      let key = context.key("overwrite")
      try await expectOK("Set") { try await set(context, key, Data("first".utf8)) }
      try await expectOK("Set") { try await set(context, key, Data("second".utf8)) }
      try await expectValue(context, key, Data("second".utf8), "after a second Set")
      return "a second Set replaces the value"
    },
    Check("delete") { context in
      let key = context.key("delete")
      try await expectOK("Set") { try await set(context, key, Data("doomed".utf8)) }
      try await expectOK("Delete") { try await delete(context, key) }
      try await expectAbsent(context, key, "after Delete")
      return "a deleted key reads as absent"
    },
    Check("delete-missing") { context in
      try await expectOK("Delete of a key never set") {
        try await delete(context, context.key("never-there"))
      }
      return "deleting a key that does not exist succeeds"
    },
  ]

  // MARK: - Bulk

  static let bulk: [Check] = [
    Check("bulk-set-get") { context in
      let keys = (0..<3).map { context.key("bulk-\($0)") }
      var request = Dapr_Proto_Components_V1_BulkSetRequest()
      request.items = keys.enumerated().map { index, key in
        var item = Dapr_Proto_Components_V1_SetRequest()
        item.key = key
        item.value = Data("bulk \(index)".utf8)
        return item
      }
      let store = Store(wrapping: context.client)
      _ = try await expectOK("BulkSet") {
        try await store.bulkSet(request, metadata: context.metadata, options: context.callOptions)
      }
      var read = Dapr_Proto_Components_V1_BulkGetRequest()
      read.items = (keys + [context.key("bulk-missing")]).map { key in
        var item = Dapr_Proto_Components_V1_GetRequest()
        item.key = key
        return item
      }
      let items = try await expectOK("BulkGet") {
        try await store.bulkGet(read, metadata: context.metadata, options: context.callOptions)
          .items
      }
      let byKey = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
      for (index, key) in keys.enumerated() {
        guard let item = byKey[key] else { throw CheckFailure("BulkGet left out \(key)") }
        guard item.error.isEmpty else {
          throw CheckFailure("BulkGet answered an error for \(key): \(item.error)")
        }
        guard item.data == Data("bulk \(index)".utf8) else {
          throw CheckFailure(
            "BulkGet answered \(describe(item.data)) for \(key), expected 'bulk \(index)'")
        }
      }
      if let missing = byKey[context.key("bulk-missing")], !missing.data.isEmpty {
        throw CheckFailure("BulkGet answered data for a key never set")
      }
      return "3 values written by BulkSet read back by BulkGet; a missing key has no data"
    },
    Check("bulk-delete") { context in
      let keys = (0..<3).map { context.key("bulk-delete-\($0)") }
      for key in keys { try await expectOK("Set") { try await set(context, key, Data("x".utf8)) } }
      var request = Dapr_Proto_Components_V1_BulkDeleteRequest()
      request.items = keys.map { key in
        var item = Dapr_Proto_Components_V1_DeleteRequest()
        item.key = key
        return item
      }
      _ = try await expectOK("BulkDelete") {
        try await Store(wrapping: context.client).bulkDelete(
          request, metadata: context.metadata, options: context.callOptions)
      }
      for key in keys { try await expectAbsent(context, key, "after BulkDelete") }
      return "BulkDelete removed every key it named"
    },
  ]

  // MARK: - Etags

  /// Sets `key` and reads back its etag, failing when there is none.
  static func etagAfterSet(
    _ context: CheckContext, _ key: String, _ value: String
  ) async throws -> String {
    try await expectOK("Set") { try await set(context, key, Data(value.utf8)) }
    let stored = try await expectOK("Get") { try await get(context, key) }
    guard !stored.etag.isEmpty else {
      throw CheckFailure("Get answered no etag after Set, though ETAG is declared")
    }
    return stored.etag
  }

  /// Expects `error` to be the contract's etag mismatch.
  static func expectMismatch(_ error: RPCError, _ call: String) throws {
    guard error.code == .failedPrecondition, hasEtagViolation(error) else {
      throw CheckFailure(
        "\(call) answered \(error.code) ('\(error.message)'); an etag mismatch is FAILED_PRECONDITION with a BadRequest violation on field 'etag'"
      )
    }
  }

  static let etags: [Check] = [
    Check("etag-set", requires: "ETAG") { context in
      let first = try await etagAfterSet(context, context.key("etag"), "one")
      try await expectOK("Set") { try await set(context, context.key("etag"), Data("two".utf8)) }
      let second = try await expectOK("Get") { try await get(context, context.key("etag")) }.etag
      guard !second.isEmpty, second != first else {
        throw CheckFailure(
          "the etag did not change when the value changed ('\(first)' then '\(second)')")
      }
      return "every Set gives a new etag ('\(first)' then '\(second)')"
    },
    Check("etag-match", requires: "ETAG") { context in
      let key = context.key("etag-match")
      let etag = try await etagAfterSet(context, key, "one")
      try await expectOK("Set with the current etag") {
        try await set(context, key, Data("two".utf8), etag: etag)
      }
      try await expectValue(context, key, Data("two".utf8), "after a Set with the current etag")
      let stored = try await expectOK("Get") { try await get(context, key) }
      try await expectOK("Delete with the current etag") {
        try await delete(context, key, etag: stored.etag)
      }
      try await expectAbsent(context, key, "after a Delete with the current etag")
      return "Set and Delete with the current etag succeed"
    },
    Check("etag-mismatch-set", requires: "ETAG") { context in
      let key = context.key("etag-stale-set")
      let stale = try await etagAfterSet(context, key, "one")
      try await expectOK("Set") { try await set(context, key, Data("two".utf8)) }
      let error = try await expectStatus(
        "Set with a stale etag", "an etag mismatch must be refused"
      ) {
        try await set(context, key, Data("three".utf8), etag: stale)
      }
      try expectMismatch(error, "Set with a stale etag")
      try await expectValue(context, key, Data("two".utf8), "after a refused Set")
      return "Set with a stale etag: FAILED_PRECONDITION with the etag violation; value kept"
    },
    Check("etag-mismatch-delete", requires: "ETAG") { context in
      let key = context.key("etag-stale-delete")
      let stale = try await etagAfterSet(context, key, "one")
      try await expectOK("Set") { try await set(context, key, Data("two".utf8)) }
      let error = try await expectStatus(
        "Delete with a stale etag", "an etag mismatch must be refused"
      ) {
        try await delete(context, key, etag: stale)
      }
      try expectMismatch(error, "Delete with a stale etag")
      try await expectValue(context, key, Data("two".utf8), "after a refused Delete")
      return "Delete with a stale etag: FAILED_PRECONDITION with the etag violation; value kept"
    },
    Check("etag-first-write", requires: "ETAG") { context in
      let key = context.key("first-write")
      try await expectOK("Set with first-write on a new key") {
        try await set(context, key, Data("first".utf8), concurrency: .concurrencyFirstWrite)
      }
      let error = try await expectStatus(
        "Set with first-write and no etag on an existing key",
        "first-write must not overwrite a value it has not seen"
      ) {
        try await set(context, key, Data("second".utf8), concurrency: .concurrencyFirstWrite)
      }
      try expectMismatch(error, "Set with first-write and no etag on an existing key")
      try await expectValue(context, key, Data("first".utf8), "after a refused first-write")
      return "first-write without an etag creates a key once, then is refused as a mismatch"
    },
    Check("etag-invalid", requires: "ETAG") { context in
      let key = context.key("etag-invalid")
      _ = try await etagAfterSet(context, key, "one")
      let error = try await expectStatus(
        "Set with a malformed etag", "a malformed etag must be refused"
      ) {
        try await set(context, key, Data("two".utf8), etag: "not an etag ☃")
      }
      // Stores whose etags are opaque strings answer a mismatch; both are the contract.
      guard error.code == .invalidArgument || error.code == .failedPrecondition,
        hasEtagViolation(error)
      else {
        throw CheckFailure(
          "Set with a malformed etag answered \(error.code) ('\(error.message)'); expected INVALID_ARGUMENT (invalid) or FAILED_PRECONDITION (mismatch) with a BadRequest violation on 'etag'"
        )
      }
      try await expectValue(context, key, Data("one".utf8), "after a refused Set")
      return
        "a malformed etag is refused as \(error.code == .invalidArgument ? "invalid" : "a mismatch"); value kept"
    },
  ]

  // MARK: - Transactions, TTL, query

  static func operation(
    set key: String, _ value: String, etag: String? = nil
  ) -> Dapr_Proto_Components_V1_TransactionalStateOperation {
    var request = Dapr_Proto_Components_V1_SetRequest()
    request.key = key
    request.value = Data(value.utf8)
    if let etag { request.etag.value = etag }
    var operation = Dapr_Proto_Components_V1_TransactionalStateOperation()
    operation.request = .set(request)
    return operation
  }

  static func operation(delete key: String) -> Dapr_Proto_Components_V1_TransactionalStateOperation
  {
    var request = Dapr_Proto_Components_V1_DeleteRequest()
    request.key = key
    var operation = Dapr_Proto_Components_V1_TransactionalStateOperation()
    operation.request = .delete(request)
    return operation
  }

  static func transact(
    _ context: CheckContext, _ operations: [Dapr_Proto_Components_V1_TransactionalStateOperation]
  ) async throws {
    var request = Dapr_Proto_Components_V1_TransactionalStateRequest()
    request.operations = operations
    _ = try await Dapr_Proto_Components_V1_TransactionalStateStore.Client(wrapping: context.client)
      .transact(
        request, metadata: context.metadata, options: context.callOptions)
  }

  static let transactionOrder = Check("transaction-order", requires: "TRANSACTIONAL") { context in
    let (a, b) = (context.key("txn-a"), context.key("txn-b"))
    try await expectOK("Transact") {
      try await transact(
        context,
        [
          operation(set: a, "1"), operation(delete: a), operation(set: a, "2"),
          operation(set: b, "3"), operation(delete: b),
        ])
    }
    try await expectValue(
      context, a, Data("2".utf8), "set, delete, set of one key in one transaction")
    try await expectAbsent(context, b, "set then delete of one key in one transaction")
    return "operations applied in order (set, delete, set → the last value; set, delete → absent)"
  }

  static let transactionAtomic = Check("transaction-atomic", requires: "TRANSACTIONAL") { context in
    guard context.features.contains("ETAG") else {
      throw CheckSkip("needs ETAG too, to make one operation of a transaction fail")
    }
    let (kept, added) = (context.key("txn-kept"), context.key("txn-added"))
    let etag = try await etagAfterSet(context, kept, "before")
    try await expectOK("Set") { try await set(context, kept, Data("current".utf8)) }
    let error = try await expectStatus(
      "Transact with a stale etag", "one failing operation must fail the transaction"
    ) {
      try await transact(
        context, [operation(set: added, "new"), operation(set: kept, "after", etag: etag)])
    }
    try await expectAbsent(context, added, "an upsert in a transaction that failed (\(error.code))")
    try await expectValue(context, kept, Data("current".utf8), "a key a failed transaction named")
    return "a transaction with one stale etag failed (\(error.code)) and applied nothing"
  }

  static let ttl = Check("ttl", requires: "TTL") { context in
    // Two keys, so that a slow machine cannot fail the check: one whose TTL (60 s) is
    // far longer than any call must still read back, and one whose TTL (1 s) must
    // expire within 1 s plus the call timeout.
    let lasting = context.key("ttl-60")
    let short = context.key("ttl-1")
    try await expectOK("Set with ttlInSeconds=60") {
      try await set(context, lasting, Data("long-lived".utf8), metadata: ["ttlInSeconds": "60"])
    }
    try await expectValue(context, lasting, Data("long-lived".utf8), "after a Set with a 60 s TTL")
    let clock = ContinuousClock()
    let start = clock.now
    try await expectOK("Set with ttlInSeconds=1") {
      try await set(context, short, Data("short-lived".utf8), metadata: ["ttlInSeconds": "1"])
    }
    let gone = try await poll(until: start.advanced(by: .seconds(1) + context.timeout)) {
      () -> Bool? in
      try await get(context, short).exists ? nil : true
    }
    guard gone == true else {
      throw CheckFailure(
        "a value with ttlInSeconds=1 was still there after \(formatDuration(.seconds(1) + context.timeout))"
      )
    }
    return
      "a value with ttlInSeconds=60 read back; one with ttlInSeconds=1 expired after \(formatDuration(start.duration(to: clock.now)))"
  }

  static let query = Check("query", requires: "QUERY_API") { context in
    let field = "apiaryConformance"
    for (name, mark) in [
      ("query-1", context.runID), ("query-2", context.runID), ("query-3", "other"),
    ] {
      let value = Data(#"{"\#(field)":"\#(mark)","name":"\#(name)"}"#.utf8)
      try await expectOK("Set") { try await set(context, context.key(name), value) }
    }
    var request = Dapr_Proto_Components_V1_QueryRequest()
    var operand = Google_Protobuf_Any()
    operand.value = Data(#"{"\#(field)":"\#(context.runID)"}"#.utf8)
    request.query.filter = ["EQ": operand]
    request.query.pagination.limit = 10
    let items = try await expectOK("Query") {
      try await Dapr_Proto_Components_V1_QueriableStateStore.Client(wrapping: context.client).query(
        request, metadata: context.metadata, options: context.callOptions
      ).items
    }
    let keys = Set(items.map(\.key))
    let expected = Set(["query-1", "query-2"].map { context.key($0) })
    guard keys.isSuperset(of: expected), !keys.contains(context.key("query-3")) else {
      throw CheckFailure(
        "Query EQ {\(field): run id} answered keys \(keys.sorted()), expected \(expected.sorted())")
    }
    return "Query with an EQ filter answered exactly the matching values"
  }
}
