/// Error messages as they go on the wire: bounded.
///
/// Messages quote the input they refuse (a key, a name, an etag), which can be
/// megabytes. A gRPC status message travels in a header (`grpc-message`, and again in
/// `grpc-status-details-bin` when there are details), and peers refuse headers past a
/// few KiB (gRPC core: 8 KiB by default), which would turn the status into
/// RESOURCE_EXHAUSTED.
public enum ErrorMessage {
  /// The longest message kept whole, in characters.
  public static let maximumLength = 1024

  /// `message`, or its first 768 and last 192 characters around `… (N characters
  /// left out) …` when it is longer than ``maximumLength``, so both the start and the
  /// end of the sentence survive.
  public static func bounded(_ message: String) -> String {
    guard message.utf8.count > maximumLength else { return message }
    let count = message.count
    guard count > maximumLength else { return message }
    let head = 768
    let tail = 192
    return
      "\(message.prefix(head)) … (\(count - head - tail) characters left out) … \(message.suffix(tail))"
  }
}
