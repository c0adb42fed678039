import Foundation
import Yams

/// One `kind: Resiliency` document (`apiVersion: dapr.io/v1alpha1`), as written:
/// named policies and the targets that use them (spec §5).
public struct ResiliencyDefinition: Sendable, Equatable {
  /// A retry policy.
  public struct Retry: Sendable, Equatable {
    /// `constant` (a fixed interval) or `exponential`.
    public var exponential = false
    /// The constant interval (`duration`, default 5 s).
    public var duration: Duration = .seconds(5)
    /// The exponential interval's cap (`maxInterval`, default 60 s).
    public var maxInterval: Duration = .seconds(60)
    /// Retries after the first try; -1 (the default) for no limit.
    public var maxRetries = -1
    /// `matching.httpStatusCodes`: the HTTP codes worth a retry; empty: all.
    public var httpStatusCodes: [ClosedRange<Int>] = []
    /// `matching.gRPCStatusCodes`: the gRPC codes worth a retry; empty: all.
    public var grpcStatusCodes: [ClosedRange<Int>] = []
  }

  /// A circuit breaker policy.
  public struct CircuitBreaker: Sendable, Equatable {
    /// Requests let through while half-open (`maxRequests`, default 1).
    public var maxRequests = 1
    /// How often the counts reset while closed (`interval`); zero: never.
    public var interval: Duration = .zero
    /// How long it stays open before trying again (`timeout`, default 60 s).
    public var timeout: Duration = .seconds(60)
    /// When it opens (`trip`, CEL; default `consecutiveFailures > 5`).
    public var trip = "consecutiveFailures > 5"
  }

  /// The policy names a target uses for one direction.
  public struct TargetPolicies: Sendable, Equatable {
    public var timeout: String?
    public var retry: String?
    public var circuitBreaker: String?
  }

  /// A component target: `outbound` for apiary's calls to it, `inbound` for its
  /// deliveries to the app.
  public struct ComponentTarget: Sendable, Equatable {
    public var outbound: TargetPolicies?
    public var inbound: TargetPolicies?
  }

  public var name: String
  /// App ids it applies to; empty: all.
  public var scopes: [String] = []
  public var timeouts: [String: Duration] = [:]
  public var retries: [String: Retry] = [:]
  public var circuitBreakers: [String: CircuitBreaker] = [:]
  public var components: [String: ComponentTarget] = [:]
  /// Target kinds Apiary has no counterpart for (`apps`, `actors`), to be said once.
  public var ignoredTargets: [String] = []
  public var source: DefinitionSource

  public init(name: String, source: DefinitionSource) {
    self.name = name
    self.source = source
  }
}

/// Reads a `kind: Resiliency` document; every problem names the file, the document
/// and the field.
struct ResiliencyParser {
  let fields: YAMLFields

  func parse(_ document: Node.Mapping) throws(ConfigurationError) -> ResiliencyDefinition {
    if let node = document.field("apiVersion") {
      let version = try fields.text(node, "apiVersion")
      guard version == "dapr.io/v1alpha1" else {
        throw fields.failure(
          "apiVersion '\(version)' is not supported for kind Resiliency (use dapr.io/v1alpha1)")
      }
    }
    let header = try fields.mapping(document.field("metadata"), "metadata")
    guard let nameNode = header?.field("name") else {
      throw fields.failure("metadata.name is missing")
    }
    var definition = ResiliencyDefinition(
      name: try fields.text(nameNode, "metadata.name"), source: fields.source)
    definition.scopes = try fields.texts(document.field("scopes"), "scopes")
    guard let spec = try fields.mapping(document.field("spec"), "spec") else {
      throw fields.failure("spec is missing")
    }
    if let policies = try fields.mapping(spec.field("policies"), "spec.policies") {
      for (key, node) in try entries(policies.field("timeouts"), "spec.policies.timeouts") {
        definition.timeouts[key] = try fields.duration(node, "spec.policies.timeouts.\(key)")
      }
      for (key, node) in try entries(policies.field("retries"), "spec.policies.retries") {
        definition.retries[key] = try retry(node, "spec.policies.retries.\(key)")
      }
      for (key, node) in try entries(
        policies.field("circuitBreakers"), "spec.policies.circuitBreakers")
      {
        definition.circuitBreakers[key] = try breaker(node, "spec.policies.circuitBreakers.\(key)")
      }
    }
    if let targets = try fields.mapping(spec.field("targets"), "spec.targets") {
      for (key, value) in targets {
        let kind = key.scalar?.string ?? ""
        switch kind {
        case "components":
          for (name, node) in try entries(value, "spec.targets.components") {
            guard case .mapping(let target) = node else {
              throw fields.failure(
                "spec.targets.components.\(name) must be a mapping with outbound and inbound")
            }
            var component = ResiliencyDefinition.ComponentTarget()
            let path = "spec.targets.components.\(name)"
            for (directionKey, _) in target {
              let direction = directionKey.scalar?.string ?? ""
              guard ["outbound", "inbound"].contains(direction) else {
                throw fields.failure("\(path).\(direction) is not outbound or inbound")
              }
            }
            component.outbound = try policies(target.field("outbound"), "\(path).outbound")
            component.inbound = try policies(target.field("inbound"), "\(path).inbound")
            definition.components[name] = component
          }
        case "apps", "actors":
          definition.ignoredTargets.append(kind)
        default:
          throw fields.failure(
            "spec.targets.\(kind) is not a target kind (components, apps or actors)")
        }
      }
    }
    return definition
  }

