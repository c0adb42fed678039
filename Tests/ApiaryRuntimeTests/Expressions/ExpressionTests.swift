import Foundation
import Testing

@testable import ApiaryRuntime

/// The CEL subset of routing rules and circuit breakers.
@Suite("CEL expressions")
struct ExpressionTests {
  let event: CELExpression.Value = .init(
    try! JSONValue(
      json: Data(
        #"{"type":"order","source":"shop","data":{"amount":5,"tags":["a","b"],"name":"Ada","nested":{"ok":true}},"id":"e1"}"#
          .utf8)))

  func check(_ text: String) throws -> Bool { try CELExpression(text).isTrue(["event": event]) }

  @Test(
    "comparisons, logic, membership, functions and has() on a CloudEvent",
    arguments: [
      (#"event.type == "order""#, true), (#"event.type != "order""#, false),
      ("event.data.amount > 3", true),
      ("event.data.amount >= 5.0", true), ("event.data.amount < 5", false),
      (#"event.type == "order" && event.data.amount > 10"#, false),
      (#"event.type == "x" || event.data.amount == 5"#, true),
      (#"!(event.type == "order")"#, false),
      (#""a" in event.data.tags"#, true), (#""z" in event.data.tags"#, false),
      ("size(event.data.tags) == 2", true),
      (#"event.source.startsWith("sh")"#, true), (#"event.data.name.endsWith("da")"#, true),
      (#"event.data.name.contains("d")"#, true), (#"event.data.name.matches("^A.a$")"#, true),
      ("has(event.data.amount)", true), ("has(event.data.missing)", false),
      ("event.data.nested.ok", true),
      (#"event["type"] == 'order'"#, true), ("event.data.amount + 1 == 6", true),
      ("event.data.amount * 2 == 10", true),
      (#"event.data.amount > 3 ? true : false"#, true), ("[1, 2, 3][1] == 2", true),
      (#"{"k": 1}.k == 1"#, true),
      (#"has(event.data.missing) && event.data.missing > 1"#, false),
      (#"event.data.missing > 1 || true"#, true),
    ])
  func evaluates(_ text: String, _ expected: Bool) throws {
    #expect(try check(text) == expected, "\(text)")
  }

  @Test("a missing member is an evaluation error, not false; so is a result that is not a bool")
  func evaluationErrors() {
    #expect(throws: ExpressionError.self) { try check("event.data.missing > 1") }
    #expect(throws: ExpressionError.self) { try check("event.data.amount") }
    #expect(throws: ExpressionError.self) { try check("undefinedVariable == 1") }
    #expect(throws: ExpressionError.self) { try check(#"event.type > 1"#) }
  }

  @Test("a parse error names the column")
  func parseErrors() {
    for (text, column) in [
      ("event.type ==", 14), (#"event.type == "x"#, 15), ("event..type", 7), ("(a", 3),
      ("a $ b", 3),
    ] {
      do {
        _ = try CELExpression(text)
        Issue.record("\(text) parsed")
      } catch {
        #expect(error.column == column, "\(text): \(error)")
      }
    }
  }

  @Test("a circuit breaker's trip over its counters")
  func breakerVariables() throws {
    let trip = try CELExpression(
      "consecutiveFailures > 5 || (requests > 10 && totalFailures * 2 > requests)")
    #expect(
      try trip.isTrue([
        "consecutiveFailures": .int(6), "requests": .int(6), "totalFailures": .int(6),
      ]))
    #expect(
      try !trip.isTrue([
        "consecutiveFailures": .int(1), "requests": .int(20), "totalFailures": .int(5),
      ]))
    #expect(
      try trip.isTrue([
        "consecutiveFailures": .int(1), "requests": .int(20), "totalFailures": .int(11),
      ]))
  }
}
