import Foundation
import Yams

/// Dapr's `kind: Configuration` (`apiVersion: dapr.io/v1alpha1`), as far as apiary
/// applies it (spec §4): secret scopes, and the tracing and metrics settings. Every
/// other section is named in ``unsupportedSections`` for a notice at start-up.
public struct DaprConfiguration: Sendable, Equatable {
  /// One secret store's scope (`spec.secrets.scopes[]`).
  public struct SecretScope: Sendable, Equatable {
    public var defaultAccessAllowed = true
    public var allowedSecrets: [String] = []
    public var deniedSecrets: [String] = []

    /// Whether `key` may be read: `allowedSecrets`, when not empty, decides alone;
    /// else a denied key is refused; else `defaultAccess` (spec §4, exact and
    /// case-sensitive).
    public func allows(_ key: String) -> Bool {
      if !allowedSecrets.isEmpty { return allowedSecrets.contains(key) }
      if deniedSecrets.contains(key) { return false }
      return defaultAccessAllowed
    }
  }

  /// `spec.tracing`.
  public struct Tracing: Sendable, Equatable {
    /// `samplingRate`: "1" all, "0" none; unset or unparsable 0.0001 (daprd's).
    public var samplingRate: Double = 0.0001
    /// `samplingRate` as written; nil when unset (an endpoint from the environment
    /// then samples everything, as daprd does).
    public var samplingRateText: String?
    public var stdout = false
    /// `otel.endpointAddress` (host:port, no scheme).
    public var otelEndpoint: String?
    /// `otel.protocol`: `grpc` or `http`.
    public var otelProtocol = "grpc"
    /// `otel.isSecure` (default true).
    public var otelSecure = true
    public var otelHeaders: [String: String] = [:]
    public var otelTimeout: Duration?
    /// `zipkin.endpointAddress` (a full URL).
    public var zipkinEndpoint: String?
  }

  /// `spec.metrics` (or the older `spec.metric`).
  public struct Metrics: Sendable, Equatable {
    public var enabled = true
    public var recordErrorCodes = false
    /// `rules[]`: per metric, labels whose values are rewritten by regex.
    public var rules: [Rule] = []
    /// `latencyDistributionBuckets` in milliseconds.
    public var latencyBuckets: [Double] = []

    public struct Rule: Sendable, Equatable {
      public var name: String
      /// Label name → (replacement → regex pattern).
      public var labels: [String: [String: String]]
    }
  }

  /// Store name → scope.
  public var secretScopes: [String: SecretScope] = [:]
  public var tracing: Tracing?
  public var metrics = Metrics()
  /// `spec.features[]` that are enabled.
  public var enabledFeatures: [String] = []
  /// Sections of `spec` apiary reads but does not apply, by name.
  public var unsupportedSections: [String] = []

  public init() {}

  /// Whether store `store` lets `key` be read.
  public func allows(secret key: String, in store: String) -> Bool {
    secretScopes[store]?.allows(key) ?? true
  }

  /// The sections apiary applies; the others are reported.
  static let applied: Set<String> = ["secrets", "tracing", "metrics", "metric", "features"]

  /// Overlays a later file's document on this one (daprd's `--config` may repeat):
  /// what the later one sets wins.
  mutating func overlay(_ later: DaprConfiguration, written: Set<String>) {
    if written.contains("secrets") { secretScopes = later.secretScopes }
    if written.contains("tracing") { tracing = later.tracing }
    if written.contains("metrics") || written.contains("metric") { metrics = later.metrics }
    if written.contains("features") { enabledFeatures = later.enabledFeatures }
    for section in later.unsupportedSections where !unsupportedSections.contains(section) {
      unsupportedSections.append(section)
    }
  }
}

/// Reads a `kind: Configuration` document; every problem names the file, the
/// document and the field (spec §4's start-up failures included).
struct DaprConfigurationParser {
  let fields: YAMLFields

