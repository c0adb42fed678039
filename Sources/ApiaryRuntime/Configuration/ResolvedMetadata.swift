/// A component's metadata with every value read: what its `Init` call receives.
public struct ResolvedMetadata: Sendable, Equatable {
  /// Property name to value.
  public var properties: [String: String]
  /// The names of the properties whose value came from a secret store, so that anything
  /// that prints the metadata can redact them.
  public var secretKeys: Set<String>
  /// The names of the properties whose value came from the environment (`envRef`):
  /// values the operator kept out of the component file, never shown either.
  public var environmentKeys: Set<String>

  /// Creates resolved metadata.
  public init(
    properties: [String: String] = [:], secretKeys: Set<String> = [],
    environmentKeys: Set<String> = []
  ) {
    self.properties = properties
    self.secretKeys = secretKeys
    self.environmentKeys = environmentKeys
  }

  /// The properties with every secret value replaced by `redacted`, for logs and status output.
  public func redacted(_ replacement: String = "******") -> [String: String] {
    var shown = properties
    for key in secretKeys where shown[key] != nil {
      shown[key] = replacement
    }
    return shown
  }
}
