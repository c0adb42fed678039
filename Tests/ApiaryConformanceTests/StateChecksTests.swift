import ApiaryConformance
import ApiaryContracts
import ApiaryRuntime
import ComponentKit
import Foundation
import Testing

@Suite("conformance: state stores", .timeLimit(.minutes(2)))
struct StateChecksTests {
  @Test("a store that keeps the contract passes every check, features included")
  func conforming() async throws {
    let report = try await conformance([.stateStore { FlawedStore() }])
    #expect(report.conforms, "\(report.problems)")
    #expect(report.skippedCount == 0, "\(report.problems)")
    let checks = report.results.map(\.check)
    for check in [
      "set-get-values", "etag-mismatch-set", "etag-first-write", "transaction-atomic", "ttl",
      "query",
    ] {
      #expect(checks.contains(check))
    }
  }

  /// Each flaw, and the check that must catch it.
  static let caught: [(FlawedStore.Flaw, String)] = [
    (.pingFails, "ping"), (.dataForMissing, "get-missing"), (.truncatesLarge, "set-get-values"),
    (.caseInsensitiveKeys, "keys"), (.keepsFirstValue, "overwrite"), (.deleteIgnored, "delete"),
    (.deleteMissingFails, "delete-missing"), (.bulkGetDropsKey, "bulk-set-get"),
    (.bulkDeleteIgnored, "bulk-delete"),
    (.etagNeverChanges, "etag-set"), (.staleEtagAccepted, "etag-mismatch-set"),
    (.deleteIgnoresEtag, "etag-mismatch-delete"),
    (.currentEtagRefused, "etag-match"), (.firstWriteOverwrites, "etag-first-write"),
    (.malformedEtagAsInternal, "etag-invalid"), (.transactionReversed, "transaction-order"),
    (.transactionPartial, "transaction-atomic"), (.ttlIgnored, "ttl"),
    (.queryIgnoresFilter, "query"),
  ]

  @Test("every flaw is caught by its check", arguments: caught)
  func flawCaught(flaw: FlawedStore.Flaw, check: String) async throws {
    let report = try await conformance([.stateStore { FlawedStore([flaw]) }])
    #expect(report.failed(.state, check), "\(flaw) was not caught by \(check):\n\(report.problems)")
    #expect(!report.conforms)
  }

  @Test("every flaw has a check that catches it")
  func everyFlawListed() {
    #expect(Set(Self.caught.map(\.0)) == Set(FlawedStore.Flaw.allCases))
  }

  @Test("checks of features a store does not declare are skipped, and it still conforms")
  func undeclaredSkipped() async throws {
    let report = try await conformance([.stateStore { PlainStore() }])
    #expect(report.conforms, "\(report.problems)")
    for check in ["etag-set", "etag-mismatch-set", "transaction-order", "ttl", "query"] {
      #expect(report.result(.state, check)?.label == "skipped", "\(check)")
    }
    #expect(report.result(.state, "set-get-values")?.label == "passed")
  }
}

/// A store declaring no features: the basics only.
actor PlainStore: StateStoreComponent {
  var values: [String: Data] = [:]
  func initialise(metadata: [String: String]) async throws {}
  func features() async throws -> [StateStoreFeature] { [] }
  func get(
    _ request: Dapr_Proto_Components_V1_GetRequest
  ) async throws -> Dapr_Proto_Components_V1_GetResponse {
    var response = Dapr_Proto_Components_V1_GetResponse()
    if let value = values[request.key] { response.data = value }
    return response
  }
  func set(_ request: Dapr_Proto_Components_V1_SetRequest) async throws {
    values[request.key] = request.value
  }
  func delete(_ request: Dapr_Proto_Components_V1_DeleteRequest) async throws {
    values[request.key] = nil
  }
}
