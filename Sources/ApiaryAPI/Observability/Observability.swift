import ApiaryRuntime

/// What the API and the deliveries record about themselves: spans (when tracing is
/// on) and request metrics (when metrics are on). With neither, the API only passes a
/// request's trace context on, and does no other observability work.
public struct Observability: Sendable {
  /// The tracer; nil while tracing is off.
  public var tracer: SidecarTracer?
  /// The API's request and error-code metrics; nil while metrics are off.
  public var metrics: APIMetrics?

  /// No spans, no API metrics.
  public static let off = Observability()

  public init(tracer: SidecarTracer? = nil, metrics: APIMetrics? = nil) {
    self.tracer = tracer
    self.metrics = metrics
  }
}
