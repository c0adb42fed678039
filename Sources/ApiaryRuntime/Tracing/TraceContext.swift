/// A W3C trace context (`traceparent`, `tracestate`): what a request carried in, and
/// what the sidecar passes on to components, to the app and into the CloudEvents it
/// publishes (`traceid`, `traceparent`, `tracestate`).
///
/// Kept as the header text, because that is how it travels; the ids are read from it
/// when needed.
public struct TraceContext: Sendable, Equatable, CustomStringConvertible {
  /// `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
  public var traceparent: String
  /// `tracestate`, as received (empty when none).
  public var tracestate: String

  /// The longest `tracestate` passed on; a longer one is dropped, as daprd drops it
  /// (`MaxTracestateLen`).
  public static let maximumTracestateLength = 512

  /// A context from the headers' values; nil when `traceparent` is missing or not of
  /// the W3C form (version 00, lower-case hex, no all-zero ids).
  public init?(traceparent: String?, tracestate: String? = nil) {
    guard let traceparent, Self.isValid(traceparent) else { return nil }
    self.traceparent = traceparent
    let state = tracestate ?? ""
    self.tracestate = state.utf8.count <= Self.maximumTracestateLength ? state : ""
  }

  /// A context from its ids: `traceID` 16 bytes, `spanID` 8 bytes, neither all zero.
  public init?(
    traceID: some Collection<UInt8>, spanID: some Collection<UInt8>, sampled: Bool,
    tracestate: String = ""
  ) {
    guard traceID.count == 16, spanID.count == 8, traceID.contains(where: { $0 != 0 }),
      spanID.contains(where: { $0 != 0 })
    else { return nil }
    traceparent = "00-\(Self.hex(traceID))-\(Self.hex(spanID))-\(sampled ? "01" : "00")"
    self.tracestate = tracestate.utf8.count <= Self.maximumTracestateLength ? tracestate : ""
  }

  /// The context of the work the current task does: the sidecar's own span when
  /// tracing is on, else the context the request came with (passed on unchanged).
  /// Set by the API's interceptor and middleware, by deliveries and by component
  /// calls; read wherever a context leaves the sidecar.
  @TaskLocal public static var current: TraceContext?

  /// The trace id, 32 lower-case hex digits.
  public var traceID: Substring { traceparent.dropFirst(3).prefix(32) }
  /// The id of the span this context names (the parent of whatever follows it), 16 hex digits.
  public var spanID: Substring { traceparent.dropFirst(36).prefix(16) }
  /// Whether the `sampled` flag is set.
  public var isSampled: Bool {
    guard let flags = UInt8(traceparent.suffix(2), radix: 16) else { return false }
    return flags & 1 == 1
  }

  /// The trace id as 16 bytes.
  public var traceIDBytes: [UInt8] { Self.bytes(hex: traceID) ?? [] }
  /// The span id as 8 bytes.
  public var spanIDBytes: [UInt8] { Self.bytes(hex: spanID) ?? [] }

  public var description: String {
    tracestate.isEmpty ? traceparent : "\(traceparent) (\(tracestate))"
  }

  static func isValid(_ text: String) -> Bool {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16,
      parts[3].count == 2
    else {
      return false
    }
    let hex = Set("0123456789abcdef")
    guard parts.allSatisfy({ $0.allSatisfy(hex.contains) }), parts[0] != "ff" else { return false }
    return parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
  }

  private static let digits = Array("0123456789abcdef".utf8)

  /// Lower-case hex of `bytes`.
  public static func hex(_ bytes: some Collection<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// The bytes of an even-length hex string; nil when it is not hex.
  public static func bytes(hex text: some StringProtocol) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
      default: nil
      }
    }
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count / 2)
    var index = 0
    while index < utf8.count {
      guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
      out.append(high << 4 | low)
      index += 2
    }
    return out
  }
}
