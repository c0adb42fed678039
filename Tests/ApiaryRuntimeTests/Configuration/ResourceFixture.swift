import ApiaryRuntime
import ApiaryTestSupport
import Foundation

/// A temporary resources folder that tests write YAML files into and load back.
struct ResourceFixture {
  let folder: TemporaryFolder
  let logs = LogCapture()

  init() throws {
    folder = try TemporaryFolder(prefix: "apiary-config")
  }

  /// The resources folder's path.
  var path: String { folder.path }

  /// The path of `name` in the folder, exactly as error messages spell it.
  func file(_ name: String) -> String { folder.file(name) }

  /// Writes `text` to the file `name` in the folder.
  func write(_ name: String, _ text: String) throws {
    try text.write(toFile: folder.file(name), atomically: true, encoding: .utf8)
  }

  /// A loader for this folder (and `extraPaths` after it).
  func loader(appID: String = "orders", extraPaths: [String] = []) -> ResourceLoader {
    ResourceLoader(paths: [path] + extraPaths, appID: appID, logger: logs.logger)
  }

  /// Loads the folder as the app `appID`.
  func load(appID: String = "orders") throws -> [ComponentDefinition] {
    try loader(appID: appID).load()
  }

  /// Loads the folder's components and subscriptions as the app `appID`.
  func loadResources(appID: String = "orders") throws -> LoadedResources {
    try loader(appID: appID).loadResources()
  }

  func remove() { folder.remove() }
}

/// A minimal valid Component document.
func componentYAML(_ name: String, type: String = "state.memory", extra: String = "") -> String {
  """
  apiVersion: dapr.io/v1alpha1
  kind: Component
  metadata:
    name: \(name)
  spec:
    type: \(type)
  \(extra)
  """
}
