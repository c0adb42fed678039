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
