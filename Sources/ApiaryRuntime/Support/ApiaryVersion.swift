/// Apiary's own version, reported by `apiary --version`, the actuator and metadata.
public enum ApiaryVersion {
  /// The release this source tree builds.
  public static let current = "0.1.0"
}
