import ApiaryConformance
import ApiaryContracts
import ApiaryRuntime
import ComponentKit
import Testing

@Suite("conformance: bindings", .timeLimit(.minutes(2)))
struct BindingChecksTests {
  @Test("output and input bindings that keep the contract pass every check")
  func conforming() async throws {
    let report = try await conformance([
      .outputBinding { FlawedOutputBinding() }, .inputBinding { FlawedInputBinding() },
    ])
    #expect(report.conforms, "\(report.problems)")
    #expect(report.result(.bindings, "read")?.label == "passed")
    #expect(
      report.result(.bindings, "invoke-listed")?.detail.contains("get: invalidArgument") == true)
  }

  @Test(
    "every output flaw is caught by its check",
    arguments: [
      (FlawedOutputBinding.Flaw.pingFails, "output-ping"), (.noOperations, "list-operations"),
      (.listedButUnimplemented, "invoke-listed"),
    ])
  func outputFlawCaught(flaw: FlawedOutputBinding.Flaw, check: String) async throws {
    let report = try await conformance([.outputBinding { FlawedOutputBinding([flaw]) }])
    #expect(
      report.failed(.bindings, check), "\(flaw) was not caught by \(check):\n\(report.problems)")
  }

  @Test("an operation that is not listed must be refused")
  func unlistedCaught() async throws {
    let lax = ComponentRegistration(
      services: [LaxOutputBinding()],
      serviceNames: [Dapr_Proto_Components_V1_OutputBinding.descriptor.fullyQualifiedService])
    let report = try await conformance([lax])
    #expect(report.failed(.bindings, "invoke-unlisted"), "\(report.problems)")
  }

  @Test(
    "every input flaw is caught by its check",
    arguments: [
      (FlawedInputBinding.Flaw.pingFails, "input-ping"), (.endsWithoutEvent, "read"),
    ])
  func inputFlawCaught(flaw: FlawedInputBinding.Flaw, check: String) async throws {
    let report = try await conformance([.inputBinding { FlawedInputBinding([flaw]) }])
    #expect(
      report.failed(.bindings, check), "\(flaw) was not caught by \(check):\n\(report.problems)")
  }
}
