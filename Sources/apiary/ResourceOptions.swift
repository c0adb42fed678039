import ApiaryShared
import ArgumentParser

/// What `apiary run` and `apiary check` read alike: the component files, the
/// configuration files, the app's id and the sockets folder.
struct ResourceOptions: ParsableArguments {
  @Option(
    name: .customLong("resources-path"),
    help: ArgumentHelp(
      "A folder of component files; repeat for several. Default: ./components when it exists.",
      valueName: "dir"))
  var resourcesPaths: [String] = []

  @Option(
    name: .customLong("sockets-dir"),
    help: ArgumentHelp(
      "The folder of component sockets (whose socket files may serve the types named).",
      valueName: "dir"))
  var socketsDir: String?

  @Option(
    name: .customLong("app-id"),
    help: "This application's id; components scoped to other apps are skipped.")
  var appID: String = "apiary"

  @Option(
    name: .customLong("config"),
    help: ArgumentHelp(
      "A configuration file, repeatable: Dapr's kind: Configuration documents and/or apiary's own settings (modules, processes).",
      valueName: "file"))
  var config: [String] = []

  /// The folders to read: those given, else `./components` when it is a folder.
  var folders: [String] {
    if resourcesPaths.isEmpty, FileKind.of("components") == .directory { return ["components"] }
    return resourcesPaths
  }
}
