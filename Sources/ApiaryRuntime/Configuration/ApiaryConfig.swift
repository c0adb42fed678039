import Foundation
import Yams

/// The sidecar's own configuration file (`apiary run --config apiary.yaml`): which
/// parts of the sidecar run, and which component processes it launches and supervises.
///
/// ```yaml
/// modules:            # each true when absent
///   httpApi: true     # the Dapr HTTP API (/v1.0)
///   grpcApi: true     # the Dapr gRPC API
///   actuator: true    # /actuator/* on the HTTP port
///   metrics: true     # /metrics on the HTTP port
///   supervision: true # launch the processes below
///   logForwarding: true
/// processes:
///   - name: memstore
///     command: [memstore, --socket, /tmp/dapr-components-sockets/memstore.sock]
///     env: {LOG_LEVEL: debug}
///     workingDir: /srv/memstore
///     restart: always          # always | on-failure | never (default on-failure)
///     backoff: {initial: 1s, max: 30s}
///     socket: memstore.sock    # in the sockets folder; default <name>.sock
///     startTimeout: 10s        # how long start-up waits for the socket
/// ```
///
/// Every problem is reported with the file and the field, e.g.
/// `apiary.yaml: processes[0].restart: 'sometimes' is not always, on-failure or never`.
/// Unknown keys are errors too, so a misspelt switch never passes silently.
public struct ApiaryConfig: Sendable, Equatable {
  public var modules = Modules()
  public var processes: [ProcessSpec] = []
  /// Dapr's `kind: Configuration` documents of the same files, overlaid in order.
  public var dapr = DaprConfiguration()

  public init(modules: Modules = Modules(), processes: [ProcessSpec] = []) {
    self.modules = modules
    self.processes = processes
  }

  /// Parts of the sidecar that can be switched off, as KubeEdge's beehive does with
  /// its modules.
  public struct Modules: Sendable, Equatable {
    public var httpApi = true
    public var grpcApi = true
    public var actuator = true
    public var metrics = true
    public var supervision = true
    public var logForwarding = true

    public init() {}
  }

  /// When a supervised process is started again after it exits.
  public enum RestartPolicy: String, Sendable, Equatable {
    case always
    case onFailure = "on-failure"
    case never
  }

  /// One component process to launch and supervise.
  public struct ProcessSpec: Sendable, Equatable {
    public var name: String
    public var command: [String]
    public var env: [String: String] = [:]
    public var workingDir: String?
    public var restart: RestartPolicy = .onFailure
    public var initialBackoff: Duration = .seconds(1)
    public var maxBackoff: Duration = .seconds(30)
    /// The socket it serves, relative to the sockets folder unless absolute.
    public var socket: String
    public var startTimeout: Duration = .seconds(10)

    public init(name: String, command: [String], socket: String? = nil) {
      self.name = name
      self.command = command
      self.socket = socket ?? "\(name).sock"
    }
  }

  /// Reads `path`.
  public static func load(path: String) throws(ConfigurationError) -> ApiaryConfig {
    try load(paths: [path])
  }

