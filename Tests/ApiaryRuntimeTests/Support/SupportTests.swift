import ApiaryRuntime
import Testing

@Suite("durations and JSON text")
struct SupportTests {
  @Test("durations are written the way Dapr's configuration writes them")
  func durations() {
    #expect(DurationParsing.parse("2s") == .seconds(2))
    #expect(DurationParsing.parse("500ms") == .milliseconds(500))
    #expect(DurationParsing.parse("1m30s") == .seconds(90))
    #expect(DurationParsing.parse("1.5s") == .milliseconds(1500))
    #expect(DurationParsing.parse("2h") == .seconds(7200))
    #expect(DurationParsing.parse("5") == nil)
    #expect(DurationParsing.parse("") == nil)
    #expect(DurationParsing.parse("fast") == nil)
    #expect(DurationParsing.parse("5 parsecs") == nil)
  }

  @Test("durations in daprd's log lines are written as Go's time.Duration prints them")
  func goDurations() {
    #expect(goDurationString(.milliseconds(100)) == "100ms")
    #expect(goDurationString(.milliseconds(1500)) == "1.5s")
    #expect(goDurationString(.seconds(120)) == "2m0s")
    #expect(goDurationString(.seconds(3600)) == "1h0m0s")
    #expect(goDurationString(.seconds(90)) == "1m30s")
    #expect(goDurationString(.zero) == "0s")
    #expect(goDurationString(.microseconds(2)) == "2µs")
    #expect(goDurationString(.nanoseconds(1_500_000)) == "1.5ms")
  }

  @Test("durations past 100 years are refused, not a crash (found by fuzzing: 2562048h overflowed)")
  func hugeDurations() {
    #expect(DurationParsing.parse("876000h") == .seconds(876_000 * 3600))
    for text in ["876001h", "2562048h", "99999999999999999999h", "1e400s", "876000h1s"] {
      #expect(DurationParsing.parse(text) == nil, "\(text)")
    }
  }

  @Test("JSON strings escape quotes, backslashes and control characters")
  func jsonText() {
    #expect(JSONText.quoted(#"a "b" \c"#) == #""a \"b\" \\c""#)
    #expect(JSONText.quoted("line\nnext\u{01}") == #""line\nnext\u0001""#)
    #expect(JSONText.quoted("día/🐝") == "\"día/🐝\"")
  }
}
