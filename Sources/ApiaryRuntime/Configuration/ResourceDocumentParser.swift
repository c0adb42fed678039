import Yams

/// Turns one YAML document of a resources file into a ``ComponentDefinition``, checking
/// every field's presence and type so that each problem is reported with its place and
/// field (`components/redis.yaml, document 2: spec.type is missing`).
///
/// Written by hand: Yams' `Decodable` support reports errors as coding paths without the
/// file and document, and cannot keep numbers and booleans as their YAML text.
struct ResourceDocumentParser {
  /// What one document holds.
  enum Outcome {
    /// An empty document (nothing, a comment or `~` between `---` lines).
    case empty
    /// A `kind: Component` document.
    case component(ComponentDefinition)
    /// A `kind: Subscription` document (declarative subscription).
    case subscription(SubscriptionDefinition)
    /// A `kind: Resiliency` document, or why it cannot be read (daprd skips such a
    /// document with an error line instead of stopping).
    case resiliency(Result<ResiliencyDefinition, ConfigurationError>, name: String)
    /// A resource of another kind (Subscription, Configuration, Resiliency, …).
    case otherKind(String)
  }

  /// The only `apiVersion` a Component may have.
  static let componentAPIVersion = "dapr.io/v1alpha1"

  /// The document being read, for error messages.
  let source: DefinitionSource
  private var fields: YAMLFields { YAMLFields(source: source) }

  /// Reads the document whose root node is `root`.
  func parse(_ root: Node) throws(ConfigurationError) -> Outcome {
    if root.isNull { return .empty }
    guard case .mapping(let document) = root else {
      throw fields.failure(
        "expected a mapping with apiVersion, kind, metadata and spec, found \(root.shape)")
    }
    guard let kindNode = document.field("kind") else {
      throw fields.failure("kind is missing")
    }
    let kind = try fields.text(kindNode, "kind")
    if kind == "Subscription" { return .subscription(try subscription(document)) }
    if kind == "Resiliency" {
      // The name, read leniently, is for daprd's `Could not read resiliency policy {name}` line.
      let name = document.field("metadata").flatMap { node in
        if case .mapping(let header) = node { header.field("name")?.scalar?.string } else { nil }
      }
      return .resiliency(
        Result { () throws(ConfigurationError) in
          try ResiliencyParser(fields: fields).parse(document)
        },
        name: name ?? "")
    }
    guard kind == "Component" else { return .otherKind(kind) }
    return .component(try component(document))
  }

  /// Reads a `kind: Component` document.
  private func component(_ document: Node.Mapping) throws(ConfigurationError) -> ComponentDefinition
  {
    guard let apiVersionNode = document.field("apiVersion") else {
      throw fields.failure("apiVersion is missing (use \(Self.componentAPIVersion))")
    }
    let apiVersion = try fields.text(apiVersionNode, "apiVersion")
    guard apiVersion == Self.componentAPIVersion else {
      throw fields.failure(
        "apiVersion '\(apiVersion)' is not supported for kind Component (use \(Self.componentAPIVersion))"
      )
    }

    let header = try fields.mapping(document.field("metadata"), "metadata")
    guard let nameNode = header?.field("name") else {
      throw fields.failure("metadata.name is missing")
    }
    let name = try fields.text(nameNode, "metadata.name")
    guard !name.isEmpty else { throw fields.failure("metadata.name is missing") }

    guard let spec = try fields.mapping(document.field("spec"), "spec"),
      let typeNode = spec.field("type")
    else {
      throw fields.failure("spec.type is missing")
    }
    let type = try fields.text(typeNode, "spec.type")
    guard Self.isWellFormed(type: type) else {
      throw fields.failure(
        "spec.type '\(type)' must look like <building block>.<name>, e.g. state.redis")
    }

    var definition = ComponentDefinition(name: name, type: type, source: source)
    if let version = spec.field("version") {
      definition.version = try fields.text(version, "spec.version")
    }
    if let items = try fields.list(spec.field("metadata"), "spec.metadata") {
      definition.metadata = try metadataItems(items)
    }
    if let ignoreErrors = spec.field("ignoreErrors") {
      guard let flag = ignoreErrors.bool else {
        throw fields.failure("spec.ignoreErrors must be true or false")
      }
      definition.ignoreErrors = flag
    }
    if let timeoutNode = spec.field("initTimeout") {
      let timeout = try fields.text(timeoutNode, "spec.initTimeout")
      guard let duration = DurationParsing.parse(timeout) else {
        throw fields.failure(
          "spec.initTimeout '\(timeout)' is not a duration (write it like 5s or 500ms)")
      }
      definition.initTimeout = duration
    }
    if let auth = try fields.mapping(document.field("auth"), "auth"),
      let storeNode = auth.field("secretStore")
    {
      let store = try fields.text(storeNode, "auth.secretStore")
      guard !store.isEmpty else {
        throw fields.failure("auth.secretStore is empty; name a secret store component")
      }
      definition.secretStore = store
    }
    if let scopes = document.field("scopes") {
      definition.scopes = try appIDs(scopes)
    }
    try definition.checkUniqueMetadataNames()
    return definition
  }

