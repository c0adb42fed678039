import Foundation
import Logging
import Yams

/// Reads the component definitions an app may use from Dapr-format resource folders.
///
/// Every `*.yaml` and `*.yml` file directly in each resources path is read, in file-name
/// order, paths in the order given. A file may hold several documents separated by
/// `---`; empty documents are skipped, Subscriptions are read by ``loadResources()``,
/// and resources of other kinds (Configuration, Resiliency, …) are ignored with one
/// info line each. Components scoped
/// to other apps are left out, and a name defined twice is an error.
public struct ResourceLoader: Sendable {
  /// The resources folders, in the order they are read.
  public var paths: [String]
  /// The app the sidecar serves; components whose `scopes` do not list it are left out.
  public var appID: String
  /// Where ignored documents and skipped components are reported.
  public var logger: Logger

  /// The largest resource file read, in bytes. Component and Subscription files are a
  /// few hundred bytes; this bounds the time and memory a wrong or hostile file costs
  /// (YAML nesting and anchors make parsing cost more than the file's size).
  public static let maximumFileSize = 1 << 20

  /// Throws, naming `path` and its size, when the file is over ``maximumFileSize``;
  /// checked before anything reads it. `kind` names the file in the message.
  static func refuseOversized(_ path: String, kind: String) throws(ConfigurationError) {
    if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
      size > maximumFileSize
    {
      throw ConfigurationError(
        "\(path): is \(size) bytes; a \(kind) file may hold at most \(maximumFileSize) bytes (1 MiB)"
      )
    }
  }

  /// Creates a loader for the folders `paths` and the app `appID`.
  public init(paths: [String], appID: String, logger: Logger) {
    self.paths = paths
    self.appID = appID
    self.logger = logger
  }

  /// Reads every definition the app may use, in path, file and document order.
  ///
  /// - Throws: ``ConfigurationError`` when a path is missing or not a folder, a file
  ///   cannot be read or is not valid YAML, a document is not a valid resource or
  ///   Component, or two components the app may use have the same name. The message
  ///   names the file, the document and the field.
  public func load() throws(ConfigurationError) -> [ComponentDefinition] {
    try loadResources().components
  }

  /// Reads every Component and Subscription the app may use, in path, file and
  /// document order.
  ///
  /// - Throws: ``ConfigurationError`` as ``load()`` does; also when a Subscription is
  ///   malformed or two subscriptions the app may use have the same name.
  public func loadResources() throws(ConfigurationError) -> LoadedResources {
    var definitions: [ComponentDefinition] = []
    var subscriptions: [SubscriptionDefinition] = []
    var subscriptionSources: [String: DefinitionSource] = [:]
    var firstDefinition: [String: DefinitionSource] = [:]
    var skipped: [SkippedFile] = []
    var resiliencyDocuments: [ResiliencyDefinition] = []
    for path in paths {
      let (files, skippedHere) = try resourceFiles(in: path)
      for entry in skippedHere {
        if entry.isWarning {
          logger.warning(
            "skipping \(entry.file): \(entry.reason)", metadata: ["file": "\(entry.file)"])
        } else {
          logger.info(
            "skipping \(entry.file): \(entry.reason)", metadata: ["file": "\(entry.file)"])
        }
      }
      skipped += skippedHere
      for file in files {
        let (components, declared, resiliency) = try read(file: file)
        for document in resiliency {
          guard document.scopes.isEmpty || document.scopes.contains(appID) else {
            logger.info(
              "skipping resiliency \(document.name): scoped to apps \(document.scopes.joined(separator: ", "))"
            )
            continue
          }
          logger.info(
            "Loading Resiliency configuration: \(document.name)",
            metadata: ["source": "\(document.source)"])
          resiliencyDocuments.append(document)
        }
        for subscription in declared {
          guard subscription.scopes.isEmpty || subscription.scopes.contains(appID) else {
            logger.info(
              "skipping subscription \(subscription.name): scoped to apps \(subscription.scopes.joined(separator: ", "))",
              metadata: [
                "subscription": "\(subscription.name)", "source": "\(subscription.source)",
              ])
            continue
          }
          if let earlier = subscriptionSources[subscription.name] {
            throw ConfigurationError(
              "subscription name '\(subscription.name)' is defined twice: \(earlier) and \(subscription.source)"
            )
          }
          subscriptionSources[subscription.name] = subscription.source
          subscriptions.append(subscription)
        }
        for definition in components {
          guard definition.isVisible(to: appID) else {
            logger.info(
              "skipping component \(definition.name): scoped to apps \(definition.scopes.joined(separator: ", "))",
              metadata: [
                "component": "\(definition.name)", "type": "\(definition.type)",
                "source": "\(definition.source)",
              ])
            continue
          }
          if let earlier = firstDefinition[definition.name] {
            throw ConfigurationError(
              "component name '\(definition.name)' is defined twice: \(earlier) and \(definition.source)"
            )
          }
          firstDefinition[definition.name] = definition.source
          definitions.append(definition)
        }
      }
    }
    var resources = LoadedResources(components: definitions, subscriptions: subscriptions)
    resources.skippedFiles = skipped
    resources.resiliency = resiliencyDocuments
    return resources
  }

