import CoreMetrics
import Foundation
import Logging
import Synchronization
import Tracing

/// Makes the sidecar's spans: decides sampling (``TraceSampler``), gives every span
/// its W3C context, and hands the sampled ones to the exporting tracer (swift-otel's,
/// through swift-distributed-tracing's `Tracer`).
///
/// Exists only when tracing is on (``TracingSettings/isEnabled``). The API and the
/// deliveries hold it as an optional; with none, no span object is made anywhere and
/// a request's trace context is passed on as it came. An unsampled span is a context
/// only (a new span id with the `sampled` flag clear, as OpenTelemetry gives a
/// non-recording span): nothing is handed to the exporter for it.
public final class SidecarTracer: Sendable {
  /// The sampling rule.
  public let sampler: TraceSampler
  private let backend: (any Tracer)?
  private let stdout: Logger?
  private let sampledSpans: Counter?

  /// - Parameters:
  ///   - backend: The exporting tracer; nil: sampled spans are logged (`stdout`) or
  ///     just propagated.
  ///   - stdout: When given, every sampled span is logged when it ends, in daprd's
  ///     `stdout` exporter's words.
  ///   - countSpans: Whether `apiary_tracing_spans_sampled_total` counts sampled spans.
  public init(
    sampler: TraceSampler, backend: (any Tracer)?, stdout: Logger? = nil, countSpans: Bool = false
  ) {
    self.sampler = sampler
    self.backend = backend
    self.stdout = stdout
    sampledSpans = countSpans ? Counter(label: "apiary_tracing_spans_sampled_total") : nil
  }

  /// Starts a span under `parent` (the context a request or an event came with; nil
  /// starts a trace). End it with ``SidecarSpan/end()``.
  public func startSpan(_ name: String, kind: SpanKind, parent: TraceContext?) -> SidecarSpan {
    var newTraceID: [UInt8] = []
    if parent == nil {
      newTraceID = Self.randomBytes(16)
    }
    guard sampler.isSampled(parent: parent, traceID: newTraceID) else {
      let traceID = parent?.traceIDBytes ?? newTraceID
      let context =
        TraceContext(
          traceID: traceID, spanID: Self.randomBytes(8), sampled: false,
          tracestate: parent?.tracestate ?? "")
        ?? TraceContext(traceID: Self.randomBytes(16), spanID: Self.randomBytes(8), sampled: false)!
      return SidecarSpan(name: name, context: context, parent: parent, recording: nil, tracer: self)
    }
    sampledSpans?.increment()
    guard let backend else {
      let traceID = parent?.traceIDBytes ?? newTraceID
      let context = TraceContext(
        traceID: traceID, spanID: Self.randomBytes(8), sampled: true,
        tracestate: parent?.tracestate ?? "")!
      return SidecarSpan(name: name, context: context, parent: parent, recording: nil, tracer: self)
    }
    var serviceContext = ServiceContext.topLevel
    if let parent {
      var carrier = ["traceparent": parent.traceparent]
      if !parent.tracestate.isEmpty { carrier["tracestate"] = parent.tracestate }
      backend.extract(carrier, into: &serviceContext, using: HeaderCarrier())
    }
    let span = backend.startSpan(name, context: serviceContext, ofKind: kind)
    var injected: [String: String] = [:]
    backend.inject(span.context, into: &injected, using: HeaderCarrier())
    let context =
      TraceContext(traceparent: injected["traceparent"], tracestate: injected["tracestate"])
      ?? TraceContext(traceID: Self.randomBytes(16), spanID: Self.randomBytes(8), sampled: true)!
    return SidecarSpan(name: name, context: context, parent: parent, recording: span, tracer: self)
  }

  /// Logs an ended sampled span (`stdout: true`), as daprd's stdout exporter words it.
  func logEnded(_ span: SidecarSpan, started: Date, ended: Date) {
    guard let stdout else { return }
    let parentID = span.parent.map { String($0.spanID) } ?? "0000000000000000"
    stdout.info(
      "[\(span.name)] Trace: \(span.context.traceID) Span: \(parentID)/\(span.context.spanID) Time: [\(Timestamp.string(started)) ->  \(Timestamp.string(ended))] Annotations: \(span.annotations)"
    )
  }

  static func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    repeat {
      for index in 0..<count { bytes[index] = UInt8.random(in: .min ... .max, using: &generator) }
    } while bytes.allSatisfy { $0 == 0 }
    return bytes
  }
}

/// One span of the sidecar: its W3C context (what goes downstream), and, when sampled
/// and exported, the recording span behind it.
public final class SidecarSpan: Sendable {
  /// What the span is called (`/dapr.proto.runtime.v1.Dapr/GetState`, `pubsub/orders`).
  public let name: String
  /// This span's own context: its trace id, its span id, its `sampled` flag.
  public let context: TraceContext
  /// The context it continues; nil when it started the trace.
  public let parent: TraceContext?
  let tracer: SidecarTracer
  private let recording: (any Tracing.Span)?
  private let ended = Atomic<Bool>(false)
  private let started: Date?
  private let notes = Mutex<[(String, String)]>([])

  /// The span the current task's work belongs to, whose children the component calls
  /// and publishes start. Never set while tracing is off.
  @TaskLocal public static var current: SidecarSpan?

  init(
    name: String, context: TraceContext, parent: TraceContext?, recording: (any Tracing.Span)?,
    tracer: SidecarTracer
  ) {
    self.name = name
    self.context = context
    self.parent = parent
    self.recording = recording
    self.tracer = tracer
    started = context.isSampled ? Date() : nil
  }

  /// Whether the span is sampled: its attributes and status are kept.
  public var isSampled: Bool { context.isSampled }

  /// Sets attribute `key` (only a sampled span keeps it).
  public func setAttribute(_ key: String, _ value: String) {
    guard isSampled, !value.isEmpty else { return }
    recording?.attributes[key] = value
    notes.withLock { $0.append((key, value)) }
  }

  /// Sets several attributes.
  public func setAttributes(_ pairs: [(String, String)]) {
    for (key, value) in pairs { setAttribute(key, value) }
  }

  /// Marks the span failed, with `message` as the status description.
  public func setError(_ message: String) {
    guard isSampled else { return }
    recording?.setStatus(SpanStatus(code: .error, message: message))
    notes.withLock { $0.append(("error", message)) }
  }

  /// Ends the span (once; later calls do nothing).
  public func end() {
    guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
    recording?.end()
    if let started, isSampled { tracer.logEnded(self, started: started, ended: Date()) }
  }

  /// A span under this one, in the same tracer.
  public func child(_ name: String, kind: SpanKind) -> SidecarSpan {
    tracer.startSpan(name, kind: kind, parent: context)
  }

  /// Runs `body` with this span as ``current`` and its context as
  /// ``TraceContext/current``.
  public func run<T>(_ body: () async throws -> T) async rethrows -> T {
    try await SidecarSpan.$current.withValue(self) {
      try await TraceContext.$current.withValue(context) { try await body() }
    }
  }

  /// The attributes and status set, as daprd's stdout exporter lists them.
  var annotations: String {
    notes.withLock { $0.map { "\($0.0)=\($0.1)" }.joined(separator: " ") }
  }
}

/// A `[String: String]` carrier for the W3C propagator: `traceparent` and `tracestate`.
struct HeaderCarrier: Extractor, Injector {
  func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
  func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
    carrier[key] = value
  }
}
