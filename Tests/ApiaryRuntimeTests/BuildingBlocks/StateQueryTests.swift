import ApiaryRuntime
import Foundation
import Testing

/// The query JSON as daprd reads and checks it (spec §7).
@Suite("state query")
struct StateQueryTests {
  func parse(_ text: String) throws(StateQuery.ParseError) -> StateQuery {
    try StateQuery(json: Data(text.utf8))
  }

  @Test("filters, sort and page read as daprd reads them; the operand is what the component gets")
  func parses() throws {
    let query = try parse(
      #"{"filter":{"AND":[{"EQ":{"state":"CA"}},{"IN":{"person.org":["A","B"]}}]},"sort":[{"key":"state","order":"DESC"},{"key":"id"}],"page":{"limit":3,"token":"2"}}"#
    )
    #expect(
      query.sort == [.init(key: "state", descending: true), .init(key: "id", descending: false)])
    #expect(query.limit == 3 && query.token == "2")
    let filter = try #require(query.filter)
    #expect(filter.name == "AND")
    #expect(
      filter.operand
        == .array([
          .object(["EQ": .object(["state": .string("CA")])]),
          .object(["IN": .object(["person.org": .array([.string("A"), .string("B")])])]),
        ]))
    #expect(try parse("{}").filter == nil)
  }

  @Test(
    "malformed filters get daprd's messages",
    arguments: [
      (#"{"filter":{"LIKE":{"a":1}}}"#, #"unsupported filter "LIKE""#),
      (#"{"filter":{"EQ":{"a":1,"b":2}}}"#, "EQ filter must contain a single key/value pair"),
      (#"{"filter":{"GT":[1]}}"#, "GT filter must be a map"),
      (#"{"filter":{"AND":[{"EQ":{"a":1}}]}}"#, "AND filter must contain at least two entries"),
      (#"{"filter":{"OR":{"a":1}}}"#, "OR filter must be an array"),
      (#"{"filter":{"IN":{"a":1}}}"#, "IN filter value must be an array"),
      (#"{"filter":{"EQ":{"a":1},"NEQ":{"b":1}}}"#, "filter unit must have a single element"),
      (#"{"sort":{"key":"a"}}"#, #""sort" must be an array"#),
      (#"{"page":[1]}"#, #""page" must be a map"#),
    ])
  func refuses(_ text: String, _ message: String) {
    #expect(throws: StateQuery.ParseError.self) { try parse(text) }
    do {
      _ = try parse(text)
    } catch {
      #expect(error.description == message)
    }
  }
}
