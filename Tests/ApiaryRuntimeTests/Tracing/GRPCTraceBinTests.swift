import ApiaryRuntime
import Testing

@Suite("grpc-trace-bin (OpenCensus binary trace context)")
struct GRPCTraceBinTests {
  let traceID: [UInt8] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
  ]
  let spanID: [UInt8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]

  func bytes(
    version: UInt8 = 0, traceID: [UInt8]? = nil, spanID: [UInt8]? = nil, options: UInt8? = 1
  ) -> [UInt8] {
    var out: [UInt8] = [version]
    if let traceID { out += [0] + traceID }
    if let spanID { out += [1] + spanID }
    if let options { out += [2, options] }
    return out
  }

  @Test("version 0 with trace id, span id and the sampled option reads as the W3C context")
  func sampled() throws {
    let context = try #require(
      GRPCTraceBin.parse(bytes(traceID: traceID, spanID: spanID, options: 1)))
    #expect(context.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    #expect(context.isSampled)
    #expect(context.traceIDBytes == traceID)
    #expect(context.spanIDBytes == spanID)
  }

  @Test("options 0 or missing: not sampled")
  func unsampled() throws {
    #expect(
      GRPCTraceBin.parse(bytes(traceID: traceID, spanID: spanID, options: 0))?.traceparent
        .hasSuffix("-00") == true)
    #expect(
      GRPCTraceBin.parse(bytes(traceID: traceID, spanID: spanID, options: nil))?.isSampled == false)
  }

  @Test("another version, no trace id, no span id, zero ids or truncated fields give nothing")
  func rejected() {
    #expect(GRPCTraceBin.parse(bytes(version: 1, traceID: traceID, spanID: spanID)) == nil)
    #expect(GRPCTraceBin.parse(bytes(spanID: spanID)) == nil)
    #expect(GRPCTraceBin.parse(bytes(traceID: traceID, spanID: nil)) == nil)
    #expect(
      GRPCTraceBin.parse(bytes(traceID: [UInt8](repeating: 0, count: 16), spanID: spanID)) == nil)
    #expect(
      GRPCTraceBin.parse(bytes(traceID: traceID, spanID: [UInt8](repeating: 0, count: 8))) == nil)
    #expect(GRPCTraceBin.parse(Array(bytes(traceID: traceID, spanID: spanID).prefix(20))) == nil)
    #expect(GRPCTraceBin.parse([]) == nil)
  }

  @Test("fields after the options are ignored")
  func trailing() {
    let context = GRPCTraceBin.parse(
      bytes(traceID: traceID, spanID: spanID, options: 1) + [3, 9, 9])
    #expect(context?.spanIDBytes == spanID)
  }

  @Test("encode writes the 29 bytes daprd writes, and they read back")
  func roundTrip() throws {
    let context = try #require(
      TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
    let encoded = GRPCTraceBin.encode(context)
    #expect(encoded == bytes(traceID: traceID, spanID: spanID, options: 1))
    #expect(encoded.count == 29)
    #expect(GRPCTraceBin.parse(encoded) == context)
  }
}