  /// The resource files directly in `path`, sorted by name, each as `path` joined with
  /// its name; and the `*.yaml` / `*.yml` entries that are not files to read, with why.
  private func resourceFiles(
    in path: String
  ) throws(ConfigurationError) -> (files: [String], skipped: [SkippedFile]) {
    let files = FileManager.default
    var isFolder: ObjCBool = false
    guard files.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw ConfigurationError("resources path '\(path)' does not exist")
    }
    guard isFolder.boolValue else {
      throw ConfigurationError(
        "resources path '\(path)' is not a folder; give the folder that holds the resource files")
    }
    let names: [String]
    do {
      names = try files.contentsOfDirectory(atPath: path)
    } catch {
      throw ConfigurationError(
        "resources path '\(path)' could not be listed; check its permissions")
    }
    let folder = path.hasSuffix("/") ? path : path + "/"
    var found: [String] = []
    var skipped: [SkippedFile] = []
    for file in names.filter({ $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }).sorted().map({
      folder + $0
    }) {
      if let reason = Self.unreadableEntry(file) {
        skipped.append(reason)
      } else {
        found.append(file)
      }
    }
    return (found, skipped)
  }

  /// Why the folder entry `file` is not a file to read, or nil when it is one: a
  /// folder named like a resource file, or a symbolic link that leads nowhere.
  static func unreadableEntry(_ file: String) -> SkippedFile? {
    var info = stat()
    guard stat(file, &info) != 0 else {
      if info.st_mode & S_IFMT == S_IFDIR {
        return SkippedFile(file: file, reason: "a folder, not a resource file", isWarning: false)
      }
      return nil
    }
    let error = errno
    let target =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: file)).map { " to \($0)" } ?? ""
    switch error {
    case ELOOP:
      return SkippedFile(
        file: file,
        reason:
          "a symbolic link\(target) that loops (too many levels of links); fix or remove the link",
        isWarning: true)
    case ENOENT:
      return SkippedFile(
        file: file,
        reason: "a symbolic link\(target) to a file that does not exist; fix or remove the link",
        isWarning: true)
    default:
      return SkippedFile(file: file, reason: String(cString: strerror(error)), isWarning: true)
    }
  }

  /// The Component and Subscription definitions in `file`, in document order, before
  /// scoping.
  private func read(
    file: String
  ) throws(ConfigurationError) -> (
    components: [ComponentDefinition], subscriptions: [SubscriptionDefinition],
    resiliency: [ResiliencyDefinition]
  ) {
    try Self.refuseOversized(file, kind: "resource")
    guard let data = FileManager.default.contents(atPath: file) else {
      throw ConfigurationError("\(file): could not be read; check its permissions")
    }
    guard let text = String(validating: data, as: UTF8.self) else {
      throw ConfigurationError("\(file): is not UTF-8 text")
    }
    logger.debug("reading resources", metadata: ["file": "\(file)"])

    var document = 1
    let parser: Parser
    do {
      parser = try Parser(yaml: text, encoding: .utf8)
    } catch {
      throw ConfigurationError(
        DefinitionSource(file: file, document: document),
        "not valid YAML: \(Self.describe(yamlError: error))")
    }
    var definitions: [ComponentDefinition] = []
    var subscriptions: [SubscriptionDefinition] = []
    var resiliency: [ResiliencyDefinition] = []
    while true {
      let source = DefinitionSource(file: file, document: document)
      let root: Node?
      do {
        root = try parser.nextRoot()
      } catch {
        throw ConfigurationError(source, "not valid YAML: \(Self.describe(yamlError: error))")
      }
      guard let root else { break }
      switch try ResourceDocumentParser(source: source).parse(root) {
      case .empty:
        break
      case .component(let definition):
        definitions.append(definition)
      case .subscription(let subscription):
        subscriptions.append(subscription)
      case .resiliency(.success(let document), _):
        resiliency.append(document)
      case .resiliency(.failure(let error), let name):
        logger.error(
          "Could not read resiliency policy \(name): \(error)",
          metadata: ["file": "\(file)", "document": "\(document)"])
      case .otherKind(let kind):
        logger.info(
          "ignoring kind \(kind) in \(source): only kinds Component, Subscription and Resiliency are read",
          metadata: ["file": "\(file)", "document": "\(document)", "kind": "\(kind)"])
      }
      document += 1
    }
    return (definitions, subscriptions, resiliency)
  }

  /// Yams' error as one line: where (`line 3, column 9`), what, and what libyaml was
  /// doing at the time. Yams' own description spans several lines with a source snippet,
  /// which reads badly inside a one-line error.
  static func describe(yamlError error: any Error) -> String {
    guard let error = error as? YamlError else { return "\(error)" }
    func at(_ mark: Mark) -> String { "line \(mark.line), column \(mark.column)" }
    func during(_ context: YamlError.Context?) -> String {
      guard let context else { return "" }
      return " (\(context.text) at \(at(context.mark)))"
    }
    switch error {
    case .scanner(let context, let problem, let mark, _),
      .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      return "\(at(mark)): \(problem)\(during(context))"
    case .reader(let problem, let offset, _, let yaml):
      guard let offset, offset <= yaml.count else { return problem }
      let before = yaml.prefix(offset)
      let line = before.count(where: { $0 == "\n" }) + 1
      let column = before.reversed().prefix { $0 != "\n" }.count + 1
      return "line \(line), column \(column): \(problem)"
    case .duplicatedKeysInMapping(let duplicates, let context):
      let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
      return "\(at(context.mark)): key \(keys) appears more than once in the same mapping"
    default:
      return "\(error)"
    }
  }
}
