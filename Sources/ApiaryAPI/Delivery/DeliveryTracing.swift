import ApiaryRuntime
import Foundation

/// The trace of a delivery to the app, as daprd continues it (its postmen and
/// `sendBindingEventToApp`): the event's own context is the parent; with tracing on,
/// each attempt is a client span (`pubsub/{topic}`, `bindings/{name}`) whose context
/// goes to the app (HTTP `traceparent`/`tracestate`; gRPC `traceparent`,
/// `tracestate` and `grpc-trace-bin`); with tracing off the event's own context goes
/// to the app unchanged. The channels read it from ``TraceContext/current``.
enum DeliveryTracing {
  /// The context a CloudEvent carries: `traceparent`, else `traceid`, with `tracestate`.
  static func context(of event: CloudEvent) -> TraceContext? {
    let traceparent =
      event.value["traceparent"]?.string.flatMap { $0.isEmpty ? nil : $0 }
      ?? event.value["traceid"]?.string
    return TraceContext(traceparent: traceparent, tracestate: event.value["tracestate"]?.string)
  }

  /// The context an input binding's event metadata carries: `grpc-trace-bin` (its raw
  /// bytes), else `traceparent` with `tracestate`.
  static func context(ofBindingMetadata metadata: [String: String]) -> TraceContext? {
    if let binary = metadata[GRPCTraceBin.key] {
      return GRPCTraceBin.parse(Array(binary.utf8))
        ?? Data(base64Encoded: binary).flatMap { GRPCTraceBin.parse($0) }
    }
    return TraceContext(traceparent: metadata["traceparent"], tracestate: metadata["tracestate"])
  }

  /// Runs one delivery attempt: in a client span `name` under `parent` when `tracer`
  /// is given (failed unless the verdict is success), else with `parent` as the
  /// context passed on.
  static func attempt(
    tracer: SidecarTracer?, name: String, parent: TraceContext?,
    attributes: @autoclosure () -> [(String, String)],
    _ deliver: () async -> AppVerdict
  ) async -> AppVerdict {
    guard let tracer else {
      return await TraceContext.$current.withValue(parent) { await deliver() }
    }
    let span = tracer.startSpan(name, kind: .client, parent: parent)
    defer { span.end() }
    if span.isSampled { span.setAttributes(attributes()) }
    let verdict = await span.run { await deliver() }
    if case .success = verdict {} else { span.setError(verdict.reason) }
    return verdict
  }
}
