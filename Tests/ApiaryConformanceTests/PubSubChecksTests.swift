import ApiaryConformance
import ApiaryRuntime
import ComponentKit
import Testing

@Suite("conformance: pub/subs", .timeLimit(.minutes(2)))
struct PubSubChecksTests {
  @Test("a broker that keeps the contract passes every check, order and message TTL included")
  func conforming() async throws {
    let report = try await conformance([.pubSub { FlawedBroker() }], ordered: true)
    #expect(report.conforms, "\(report.problems)")
    #expect(report.result(.pubsub, "ordering")?.label == "passed")
    #expect(report.result(.pubsub, "message-ttl")?.label == "passed")
    #expect(report.result(.pubsub, "bulk-publish")?.label == "passed")
  }

  static let caught: [(FlawedBroker.Flaw, String)] = [
    (.pingFails, "ping"), (.corruptsData, "publish-pull"), (.ignoresTopic, "topics-isolated"),
    (.acksIgnored, "ack"),
    (.nackDrops, "nack-redelivery"), (.dropsUnanswered, "unanswered-redelivery"),
    (.reorders, "ordering"),
    (.bulkDeclaredButMissing, "bulk-publish"), (.ttlIgnored, "message-ttl"),
  ]

  @Test("every flaw is caught by its check", arguments: caught)
  func flawCaught(flaw: FlawedBroker.Flaw, check: String) async throws {
    let report = try await conformance([.pubSub { FlawedBroker([flaw]) }], ordered: true)
    #expect(
      report.failed(.pubsub, check), "\(flaw) was not caught by \(check):\n\(report.problems)")
  }

  @Test("every flaw has a check that catches it")
  func everyFlawListed() {
    #expect(Set(Self.caught.map(\.0)) == Set(FlawedBroker.Flaw.allCases))
  }

  @Test("order is only checked when promised")
  func orderingSkipped() async throws {
    let report = try await conformance([.pubSub { FlawedBroker([.reorders]) }], ordered: false)
    #expect(report.result(.pubsub, "ordering")?.label == "skipped")
  }
}
