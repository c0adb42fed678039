import ApiaryRuntime
import Testing

/// The tracer without an exporter: the contexts it gives (what goes downstream), the
/// sampling it applies. swift-otel's export is checked end to end (Tests/Observability).
@Suite("sidecar tracer: span contexts and sampling")
struct SidecarTracerTests {
  let parentSampled = TraceContext(
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "k=v")!
  let parentUnsampled = TraceContext(
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")!

  @Test(
    "a span under a parent keeps its trace id and tracestate, takes a new span id, follows its sampled flag"
  )
  func child() {
    let tracer = SidecarTracer(sampler: TraceSampler(rate: 0), backend: nil)
    let span = tracer.startSpan(
      "/dapr.proto.runtime.v1.Dapr/GetState", kind: .server, parent: parentSampled)
    #expect(span.context.traceID == parentSampled.traceID)
    #expect(span.context.spanID != parentSampled.spanID)
    #expect(span.context.isSampled)
    #expect(span.context.tracestate == "k=v")
    #expect(span.parent == parentSampled)
    let unsampled = tracer.startSpan("x", kind: .server, parent: parentUnsampled)
    #expect(unsampled.context.traceID == parentUnsampled.traceID && !unsampled.isSampled)
    let grandchild = span.child("y", kind: .client)
    #expect(grandchild.context.traceID == parentSampled.traceID)
    #expect(grandchild.parent?.spanID == span.context.spanID)
  }

  @Test("a span with no parent starts a trace, sampled by the rate")
  func root() {
    let always = SidecarTracer(sampler: TraceSampler(rate: 1), backend: nil).startSpan(
      "a", kind: .server, parent: nil)
    let never = SidecarTracer(sampler: TraceSampler(rate: 0), backend: nil).startSpan(
      "a", kind: .server, parent: nil)
    #expect(always.isSampled && !never.isSampled)
    #expect(always.context.traceID != never.context.traceID)
    #expect(always.parent == nil)
  }

  @Test("run makes the span current and its context the one passed on; end is idempotent")
  func current() async {
    let tracer = SidecarTracer(sampler: TraceSampler(rate: 1), backend: nil)
    let span = tracer.startSpan("a", kind: .server, parent: nil)
    #expect(SidecarSpan.current == nil && TraceContext.current == nil)
    let seen = await span.run { (SidecarSpan.current?.context, TraceContext.current) }
    #expect(seen.0 == span.context && seen.1 == span.context)
    span.end()
    span.end()
  }
}
