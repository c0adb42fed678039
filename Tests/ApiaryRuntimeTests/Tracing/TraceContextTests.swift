import ApiaryRuntime
import Testing

@Suite("W3C trace context")
struct TraceContextTests {
  @Test("the ids and the sampled flag read from traceparent")
  func ids() throws {
    let context = try #require(
      TraceContext(
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "k=v"))
    #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
    #expect(context.spanID == "00f067aa0ba902b7")
    #expect(context.isSampled)
    #expect(context.tracestate == "k=v")
    #expect(
      TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02")?
        .isSampled == false)
  }

  @Test("made from bytes; all-zero ids refused")
  func fromBytes() {
    let traceID = [UInt8](1...16)
    let spanID = [UInt8](1...8)
    let context = TraceContext(traceID: traceID, spanID: spanID, sampled: false)
    #expect(context?.traceparent == "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-00")
    #expect(context?.traceIDBytes == traceID && context?.spanIDBytes == spanID)
    #expect(
      TraceContext(traceID: [UInt8](repeating: 0, count: 16), spanID: spanID, sampled: true) == nil)
    #expect(TraceContext(traceID: traceID, spanID: [UInt8](1...7), sampled: true) == nil)
  }

  @Test("malformed traceparents are refused; a tracestate over 512 bytes is dropped")
  func validation() {
    for bad in [
      "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    ] {
      #expect(TraceContext(traceparent: bad) == nil, "\(bad)")
    }
    let long = String(repeating: "k=v,", count: 200)
    #expect(
      TraceContext(
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: long)?
        .tracestate == "")
  }
}