  /// The apiVersions a Subscription may have: v1alpha1 routes with `spec.route`,
  /// v2alpha1 with `spec.routes`.
  static let subscriptionAPIVersions = ["dapr.io/v1alpha1", "dapr.io/v2alpha1"]

  /// Reads a declarative `kind: Subscription` document.
  private func subscription(
    _ document: Node.Mapping
  ) throws(ConfigurationError) -> SubscriptionDefinition {
    guard let apiVersionNode = document.field("apiVersion") else {
      throw fields.failure("apiVersion is missing (use dapr.io/v2alpha1)")
    }
    let apiVersion = try fields.text(apiVersionNode, "apiVersion")
    guard Self.subscriptionAPIVersions.contains(apiVersion) else {
      throw fields.failure(
        "apiVersion '\(apiVersion)' is not supported for kind Subscription (use dapr.io/v2alpha1)")
    }
    let header = try fields.mapping(document.field("metadata"), "metadata")
    guard let nameNode = header?.field("name") else {
      throw fields.failure("metadata.name is missing")
    }
    let name = try fields.text(nameNode, "metadata.name")
    guard !name.isEmpty else { throw fields.failure("metadata.name is missing") }
    guard let spec = try fields.mapping(document.field("spec"), "spec") else {
      throw fields.failure("spec is missing")
    }

    func required(_ field: String) throws(ConfigurationError) -> String {
      guard let node = spec.field(field) else { throw fields.failure("spec.\(field) is missing") }
      let value = try fields.text(node, "spec.\(field)")
      guard !value.isEmpty else { throw fields.failure("spec.\(field) is empty") }
      return value
    }
    let pubsub = try required("pubsubname")
    let topic = try required("topic")
    let routes = try subscriptionRoutes(spec, subscription: name)
    guard !routes.isEmpty else {
      throw fields.failure(
        "spec.routes is missing: give spec.routes.default (or rules) naming the app path that receives the events, e.g. /orders"
      )
    }
    var metadata: [String: String] = [:]
    if let entries = try fields.mapping(spec.field("metadata"), "spec.metadata") {
      for (key, value) in entries {
        guard let key = key.scalar?.string, case .scalar(let scalar) = value else {
          throw fields.failure("spec.metadata must map names to single values")
        }
        metadata[key] = scalar.string
      }
    }
    var deadLetterTopic: String?
    if let node = spec.field("deadLetterTopic") {
      deadLetterTopic = try fields.text(node, "spec.deadLetterTopic")
    }
    let bulkSubscribe = try bulkSubscribeOptions(spec)
    var scopes: [String] = []
    if let node = document.field("scopes") { scopes = try appIDs(node) }
    return SubscriptionDefinition(
      name: name, pubsubName: pubsub, topic: topic, routes: routes, metadata: metadata,
      deadLetterTopic: deadLetterTopic, bulkSubscribe: bulkSubscribe, scopes: scopes, source: source
    )
  }

  /// `spec.routes` (a default path and match rules), else the older `spec.route`.
  private func subscriptionRoutes(
    _ spec: Node.Mapping, subscription name: String
  ) throws(ConfigurationError) -> SubscriptionRoutes {
    var routes = SubscriptionRoutes()
    if let node = try fields.mapping(spec.field("routes"), "spec.routes") {
      if let fallback = node.field("default") {
        routes.defaultPath = try fields.text(fallback, "spec.routes.default")
      }
      for (index, entry) in (try fields.list(node.field("rules"), "spec.routes.rules") ?? [])
        .enumerated()
      {
        let field = "spec.routes.rules[\(index)]"
        guard case .mapping(let rule) = entry else {
          throw fields.failure("\(field) must be a mapping with match and path")
        }
        guard let pathNode = rule.field("path") else {
          throw fields.failure("\(field).path is missing")
        }
        let path = try fields.text(pathNode, "\(field).path")
        let match =
          try rule.field("match").map { node throws(ConfigurationError) in
            try fields.text(node, "\(field).match")
          } ?? ""
        do {
          routes.rules.append(try SubscriptionRoutes.Rule(match: match, path: path))
        } catch {
          throw fields.failure(
            "subscription \(name): \(field).match '\(match)' does not parse at \(error)")
        }
      }
    } else if let node = spec.field("route") {
      routes.defaultPath = try fields.text(node, "spec.route")
    }
    return routes
  }

