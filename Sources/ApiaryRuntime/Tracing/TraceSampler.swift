/// Which spans are recorded and exported: daprd's sampler, OpenTelemetry's
/// parent-based trace-id-ratio sampler (`ParentBased(TraceIDRatioBased(rate))`).
///
/// - A span whose parent came with the request follows the parent's `sampled` flag,
///   whatever the rate: a trace the caller records stays whole, and one it does not
///   record costs nothing here.
/// - A span that starts a trace is sampled when its trace id falls under the rate, as
///   Go's OpenTelemetry SDK decides it (the trace id's last 8 bytes, big-endian,
///   shifted right by one, below `rate × 2^63`): the same trace id gets the same
///   answer in every process that uses this rule.
public struct TraceSampler: Sendable, Equatable {
  /// The share of new traces sampled, in 0...1.
  public let rate: Double
  private let bound: UInt64

  /// daprd's default when `samplingRate` is unset or does not parse.
  public static let defaultRate = 0.0001

  /// - Parameter rate: Clamped to 0...1, as Go's `TraceIDRatioBased` does.
  public init(rate: Double) {
    let clamped = rate.isNaN ? 0 : min(max(rate, 0), 1)
    self.rate = clamped
    bound = clamped >= 1 ? .max : UInt64(clamped * 9_223_372_036_854_775_808.0)
  }

  /// daprd's reading of `spec.tracing.samplingRate` (a string): the number it parses
  /// as, unset or unparsable giving 0.0001. Not clamped: a negative rate still turns
  /// tracing on (see ``isTracingEnabled(samplingRate:)``) while sampling no new trace.
  public static func rate(parsing text: String?) -> Double {
    guard let text, let value = Double(text), !value.isNaN else {
      return defaultRate
    }
    return value
  }

  /// Whether a `samplingRate` turns tracing on: every rate but one that parses as 0
  /// (daprd's `IsTracingEnabled`).
  public static func isTracingEnabled(samplingRate text: String?) -> Bool {
    rate(parsing: text) != 0
  }

  /// Whether the span of trace `traceID` (16 bytes) with `parent` is sampled.
  public func isSampled(parent: TraceContext?, traceID: [UInt8]) -> Bool {
    if let parent { return parent.isSampled }
    if bound == .max { return true }
    if bound == 0 { return false }
    guard traceID.count == 16 else { return false }
    var value: UInt64 = 0
    for byte in traceID[8..<16] { value = value << 8 | UInt64(byte) }
    return value >> 1 < bound
  }
}
