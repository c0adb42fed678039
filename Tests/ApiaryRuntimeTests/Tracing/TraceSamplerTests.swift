import ApiaryRuntime
import Testing

@Suite("trace sampler (daprd's ParentBased(TraceIDRatioBased(rate)))")
struct TraceSamplerTests {
  let sampledParent = TraceContext(
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")!
  let unsampledParent = TraceContext(
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")!

  /// A trace id whose last 8 bytes start with `high` and then `rest`.
  func traceID(_ high: UInt8, rest: UInt8) -> [UInt8] {
    [UInt8](repeating: 0xab, count: 8) + [high] + [UInt8](repeating: rest, count: 7)
  }

  @Test("a parent's sampled flag decides, whatever the rate")
  func parentBased() {
    for rate in [0.0, 0.0001, 0.5, 1] {
      let sampler = TraceSampler(rate: rate)
      #expect(sampler.isSampled(parent: sampledParent, traceID: []))
      #expect(!sampler.isSampled(parent: unsampledParent, traceID: []))
    }
  }

  @Test("a new trace: rate 1 always, rate 0 never")
  func bounds() {
    for id in [traceID(0x00, rest: 0x00), traceID(0xff, rest: 0xff), traceID(0x7f, rest: 0x12)] {
      #expect(TraceSampler(rate: 1).isSampled(parent: nil, traceID: id))
      #expect(!TraceSampler(rate: 0).isSampled(parent: nil, traceID: id))
    }
    #expect(TraceSampler(rate: 7).rate == 1)
    #expect(TraceSampler(rate: -1).rate == 0)
  }

  @Test(
    "a new trace at rate 0.5: Go's rule, the last 8 bytes big-endian shifted by one, below 2^62")
  func ratio() {
    let sampler = TraceSampler(rate: 0.5)
    #expect(sampler.isSampled(parent: nil, traceID: traceID(0x7f, rest: 0xff)))
    #expect(!sampler.isSampled(parent: nil, traceID: traceID(0x80, rest: 0x00)))
    #expect(sampler.isSampled(parent: nil, traceID: traceID(0x00, rest: 0x00)))
    #expect(!sampler.isSampled(parent: nil, traceID: traceID(0xff, rest: 0xff)))
  }

  @Test("a new trace at the default rate: about 1 in 10,000 of random ids")
  func defaultRate() {
    let sampler = TraceSampler(rate: TraceSampler.defaultRate)
    var generator = SystemRandomNumberGenerator()
    var sampled = 0
    for _ in 0..<200_000 {
      let id = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
      if sampler.isSampled(parent: nil, traceID: id) { sampled += 1 }
    }
    // Expected 20; the binomial's 99.99 % range is within 3...45.
    #expect((3...45).contains(sampled), "\(sampled) of 200000 sampled")
  }

  @Test(
    "samplingRate as daprd reads it: unset or unparsable 0.0001; tracing off only for a rate of 0")
  func parsing() {
    #expect(TraceSampler.rate(parsing: nil) == 0.0001)
    #expect(TraceSampler.rate(parsing: "") == 0.0001)
    #expect(TraceSampler.rate(parsing: "often") == 0.0001)
    #expect(TraceSampler.rate(parsing: " 1") == 0.0001)
    #expect(TraceSampler.rate(parsing: "1") == 1)
    #expect(TraceSampler.rate(parsing: "0.25") == 0.25)
    #expect(TraceSampler.rate(parsing: "1e-2") == 0.01)
    #expect(!TraceSampler.isTracingEnabled(samplingRate: "0"))
    #expect(!TraceSampler.isTracingEnabled(samplingRate: "0.0"))
    #expect(TraceSampler.isTracingEnabled(samplingRate: nil))
    #expect(TraceSampler.isTracingEnabled(samplingRate: "x"))
    #expect(TraceSampler.isTracingEnabled(samplingRate: "-1"))
  }
}