  /// `spec.bulkSubscribe`, when it is there and enabled.
  private func bulkSubscribeOptions(
    _ spec: Node.Mapping
  ) throws(ConfigurationError) -> BulkSubscribeOptions? {
    if let bulk = try fields.mapping(spec.field("bulkSubscribe"), "spec.bulkSubscribe"),
      try bulk.field("enabled").map({ node throws(ConfigurationError) in
        try fields.bool(node, "spec.bulkSubscribe.enabled")
      }) ?? false
    {
      var options = BulkSubscribeOptions()
      if let count = bulk.field("maxMessagesCount") {
        options.maxMessagesCount = try fields.integer(count, "spec.bulkSubscribe.maxMessagesCount")
        guard options.maxMessagesCount > 0 else {
          throw fields.failure("spec.bulkSubscribe.maxMessagesCount must be at least 1")
        }
      }
      if let wait = bulk.field("maxAwaitDurationMs") {
        let milliseconds = try fields.integer(wait, "spec.bulkSubscribe.maxAwaitDurationMs")
        guard milliseconds >= 0 else {
          throw fields.failure("spec.bulkSubscribe.maxAwaitDurationMs must not be negative")
        }
        options.maxAwaitDuration = .milliseconds(milliseconds)
      }
      return options
    }
    return nil
  }

  /// Whether `type` has a building block, a dot and a name (`state.redis`).
  static func isWellFormed(type: String) -> Bool {
    guard let dot = type.firstIndex(of: ".") else { return false }
    return dot != type.startIndex && type.index(after: dot) != type.endIndex
  }

  // MARK: - Fields

  private func metadataItems(_ items: Node.Sequence) throws(ConfigurationError) -> [MetadataItem] {
    var result: [MetadataItem] = []
    for (index, node) in items.enumerated() {
      let path = "spec.metadata[\(index)]"
      guard case .mapping(let item) = node else {
        throw fields.failure(
          "\(path) must be a mapping with a name and a value, found \(node.shape)")
      }
      guard let nameNode = item.field("name") else { throw fields.failure("\(path) has no name") }
      let name = try fields.text(nameNode, "\(path).name")
      guard !name.isEmpty else { throw fields.failure("\(path) has no name") }

      let written = ["value", "secretKeyRef", "envRef"].filter { item.has($0) }
      guard written.count == 1 else {
        throw fields.failure("\(path) (\(name)) needs exactly one of value, secretKeyRef or envRef")
      }
      let value: MetadataValue
      switch written[0] {
      case "value":
        value = .literal(try literal(item.field("value"), "\(path).value"))
      case "secretKeyRef":
        value = try secretKeyRef(item.field("secretKeyRef"), "\(path).secretKeyRef")
      default:
        guard let variableNode = item.field("envRef") else {
          throw fields.failure("\(path).envRef is empty; name an environment variable")
        }
        let variable = try fields.text(variableNode, "\(path).envRef")
        guard !variable.isEmpty else {
          throw fields.failure("\(path).envRef is empty; name an environment variable")
        }
        value = .envRef(variable)
      }
      result.append(MetadataItem(name: name, value: value))
    }
    return result
  }

  /// A `value:`: scalars as their text, an empty `value:` as the empty string.
  private func literal(_ node: Node?, _ field: String) throws(ConfigurationError) -> String {
    guard let node else { return "" }
    guard case .scalar(let scalar) = node else {
      throw fields.failure(
        "\(field) must be a single value (text, a number or true/false), found \(node.shape); "
          + "write structured data as a quoted string")
    }
    return scalar.string
  }

  private func secretKeyRef(
    _ node: Node?, _ field: String
  ) throws(ConfigurationError) -> MetadataValue {
    let reference = try fields.mapping(node, field, expecting: "a mapping with name and key")
    guard let nameNode = reference?.field("name") else {
      throw fields.failure("\(field).name is missing")
    }
    let name = try fields.text(nameNode, "\(field).name")
    guard !name.isEmpty else { throw fields.failure("\(field).name is missing") }
    var key = name
    if let keyNode = reference?.field("key") {
      let written = try fields.text(keyNode, "\(field).key")
      if !written.isEmpty { key = written }
    }
    return .secretKeyRef(name: name, key: key)
  }

  private func appIDs(_ node: Node) throws(ConfigurationError) -> [String] {
    guard case .sequence(let entries) = node else {
      throw fields.failure("scopes must be a list of app ids")
    }
    var ids: [String] = []
    for entry in entries {
      guard case .scalar(let scalar) = entry, !entry.isNull, !scalar.string.isEmpty else {
        throw fields.failure("scopes must be a list of app ids")
      }
      ids.append(scalar.string)
    }
    return ids
  }
}

extension Node {
  /// Whether this is YAML's null (`~`, `null` or nothing at all).
  var isNull: Bool {
    guard case .scalar = self else { return false }
    return tag.rawValue == Tag.Name.null.rawValue
  }

  /// How the node is written, for messages: `text 'x'`, `a list`, `a mapping`.
  var shape: String {
    switch self {
    case .scalar(let scalar): isNull ? "nothing" : "'\(scalar.string)'"
    case .sequence: "a list"
    case .mapping: "a mapping"
    case .alias: "an alias"
    }
  }
}

extension Node.Mapping {
  /// The value of `key`, or `nil` when the key is absent or its value is null.
  func field(_ key: String) -> Node? {
    guard let value = first(where: { $0.key.scalar?.string == key })?.value, !value.isNull else {
      return nil
    }
    return value
  }

  /// Whether `key` is written, whatever its value (even null).
  func has(_ key: String) -> Bool {
    contains { $0.key.scalar?.string == key }
  }
}
