import ApiaryRuntime
import ApiaryShared
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
      from secretKeyRef is not looked up (that needs the secret stores running).
      A type no built-in has is checked against the socket files in the sockets
      folder (without dialling them; see 'apiary discover'): a typo of a built-in
      type is an error with the nearest type, any other type is reported as
      waiting for its socket.

      Exits 0 when everything reads, 1 with 'error: <file>, document N: ...' naming
      the file and the field otherwise. -v also lists the files it skipped.

      Example:  apiary check --resources-path ./components --app-id orders
      """
  )

  @OptionGroup var resourceOptions: ResourceOptions

  @Flag(
    name: .shortAndLong,
    help:
      "Also print the info lines of reading (documents of other kinds, skipped scopes) and the files skipped."
  )
  var verbose = false

  func run() throws {
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = verbose ? .info : .warning
      return handler
    }
    let paths = resourceOptions.folders
    let config = resourceOptions.config
    do {
      if !config.isEmpty {
        let settings = try ApiaryConfig.load(paths: config)
        print(
          "\(config.joined(separator: ", ")): \(settings.processes.count) processes to supervise, \(settings.dapr.secretScopes.count) secret scopes"
        )
        for section in settings.dapr.unsupportedSections {
          print("note: Configuration spec.\(section) is not applied by apiary")
        }
      }
      let logger = Logger(label: "apiary")
      let resources = try ResourceLoader(paths: paths, appID: resourceOptions.appID, logger: logger)
        .loadResources()
      if verbose {
        for skipped in resources.skippedFiles { print("skipped \(skipped)") }
      }
      let folder = SocketsFolder.resolve(
        explicit: resourceOptions.socketsDir, environment: ProcessInfo.processInfo.environment)
      let socketNames = Set(
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
          .filter { FileKind.of((folder as NSString).appendingPathComponent($0)) == .socket }
          .map(componentName(forSocketFileName:)))
      let findings = ComponentTypeCheck.check(
        resources.components, builtIns: BuiltInFactories.types, socketNames: socketNames)
      if let error = findings.first(where: \.isError) { throw ConfigurationError(error.message) }
      var components = resources.components
      for finding in findings {
        print("\(finding.isError ? "error" : "note"): \(finding.message)")
        if case .unsupportedBlock(let definition) = finding {
          components.removeAll { $0.name == definition.name }
        }
      }
      let ordered = try InitializationOrder.order(components)
      _ = try ResiliencyPolicies(
        documents: resources.resiliency, components: components, logger: logger)
      for document in resources.resiliency {
        print("resiliency \(document.name) (\(document.source))")
      }
      if paths.isEmpty || ordered.isEmpty {
        print("no component files: 'apiary run' would start the built-in statestore and pubsub")
      }
      for component in ordered {
        let version = component.version.isEmpty ? "" : " \(component.version)"
        print("component \(component.name): \(component.type)\(version) (\(component.source))")
      }
      for subscription in resources.subscriptions {
        print(
          "subscription \(subscription.name): \(subscription.pubsubName)/\(subscription.topic) -> \(subscription.routes.listed.map { $0.match.isEmpty ? $0.path : "\($0.path) if \($0.match)" }.joined(separator: ", ")) (\(subscription.source))"
        )
      }
      print("ok: \(ordered.count) components, \(resources.subscriptions.count) subscriptions")
    } catch {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }
}