  /// The name–value pairs of a mapping field.
  private func entries(
    _ node: Node?, _ field: String
  ) throws(ConfigurationError) -> [(String, Node)] {
    guard let mapping = try fields.mapping(node, field) else { return [] }
    var result: [(String, Node)] = []
    for (key, value) in mapping {
      guard let name = key.scalar?.string, !name.isEmpty else {
        throw fields.failure("\(field) has an entry without a name")
      }
      result.append((name, value))
    }
    return result
  }

  private func policies(
    _ node: Node?, _ field: String
  ) throws(ConfigurationError) -> ResiliencyDefinition.TargetPolicies? {
    guard let mapping = try fields.mapping(node, field) else { return nil }
    var policies = ResiliencyDefinition.TargetPolicies()
    for (key, value) in mapping {
      let name = key.scalar?.string ?? ""
      let text = try fields.text(value, "\(field).\(name)")
      switch name {
      case "timeout": policies.timeout = text
      case "retry": policies.retry = text
      case "circuitBreaker": policies.circuitBreaker = text
      default: throw fields.failure("\(field).\(name) is not timeout, retry or circuitBreaker")
      }
    }
    return policies
  }

  private func retry(
    _ node: Node, _ field: String
  ) throws(ConfigurationError) -> ResiliencyDefinition.Retry {
    guard case .mapping(let mapping) = node else {
      throw fields.failure("\(field) must be a mapping")
    }
    var retry = ResiliencyDefinition.Retry()
    if let policy = mapping.field("policy") {
      switch try fields.text(policy, "\(field).policy").lowercased() {
      case "constant": retry.exponential = false
      case "exponential": retry.exponential = true
      case let other:
        throw fields.failure("\(field).policy '\(other)' is not constant or exponential")
      }
    }
    if let node = mapping.field("duration") {
      retry.duration = try fields.duration(node, "\(field).duration")
    }
    if let node = mapping.field("maxInterval") {
      retry.maxInterval = try fields.duration(node, "\(field).maxInterval")
    }
    if let node = mapping.field("maxRetries") {
      retry.maxRetries = try fields.integer(node, "\(field).maxRetries")
      guard retry.maxRetries >= -1 else {
        throw fields.failure("\(field).maxRetries must be -1 (no limit) or more")
      }
    }
    if let matching = try fields.mapping(mapping.field("matching"), "\(field).matching") {
      if let codes = matching.field("httpStatusCodes") {
        retry.httpStatusCodes = try ranges(
          codes, "\(field).matching.httpStatusCodes", within: 100...599)
      }
      if let codes = matching.field("gRPCStatusCodes") {
        retry.grpcStatusCodes = try ranges(
          codes, "\(field).matching.gRPCStatusCodes", within: 0...16)
      }
    }
    return retry
  }

  /// `"429,500-599"`: codes and ranges of codes.
  private func ranges(
    _ node: Node, _ field: String, within bounds: ClosedRange<Int>
  ) throws(ConfigurationError) -> [ClosedRange<Int>] {
    var result: [ClosedRange<Int>] = []
    for part in try fields.text(node, field).split(separator: ",") {
      let bounds2 = part.split(separator: "-", maxSplits: 1).map {
        Int($0.trimmingCharacters(in: .whitespaces))
      }
      guard let low = bounds2.first ?? nil, let high = bounds2.last ?? nil, low <= high,
        bounds.contains(low),
        bounds.contains(high)
      else {
        throw fields.failure(
          "\(field): '\(part)' is not a code or a range of codes within \(bounds.lowerBound)-\(bounds.upperBound)"
        )
      }
      result.append(low...high)
    }
    return result
  }

  private func breaker(
    _ node: Node, _ field: String
  ) throws(ConfigurationError) -> ResiliencyDefinition.CircuitBreaker {
    guard case .mapping(let mapping) = node else {
      throw fields.failure("\(field) must be a mapping")
    }
    var breaker = ResiliencyDefinition.CircuitBreaker()
    if let node = mapping.field("maxRequests") {
      breaker.maxRequests = try fields.integer(node, "\(field).maxRequests")
      guard breaker.maxRequests >= 1 else {
        throw fields.failure("\(field).maxRequests must be at least 1")
      }
    }
    if let node = mapping.field("interval") {
      breaker.interval = try fields.duration(node, "\(field).interval")
    }
    if let node = mapping.field("timeout") {
      breaker.timeout = try fields.duration(node, "\(field).timeout")
    }
    if let node = mapping.field("trip") {
      breaker.trip = try fields.text(node, "\(field).trip")
      do {
        _ = try CELExpression(breaker.trip)
      } catch {
        throw fields.failure("\(field).trip '\(breaker.trip)' does not parse at \(error)")
      }
    }
    return breaker
  }
}
