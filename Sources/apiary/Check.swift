import ApiaryRuntime
import ArgumentParser
import ComponentKit
import Foundation
import Logging

/// `apiary check`: the component files (and `--config`) read as `apiary run` reads
/// them, without starting anything.
struct Check: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check component files and the apiary config without starting the sidecar.",
    discussion: """
      Reads every *.yaml / *.yml in each --resources-path, and --config when given,
      exactly as 'apiary run' does at start-up: YAML, the Component and
      Subscription fields, scopes for --app-id, names defined twice, and the order
      secret stores must start in. Lists what 'apiary run' would start. Metadata
      from secretKeyRef is not looked up (that needs the secret stores running),
      and sockets are not looked at (see 'apiary discover').

      Exits 0 when everything reads, 1 with 'error: <file>, document N: ...' naming
      the file and the field otherwise.

      Example:  apiary check --resources-path ./components --app-id orders
      """
  )

  @Option(
    name: .customLong("resources-path"),
    help: ArgumentHelp("A folder of component files; repeat for several. Default: ./components when it exists.", valueName: "dir"))
  var resourcesPaths: [String] = []

  @Option(name: .customLong("app-id"), help: "The application's id; components scoped to other apps are left out.")
  var appID: String = "apiary"

  @Option(name: .customLong("config"), help: ArgumentHelp("Apiary's own configuration file to check too.", valueName: "file"))
  var config: String?

  @Flag(name: .shortAndLong, help: "Also print the info lines of reading (documents of other kinds, skipped scopes).")
  var verbose = false

  func run() throws {
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = verbose ? .info : .warning
      return handler
    }
    var paths = resourcesPaths
    if paths.isEmpty, FileKind.of("components") == .directory { paths = ["components"] }
    do {
      if let config {
        let settings = try ApiaryConfig.load(path: config)
        print("\(config): \(settings.processes.count) processes to supervise")
      }
      let resources = try ResourceLoader(paths: paths, appID: appID, logger: Logger(label: "apiary")).loadResources()
      let ordered = try InitializationOrder.order(resources.components)
      if paths.isEmpty || ordered.isEmpty {
        print("no component files: 'apiary run' would start the built-in statestore and pubsub")
      }
      for component in ordered {
        let version = component.version.isEmpty ? "" : " \(component.version)"
        print("component \(component.name): \(component.type)\(version) (\(component.source))")
      }
      for subscription in resources.subscriptions {
        print(
          "subscription \(subscription.name): \(subscription.pubsubName)/\(subscription.topic) -> \(subscription.route) (\(subscription.source))"
        )
      }
      print("ok: \(ordered.count) components, \(resources.subscriptions.count) subscriptions")
    } catch {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }
}
