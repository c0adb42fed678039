import Foundation

/// Where component sockets live, as both the sidecar and component processes find it.
public enum SocketsFolder {
  /// Dapr's default sockets folder, which Apiary shares.
  public static let defaultPath = "/tmp/dapr-components-sockets"

  /// The environment variables consulted, first match wins.
  public static let environmentVariables = ["APIARY_SOCKETS_DIR", "DAPR_COMPONENTS_SOCKETS_FOLDER"]

  /// The sockets folder: `explicit` when given, else `APIARY_SOCKETS_DIR`, else
  /// `DAPR_COMPONENTS_SOCKETS_FOLDER`, else ``defaultPath``. Empty values are ignored.
  public static func resolve(explicit: String? = nil, environment: [String: String]) -> String {
    if let explicit, !explicit.isEmpty { return explicit }
    for name in environmentVariables {
      if let value = environment[name], !value.isEmpty { return value }
    }
    return defaultPath
  }

  /// The socket path of a component named `name`: `explicit` when given, else `<sockets folder>/<name>.sock` in the folder this
  /// process's environment names (see ``resolve(explicit:environment:)``).
  public static func socketPath(name: String, explicit: String?) -> String {
    explicit
      ?? socketPath(name: name, folder: resolve(environment: ProcessInfo.processInfo.environment))
  }

  /// The socket path of a component named `name` in `folder` (`<folder>/<name>.sock`).
  public static func socketPath(name: String, folder: String) -> String {
    folder.hasSuffix("/") ? "\(folder)\(name).sock" : "\(folder)/\(name).sock"
  }
}
