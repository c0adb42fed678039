import ApiaryConformance
import ApiaryRuntime
import ComponentKit
import Testing

@Suite("conformance: secret stores", .timeLimit(.minutes(2)))
struct SecretStoreChecksTests {
  @Test("a store that keeps the contract passes every check")
  func conforming() async throws {
    let report = try await conformance([.secretStore { FlawedSecretStore() }])
    #expect(report.conforms, "\(report.problems)")
    #expect(report.result(.secretstores, "get")?.detail.contains("api-key") == true)
    #expect(report.result(.secretstores, "get-missing")?.detail.contains("notFound") == true)
  }

  static let caught: [(FlawedSecretStore.Flaw, String)] = [
    (.pingFails, "ping"), (.missingAnswersEmpty, "get-missing"),
    (.severalPairsUndeclared, "single-value"),
    (.getDiffersFromBulk, "get"), (.bulkListsEmptySecret, "bulk-get"),
  ]

  @Test("every flaw is caught by its check", arguments: caught)
  func flawCaught(flaw: FlawedSecretStore.Flaw, check: String) async throws {
    let report = try await conformance([.secretStore { FlawedSecretStore([flaw]) }])
    #expect(
      report.failed(.secretstores, check), "\(flaw) was not caught by \(check):\n\(report.problems)"
    )
  }

  @Test("every flaw has a check that catches it")
  func everyFlawListed() {
    #expect(Set(Self.caught.map(\.0)) == Set(FlawedSecretStore.Flaw.allCases))
  }
}