  /// The configuration, and the `spec` sections the document writes.
  func parse(
    _ document: Node.Mapping
  ) throws(ConfigurationError) -> (DaprConfiguration, Set<String>) {
    if let node = document.field("apiVersion") {
      let version = try fields.text(node, "apiVersion")
      guard version == "dapr.io/v1alpha1" else {
        throw fields.failure(
          "apiVersion '\(version)' is not supported for kind Configuration (use dapr.io/v1alpha1)")
      }
    }
    var configuration = DaprConfiguration()
    guard let spec = try fields.mapping(document.field("spec"), "spec") else {
      return (configuration, [])
    }
    var written: Set<String> = []
    for (key, _) in spec {
      guard let name = key.scalar?.string else { continue }
      written.insert(name)
      if !DaprConfiguration.applied.contains(name) {
        configuration.unsupportedSections.append(name)
      }
    }
    if let secrets = try fields.mapping(spec.field("secrets"), "spec.secrets") {
      for (index, entry) in (try fields.list(secrets.field("scopes"), "spec.secrets.scopes") ?? [])
        .enumerated()
      {
        let path = "spec.secrets.scopes[\(index)]"
        guard case .mapping(let scope) = entry else {
          throw fields.failure("\(path) must be a mapping")
        }
        guard let storeNode = scope.field("storeName") else {
          throw fields.failure("\(path).storeName is missing")
        }
        let store = try fields.text(storeNode, "\(path).storeName")
        guard configuration.secretScopes[store] == nil else {
          throw fields.failure("\(store) storeName is repeated in secrets configuration")
        }
        var parsed = DaprConfiguration.SecretScope()
        if let access = scope.field("defaultAccess") {
          let value = try fields.text(access, "\(path).defaultAccess")
          switch value.lowercased() {
          case "allow": parsed.defaultAccessAllowed = true
          case "deny": parsed.defaultAccessAllowed = false
          default: throw fields.failure("defaultAccess \(value) can be either allow or deny")
          }
        }
        parsed.allowedSecrets = try fields.texts(
          scope.field("allowedSecrets"), "\(path).allowedSecrets")
        parsed.deniedSecrets = try fields.texts(
          scope.field("deniedSecrets"), "\(path).deniedSecrets")
        configuration.secretScopes[store] = parsed
      }
    }
    if let tracing = try fields.mapping(spec.field("tracing"), "spec.tracing") {
      configuration.tracing = try self.tracing(tracing)
    }
    // `metrics` overrides `metric`, field by field as written.
    for section in ["metric", "metrics"] {
      if let metrics = try fields.mapping(spec.field(section), "spec.\(section)") {
        try self.metrics(metrics, section: "spec.\(section)", into: &configuration.metrics)
      }
    }
    for (index, entry) in (try fields.list(spec.field("features"), "spec.features") ?? [])
      .enumerated()
    {
      guard case .mapping(let feature) = entry, let nameNode = feature.field("name") else {
        throw fields.failure("spec.features[\(index)] must have a name")
      }
      let enabled =
        try feature.field("enabled").map { node throws(ConfigurationError) in
          try fields.bool(node, "spec.features[\(index)].enabled")
        } ?? false
      if enabled {
        configuration.enabledFeatures.append(
          try fields.text(nameNode, "spec.features[\(index)].name"))
      }
    }
    return (configuration, written)
  }

  private func tracing(_ node: Node.Mapping) throws(ConfigurationError) -> DaprConfiguration.Tracing
  {
    var tracing = DaprConfiguration.Tracing()
    if let rate = node.field("samplingRate") {
      let text = try fields.text(rate, "spec.tracing.samplingRate")
      tracing.samplingRate = Double(text).map { min(max($0, 0), 1) } ?? 0.0001
      tracing.samplingRateText = text
    }
    if let stdout = node.field("stdout") {
      tracing.stdout = try fields.bool(stdout, "spec.tracing.stdout")
    }
    if let otel = try fields.mapping(node.field("otel"), "spec.tracing.otel") {
      if let address = otel.field("endpointAddress") {
        tracing.otelEndpoint = try fields.text(address, "spec.tracing.otel.endpointAddress")
      }
      if let proto = otel.field("protocol") {
        let value = try fields.text(proto, "spec.tracing.otel.protocol").lowercased()
        guard ["grpc", "http"].contains(value) else {
          throw fields.failure("spec.tracing.otel.protocol '\(value)' is not grpc or http")
        }
        tracing.otelProtocol = value
      }
      if let secure = otel.field("isSecure") {
        tracing.otelSecure = try fields.bool(secure, "spec.tracing.otel.isSecure")
      }
      if let headers = otel.field("headers") {
        tracing.otelHeaders = try self.headers(headers)
      }
      if let timeout = otel.field("timeout") {
        tracing.otelTimeout = try fields.duration(timeout, "spec.tracing.otel.timeout")
      }
    }
    if let zipkin = try fields.mapping(node.field("zipkin"), "spec.tracing.zipkin"),
      let address = zipkin.field("endpointAddress")
    {
      tracing.zipkinEndpoint = try fields.text(address, "spec.tracing.zipkin.endpointAddress")
    }
    return tracing
  }

