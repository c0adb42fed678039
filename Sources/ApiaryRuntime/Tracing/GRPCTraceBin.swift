/// The `grpc-trace-bin` metadata value: OpenCensus's binary trace context, which gRPC
/// clients of the OpenCensus era send and daprd reads before `traceparent`.
///
/// Layout: a version byte (0), then fields, each a field id and its bytes: field 0 the
/// trace id (16 bytes), field 1 the span id (8 bytes), field 2 the trace options
/// (1 byte; bit 0 = sampled). Written by hand: no listed library reads it.
public enum GRPCTraceBin {
  /// The metadata key.
  public static let key = "grpc-trace-bin"

  /// The context `bytes` hold; nil for another version, or without a trace id and a
  /// span id (both not all zero). A trace id alone names no parent span, so it gives
  /// nothing to continue. Unknown trailing fields are ignored, as OpenCensus does.
  public static func parse(_ bytes: some Collection<UInt8>) -> TraceContext? {
    let bytes = Array(bytes)
    guard bytes.first == 0 else { return nil }
    var index = 1
    guard index + 17 <= bytes.count, bytes[index] == 0 else { return nil }
    let traceID = bytes[(index + 1)..<(index + 17)]
    index += 17
    guard index + 9 <= bytes.count, bytes[index] == 1 else { return nil }
    let spanID = bytes[(index + 1)..<(index + 9)]
    index += 9
    var options: UInt8 = 0
    if index + 2 <= bytes.count, bytes[index] == 2 {
      options = bytes[index + 1]
    }
    return TraceContext(traceID: traceID, spanID: spanID, sampled: options & 1 == 1)
  }

  /// The 29 bytes of `context`: version 0, trace id, span id, options.
  public static func encode(_ context: TraceContext) -> [UInt8] {
    var out: [UInt8] = [0, 0]
    out.reserveCapacity(29)
    out += context.traceIDBytes
    out.append(1)
    out += context.spanIDBytes
    out.append(2)
    out.append(context.isSampled ? 1 : 0)
    return out
  }
}
