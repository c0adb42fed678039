/// Parses durations the way Dapr's configuration writes them (Go's syntax): a sequence
/// of decimal numbers with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, e.g. `5s`,
/// `250ms`, `1m30s`, `1.5s`. A bare number is not accepted: the unit is required, and so
/// is a duration of at most ``maximum`` (longer ones would overflow; none is meant).
public enum DurationParsing {
  /// The longest duration accepted: 100 years.
  public static let maximum = Duration.seconds(100 * 365 * 24 * 3600)

  /// The duration `text` names, or `nil` when it is not a valid duration.
  public static func parse(_ text: String) -> Duration? {
    var rest = Substring(text.trimmingCharacters(in: .whitespaces))
    guard !rest.isEmpty else { return nil }
    var total = Duration.zero
    while !rest.isEmpty {
      let number = rest.prefix { $0.isNumber || $0 == "." }
      guard !number.isEmpty, let value = Double(number) else { return nil }
      rest = rest.dropFirst(number.count)
      let unit = rest.prefix { $0.isLetter }
      rest = rest.dropFirst(unit.count)
      let nanoseconds: Double
      switch unit {
      case "ns": nanoseconds = 1
      case "us", "µs": nanoseconds = 1_000
      case "ms": nanoseconds = 1_000_000
      case "s": nanoseconds = 1_000_000_000
      case "m": nanoseconds = 60_000_000_000
      case "h": nanoseconds = 3_600_000_000_000
      default: return nil
      }
      let term = (value * nanoseconds).rounded()
      // Past the maximum (or not finite) it is no duration anyone means, and converting
      // it to Int64 nanoseconds would trap.
      guard term.isFinite, term <= Double(maximum.components.seconds) * 1e9 else { return nil }
      total += .nanoseconds(Int64(term))
      guard total <= maximum else { return nil }
    }
    return total
  }
}

extension String {
  fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
    String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
  }
}

extension Set where Element == Character {
  fileprivate static let whitespaces: Set<Character> = [" ", "\t"]
}

/// "2 s", "500 ms", "1.5 s": a duration as people read it.
public func formatDuration(_ duration: Duration) -> String {
  let (seconds, attoseconds) = duration.components
  let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
  if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
  if milliseconds < 1000 { return "\(milliseconds) ms" }
  return "\(Double(milliseconds) / 1000) s"
}

/// A duration as Go's `time.Duration.String()` writes it — `100ms`, `1.5s`, `2m0s`,
/// `1h0m0s`, `0s` — for the log lines daprd words with `%v` of a duration.
public func goDurationString(_ duration: Duration) -> String {
  let (seconds, attoseconds) = duration.components
  let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
  if nanoseconds == 0 { return "0s" }
  let sign = nanoseconds < 0 ? "-" : ""
  let magnitude = nanoseconds.magnitude
  /// `value / unit` with the fraction's trailing zeros dropped (`1.5`, `100`).
  func decimal(_ value: UInt64, unit: UInt64, digits: Int) -> String {
    let whole = value / unit
    var fraction = String(value % unit)
    fraction = String(repeating: "0", count: digits - fraction.count) + fraction
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
  }
  if magnitude < 1_000 { return "\(sign)\(magnitude)ns" }
  if magnitude < 1_000_000 { return sign + decimal(magnitude, unit: 1_000, digits: 3) + "µs" }
  if magnitude < 1_000_000_000 {
    return sign + decimal(magnitude, unit: 1_000_000, digits: 6) + "ms"
  }
  let hours = magnitude / 3_600_000_000_000
  let minutes = magnitude / 60_000_000_000 % 60
  let secondsText = decimal(magnitude % 60_000_000_000, unit: 1_000_000_000, digits: 9) + "s"
  if hours > 0 { return "\(sign)\(hours)h\(minutes)m" + secondsText }
  if minutes > 0 { return "\(sign)\(minutes)m" + secondsText }
  return sign + secondsText
}