  /// `otel.headers` in any of the forms daprd reads: the Configuration CRD's list of
  /// `{name, value}`, daprd's internal list of `name=value` strings, or a mapping.
  private func headers(_ node: Node) throws(ConfigurationError) -> [String: String] {
    let path = "spec.tracing.otel.headers"
    var headers: [String: String] = [:]
    switch node {
    case .mapping(let mapping):
      for (key, value) in mapping {
        guard let name = key.scalar?.string else { continue }
        headers[name] = try fields.text(value, "\(path).\(name)")
      }
    case .sequence(let list):
      for (index, entry) in list.enumerated() {
        switch entry {
        case .mapping(let pair):
          guard let nameNode = pair.field("name") else {
            throw fields.failure("\(path)[\(index)].name is missing")
          }
          let name = try fields.text(nameNode, "\(path)[\(index)].name")
          guard let valueNode = pair.field("value") else {
            throw fields.failure(
              "\(path)[\(index)] (\(name)) has no value: apiary reads a header's plain value only (no secretKeyRef or envRef)"
            )
          }
          headers[name] = try fields.text(valueNode, "\(path)[\(index)].value")
        default:
          let text = try fields.text(entry, "\(path)[\(index)]")
          guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw fields.failure("\(path)[\(index)] '\(text)' is not name=value")
          }
          headers[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
      }
    default:
      throw fields.failure("\(path) must be a list of {name, value}")
    }
    return headers
  }

  private func metrics(
    _ node: Node.Mapping, section: String, into metrics: inout DaprConfiguration.Metrics
  ) throws(ConfigurationError) {
    if let enabled = node.field("enabled") {
      metrics.enabled = try fields.bool(enabled, "\(section).enabled")
    }
    if let record = node.field("recordErrorCodes") {
      metrics.recordErrorCodes = try fields.bool(record, "\(section).recordErrorCodes")
    }
    if let buckets = node.field("latencyDistributionBuckets") {
      metrics.latencyBuckets = try fields.texts(buckets, "\(section).latencyDistributionBuckets")
        .enumerated().map {
          (index, text) throws(ConfigurationError) -> Double in
          guard let value = Double(text), value > 0 else {
            throw fields.failure(
              "\(section).latencyDistributionBuckets[\(index)] '\(text)' is not a positive number")
          }
          return value
        }
    }
    for (index, entry) in (try fields.list(node.field("rules"), "\(section).rules") ?? [])
      .enumerated()
    {
      let path = "\(section).rules[\(index)]"
      guard case .mapping(let rule) = entry, let nameNode = rule.field("name") else {
        throw fields.failure("\(path) must have a name")
      }
      var parsed = DaprConfiguration.Metrics.Rule(
        name: try fields.text(nameNode, "\(path).name"), labels: [:])
      for (labelIndex, label) in (try fields.list(rule.field("labels"), "\(path).labels") ?? [])
        .enumerated()
      {
        guard case .mapping(let labelMap) = label, let labelName = labelMap.field("name") else {
          throw fields.failure("\(path).labels[\(labelIndex)] must have a name")
        }
        var replacements: [String: String] = [:]
        if let regex = try fields.mapping(
          labelMap.field("regex"), "\(path).labels[\(labelIndex)].regex")
        {
          for (key, value) in regex {
            guard let replacement = key.scalar?.string else { continue }
            let pattern = try fields.text(
              value, "\(path).labels[\(labelIndex)].regex.\(replacement)")
            guard (try? NSRegularExpression(pattern: pattern)) != nil else {
              throw fields.failure(
                "\(path).labels[\(labelIndex)].regex.\(replacement): '\(pattern)' is not a regular expression"
              )
            }
            replacements[replacement] = pattern
          }
        }
        parsed.labels[try fields.text(labelName, "\(path).labels[\(labelIndex)].name")] =
          replacements
      }
      metrics.rules.append(parsed)
    }
  }
}
