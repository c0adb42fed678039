import ApiaryConformance
import ApiaryRuntime
import ApiaryTestSupport
import ComponentKit
import Foundation
import Logging
import Testing

@Suite("conformance: the runner and its report", .timeLimit(.minutes(2)))
struct ConformanceRunnerTests {
  @Test("a socket that does not exist is an error naming it, not a report")
  func missingSocket() async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let socket = folder.file("none.sock")
    await #expect(throws: ConformanceError.self) {
      _ = try await ConformanceRunner.run(
        ConformanceOptions(socketPath: socket, timeout: .seconds(1)), logger: Logger(label: "test"))
    }
  }

  @Test("--type naming a block the socket does not serve is an error listing what it serves")
  func typeNotServed() async throws {
    try await withComponentServer(components: [.secretStore { FlawedSecretStore() }]) { socket in
      do {
        _ = try await ConformanceRunner.run(
          ConformanceOptions(socketPath: socket, blocks: [.state], timeout: .seconds(2)),
          logger: Logger(label: "test"))
        Issue.record("a socket without a state store was checked as one")
      } catch {
        #expect("\(error)".contains("dapr.proto.components.v1.SecretStore"), "\(error)")
      }
    }
  }

  @Test("Init failing fails every check of the block, with the reason")
  func initFails() async throws {
    let refusing = try await conformance([.secretStore { RefusingSecretStore() }])
    #expect(refusing.failed(.secretstores, "init"))
    #expect(refusing.results.allSatisfy { $0.outcome.label == "failed" })
    #expect(!refusing.conforms)
  }

  @Test("the table and the JSON say the same")
  func formats() async throws {
    let report = try await conformance([.secretStore { FlawedSecretStore([.missingAnswersEmpty]) }])
    #expect(report.table.contains("secretstores  get-missing"))
    #expect(report.table.hasSuffix("does not conform"))
    let json = try #require(try JSONSerialization.jsonObject(with: report.json) as? [String: Any])
    #expect(json["conforms"] as? Bool == false)
    #expect(json["failed"] as? Int == report.failedCount)
    let results = try #require(json["results"] as? [[String: Any]])
    #expect(results.count == report.results.count)
    #expect(
      results.contains {
        $0["check"] as? String == "get-missing" && $0["result"] as? String == "failed"
      })
  }
}

/// A secret store whose Init always fails.
struct RefusingSecretStore: SecretStoreComponent {
  func initialise(metadata: [String: String]) async throws {
    throw ComponentError.invalidArgument("no vault address")
  }
  func secret(_ key: String, metadata: [String: String]) async throws -> [String: String] { [:] }
  func allSecrets(metadata: [String: String]) async throws -> [String: [String: String]] { [:] }
}
