/// The W3C trace context a request carried (`traceparent`, `tracestate`), as far as
/// the API passes it on: into the CloudEvents it publishes (`traceid`, `traceparent`,
/// `tracestate`) and the outbox's events.
public struct TraceContext: Sendable, Equatable {
  /// `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
  public var traceparent: String
  public var tracestate: String

  /// A context from the headers' values; nil when `traceparent` is missing or not of
  /// the W3C form (version 00, lower-case hex, no all-zero ids).
  public init?(traceparent: String?, tracestate: String? = nil) {
    guard let traceparent, Self.isValid(traceparent) else { return nil }
    self.traceparent = traceparent
    self.tracestate = tracestate ?? ""
  }

  /// The context of the gRPC call being served, set by ``TraceContextInterceptor``
  /// from its `traceparent` and `tracestate` metadata.
  @TaskLocal public static var current: TraceContext?

  static func isValid(_ text: String) -> Bool {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16, parts[3].count == 2 else {
      return false
    }
    let hex = Set("0123456789abcdef")
    guard parts.allSatisfy({ $0.allSatisfy(hex.contains) }), parts[0] != "ff" else { return false }
    return parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
  }
}
