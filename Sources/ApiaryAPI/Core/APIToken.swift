/// The API token check shared by the gRPC interceptor and the HTTP middleware.
public struct APIToken: Sendable {
  /// The header (HTTP) and metadata key (gRPC) carrying the token.
  public static let header = "dapr-api-token"

  private let expected: [UInt8]

  /// The token from `APIARY_API_TOKEN`, else `DAPR_API_TOKEN`; `nil` when neither is
  /// set (or both are empty): no token is required.
  public static func from(environment: [String: String]) -> String? {
    for name in ["APIARY_API_TOKEN", "DAPR_API_TOKEN"] {
      if let value = environment[name], !value.isEmpty { return value }
    }
    return nil
  }

  public init(_ token: String) {
    expected = Array(token.utf8)
  }

  /// Whether `presented` is the token, compared in time that depends only on the
  /// lengths, never on where the first differing byte is.
  public func accepts(_ presented: String?) -> Bool {
    guard let presented else { return false }
    let given = Array(presented.utf8)
    var difference = UInt8(given.count == expected.count ? 0 : 1)
    for index in 0..<expected.count {
      difference |= expected[index] ^ (index < given.count ? given[index] : 0)
    }
    return difference == 0
  }

  /// The error for a missing or wrong token.
  public static func rejection(_ presented: String?) -> DaprError {
    DaprError(
      .unauthenticated, "ERR_API_TOKEN",
      presented == nil
        ? "the API needs the header \(header); set it to the sidecar's API token"
        : "the \(header) header does not match the sidecar's API token")
  }
}