  /// Reads `paths` in order (`--config` repeated): apiary's own settings may appear in
  /// one document of one file; Dapr's `kind: Configuration` documents overlay each
  /// other, the later file's sections winning, as daprd's repeated `--config` does.
  /// `${VAR}` in a file is replaced by the environment variable's value (empty when
  /// unset) before the YAML is read, as daprd does.
  public static func load(
    paths: [String], environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(ConfigurationError) -> ApiaryConfig {
    var config = ApiaryConfig()
    var settingsFile: String?
    for path in paths {
      let text: String
      try ResourceLoader.refuseOversized(path, kind: "config")
      do {
        text = try String(contentsOfFile: path, encoding: .utf8)
      } catch {
        throw ConfigurationError("\(path): cannot read the file: \(error.localizedDescription)")
      }
      let parsed = try parseDocuments(expand(text, environment), file: path)
      if let settings = parsed.settings {
        if let earlier = settingsFile {
          throw ConfigurationError(
            "\(path): apiary's settings (modules, processes) are already given in \(earlier)")
        }
        settingsFile = path
        config.modules = settings.modules
        config.processes = settings.processes
      }
      for (dapr, written) in parsed.dapr { config.dapr.overlay(dapr, written: written) }
    }
    return config
  }

  /// `${NAME}` replaced by `environment[NAME]` (empty when unset).
  static func expand(_ text: String, _ environment: [String: String]) -> String {
    var out = ""
    var rest = Substring(text)
    while let start = rest.range(of: "${") {
      guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
      out += rest[..<start.lowerBound]
      out += environment[String(rest[start.upperBound..<end])] ?? ""
      rest = rest[rest.index(after: end)...]
    }
    return out + rest
  }

  /// Parses the text of a config file named `file` (for messages): apiary's settings
  /// in a document without `kind`.
  public static func parse(_ text: String, file: String) throws(ConfigurationError) -> ApiaryConfig
  {
    let parsed = try parseDocuments(text, file: file)
    var config = parsed.settings ?? ApiaryConfig()
    for (dapr, written) in parsed.dapr { config.dapr.overlay(dapr, written: written) }
    return config
  }

  /// Every document of one file: apiary's settings (at most one document) and Dapr's
  /// Configuration documents with the sections each writes.
  static func parseDocuments(
    _ text: String, file: String
  ) throws(ConfigurationError) -> (
    settings: ApiaryConfig?, dapr: [(DaprConfiguration, Set<String>)]
  ) {
    let parser: Parser
    do {
      parser = try Parser(yaml: text, encoding: .utf8)
    } catch {
      throw ConfigurationError(
        "\(file): not valid YAML: \(ResourceLoader.describe(yamlError: error))")
    }
    var settings: ApiaryConfig?
    var dapr: [(DaprConfiguration, Set<String>)] = []
    var index = 1
    while true {
      let root: Node?
      do {
        root = try parser.nextRoot()
      } catch {
        throw ConfigurationError(
          "\(file): not valid YAML: \(ResourceLoader.describe(yamlError: error))")
      }
      guard let root else { break }
      defer { index += 1 }
      if root.isNull { continue }
      if case .mapping(let document) = root, let kindNode = document.field("kind") {
        let source = DefinitionSource(file: file, document: index)
        let kind = kindNode.scalar?.string ?? ""
        guard kind == "Configuration" else {
          throw ConfigurationError(
            source,
            "kind '\(kind)' is not Configuration (Dapr's) nor apiary's settings (modules, processes, no kind)"
          )
        }
        dapr.append(try DaprConfigurationParser(fields: YAMLFields(source: source)).parse(document))
        continue
      }
      guard settings == nil else {
        throw ConfigurationError(
          "\(file): apiary's settings (modules, processes) are given in two documents")
      }
      settings = try parseSettings(root, file: file)
    }
    return (settings, dapr)
  }

  /// Apiary's own settings document.
  private static func parseSettings(
    _ root: Node, file: String
  ) throws(ConfigurationError) -> ApiaryConfig {
    let reader = Reader(file: file)
    guard case .mapping(let document) = root else {
      throw reader.failure("", "expected a mapping with modules and processes, found \(root.shape)")
    }
    try reader.onlyKeys(document, ["modules", "processes"], at: "")
    var config = ApiaryConfig()
    if let modules = try reader.mapping(document.field("modules"), "modules") {
      try reader.onlyKeys(
        modules, ["httpApi", "grpcApi", "actuator", "metrics", "supervision", "logForwarding"],
        at: "modules")
      func flag(_ key: String, _ keyPath: WritableKeyPath<Modules, Bool>) throws(ConfigurationError)
      {
        if let node = modules.field(key) {
          config.modules[keyPath: keyPath] = try reader.bool(node, "modules.\(key)")
        }
      }
      try flag("httpApi", \.httpApi)
      try flag("grpcApi", \.grpcApi)
      try flag("actuator", \.actuator)
      try flag("metrics", \.metrics)
      try flag("supervision", \.supervision)
      try flag("logForwarding", \.logForwarding)
    }
    if let list = document.field("processes") {
      guard case .sequence(let items) = list else {
        throw reader.failure("processes", "expected a list of processes, found \(list.shape)")
      }
      var names: Set<String> = []
      for (index, item) in items.enumerated() {
        let spec = try reader.process(item, at: "processes[\(index)]")
        guard names.insert(spec.name).inserted else {
          throw reader.failure(
            "processes[\(index)].name", "'\(spec.name)' is used by an earlier process")
        }
        config.processes.append(spec)
      }
    }
    return config
  }

  /// Field-by-field reading with messages that name the file and the field.
  private struct Reader {
    let file: String

    func failure(_ field: String, _ problem: String) -> ConfigurationError {
      ConfigurationError(field.isEmpty ? "\(file): \(problem)" : "\(file): \(field): \(problem)")
    }

    func onlyKeys(
      _ mapping: Node.Mapping, _ allowed: [String], at path: String
    ) throws(ConfigurationError) {
      for (key, _) in mapping {
        let name = key.scalar?.string ?? "\(key)"
        guard allowed.contains(name) else {
          let field = path.isEmpty ? name : "\(path).\(name)"
          throw failure(field, "unknown key (expected one of \(allowed.joined(separator: ", ")))")
        }
      }
    }

    func mapping(_ node: Node?, _ field: String) throws(ConfigurationError) -> Node.Mapping? {
      guard let node else { return nil }
      guard case .mapping(let mapping) = node else {
        throw failure(field, "expected a mapping, found \(node.shape)")
      }
      return mapping
    }

    func text(_ node: Node, _ field: String) throws(ConfigurationError) -> String {
      guard case .scalar(let scalar) = node else {
        throw failure(field, "expected text, found \(node.shape)")
      }
      return scalar.string
    }

    func bool(_ node: Node, _ field: String) throws(ConfigurationError) -> Bool {
      switch try text(node, field).lowercased() {
      case "true", "yes", "on": return true
      case "false", "no", "off": return false
      case let other: throw failure(field, "'\(other)' is not true or false")
      }
    }

    func duration(_ node: Node, _ field: String) throws(ConfigurationError) -> Duration {
      let value = try text(node, field)
      guard let duration = DurationParsing.parse(value), duration > .zero else {
        throw failure(field, "'\(value)' is not a duration; write it like 1s or 500ms")
      }
      return duration
    }

    func process(_ node: Node, at path: String) throws(ConfigurationError) -> ProcessSpec {
      guard case .mapping(let fields) = node else {
        throw failure(path, "expected a mapping with name and command, found \(node.shape)")
      }
      try onlyKeys(
        fields,
        ["name", "command", "env", "workingDir", "restart", "backoff", "socket", "startTimeout"],
        at: path)
      guard let nameNode = fields.field("name") else { throw failure("\(path).name", "is missing") }
      let name = try text(nameNode, "\(path).name")
      guard !name.isEmpty, !name.contains("/") else {
        throw failure("\(path).name", "'\(name)' must be a non-empty name without '/'")
      }
      guard let commandNode = fields.field("command") else {
        throw failure("\(path).command", "is missing (a list: the program, then its arguments)")
      }
      guard case .sequence(let words) = commandNode, !words.isEmpty else {
        throw failure(
          "\(path).command",
          "expected a non-empty list (the program, then its arguments), found \(commandNode.shape)")
      }
      var command: [String] = []
      for (index, word) in words.enumerated() {
        command.append(try text(word, "\(path).command[\(index)]"))
      }
      var spec = ProcessSpec(name: name, command: command)
      if let env = try mapping(fields.field("env"), "\(path).env") {
        for (key, value) in env {
          let variable = key.scalar?.string ?? ""
          spec.env[variable] = value.isNull ? "" : try text(value, "\(path).env.\(variable)")
        }
      }
      if let node = fields.field("workingDir") {
        spec.workingDir = try text(node, "\(path).workingDir")
      }
      if let node = fields.field("restart") {
        let value = try text(node, "\(path).restart")
        guard let policy = RestartPolicy(rawValue: value) else {
          throw failure("\(path).restart", "'\(value)' is not always, on-failure or never")
        }
        spec.restart = policy
      }
      if let backoff = try mapping(fields.field("backoff"), "\(path).backoff") {
        try onlyKeys(backoff, ["initial", "max"], at: "\(path).backoff")
        if let node = backoff.field("initial") {
          spec.initialBackoff = try duration(node, "\(path).backoff.initial")
        }
        if let node = backoff.field("max") {
          spec.maxBackoff = try duration(node, "\(path).backoff.max")
        }
        guard spec.maxBackoff >= spec.initialBackoff else {
          throw failure("\(path).backoff.max", "must not be shorter than backoff.initial")
        }
      }
      if let node = fields.field("socket") { spec.socket = try text(node, "\(path).socket") }
      if let node = fields.field("startTimeout") {
        spec.startTimeout = try duration(node, "\(path).startTimeout")
      }
      return spec
    }
  }
}
