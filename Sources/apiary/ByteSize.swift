/// Sizes written like `4Mi`, `512Ki`, `4MB`, `1000000`.
enum ByteSize {
  /// The number of bytes `text` names; `nil` when it is not a size.
  static func parse(_ text: String) -> Int? {
    let units: [(String, Int)] = [
      ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("KB", 1000), ("MB", 1_000_000),
      ("GB", 1_000_000_000),
      ("K", 1000), ("M", 1_000_000), ("G", 1_000_000_000), ("B", 1),
    ]
    for (suffix, factor) in units where text.hasSuffix(suffix) {
      guard let number = Int(text.dropLast(suffix.count)), number >= 0 else { return nil }
      let (bytes, overflow) = number.multipliedReportingOverflow(by: factor)
      return overflow ? nil : bytes
    }
    return Int(text).flatMap { $0 >= 0 ? $0 : nil }
  }
}
