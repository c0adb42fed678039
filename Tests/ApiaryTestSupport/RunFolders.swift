import Foundation

/// A resources folder and a sockets folder for `apiary run`, removed by ``remove()``.
public struct RunFolders: Sendable {
  public let resources: TemporaryFolder
  public let sockets: TemporaryFolder

  /// Creates both folders; a non-empty `yaml` is written to `components.yaml` in the
  /// resources folder.
  public init(yaml: String = "") throws {
    resources = try TemporaryFolder()
    sockets = try TemporaryFolder()
    if !yaml.isEmpty {
      try yaml.write(toFile: resources.file("components.yaml"), atomically: true, encoding: .utf8)
    }
  }

  /// The arguments of `apiary run` on these folders, then `extra`.
  public func run(_ extra: [String]) -> [String] {
    ["run", "--resources-path", resources.path, "--sockets-dir", sockets.path] + extra
  }

  /// Deletes both folders and their contents.
  public func remove() {
    resources.remove()
    sockets.remove()
  }
}
