import Logging

/// Every component's resolved policy per direction, from the `kind: Resiliency`
/// documents (spec §5). Built once at start-up; a lookup is a dictionary read, and
/// with no documents there is nothing to look up.
///
/// Resolution, per component, direction and kind (timeout, retry, circuit breaker): a
/// `targets.components.<name>` entry wins for both directions (one with only
/// `outbound` leaves `inbound` without any policy); otherwise daprd's default policy
/// names, most specific first: `Default{Type}Component{Dir}{Kind}Policy`,
/// `DefaultComponent{Dir}{Kind}Policy`, `DefaultComponent{Kind}Policy`,
/// `Default{Kind}Policy`. Documents merge; a later policy of the same name wins.
///
/// One breaker per component and direction: daprd shares one between the two
/// directions, which the spec lists as a bug not to copy.
public final class ResiliencyPolicies: Sendable {
  private struct Key: Hashable {
    var component: String
    var direction: ResiliencyDirection
  }

  private let table: [Key: ComponentPolicy]

  /// No policies at all.
  public init() {
    table = [:]
  }

  /// Resolves the policies of `components` from `documents`.
  ///
  /// - Throws: ``ConfigurationError`` naming the file and the name when a target names
  ///   a component that is not configured, or a policy that no document defines.
  public init(
    documents: [ResiliencyDefinition], components: [ComponentDefinition], logger: Logger
  ) throws(ConfigurationError) {
    var timeouts: [String: Duration] = [:]
    var retries: [String: ResiliencyDefinition.Retry] = [:]
    var breakers: [String: ResiliencyDefinition.CircuitBreaker] = [:]
    var said: Set<String> = []
    for document in documents {
      timeouts.merge(document.timeouts) { _, later in later }
      retries.merge(document.retries) { _, later in later }
      breakers.merge(document.circuitBreakers) { _, later in later }
      for kind in document.ignoredTargets where said.insert(kind).inserted {
        logger.notice(
          "resiliency \(document.name): spec.targets.\(kind) has no counterpart in apiary and is not applied"
        )
      }
    }
    let targets = try Self.targets(
      of: documents, components: Set(components.map(\.name)), timeouts: Set(timeouts.keys),
      retries: Set(retries.keys), breakers: Set(breakers.keys))
    var table: [Key: ComponentPolicy] = [:]
    guard !documents.isEmpty else {
      self.table = table
      return
    }
    for component in components {
      let type = Self.typeName(component.type)
      for direction in [ResiliencyDirection.outbound, .inbound] {
        let chosen: ResiliencyDefinition.TargetPolicies
        if let target = targets[component.name] {
          guard let policies = direction == .outbound ? target.outbound : target.inbound else {
            continue
          }
          chosen = policies
        } else {
          func fallback(_ kind: String, in known: Set<String>) -> String? {
            guard let type else { return nil }
            let dir = direction == .outbound ? "Outbound" : "Inbound"
            return [
              "Default\(type)Component\(dir)\(kind)Policy", "DefaultComponent\(dir)\(kind)Policy",
              "DefaultComponent\(kind)Policy", "Default\(kind)Policy",
            ].first(where: known.contains)
          }
          chosen = ResiliencyDefinition.TargetPolicies(
            timeout: fallback("Timeout", in: Set(timeouts.keys)),
            retry: fallback("Retry", in: Set(retries.keys)),
            circuitBreaker: fallback("CircuitBreaker", in: Set(breakers.keys)))
        }
        var breaker: CircuitBreaker?
        if let name = chosen.circuitBreaker, let policy = breakers[name] {
          do {
            breaker = try CircuitBreaker(
              policyName: name, component: component.name, direction: direction, policy: policy,
              logger: logger)
          } catch {
            throw ConfigurationError(
              "circuit breaker policy '\(name)': trip '\(policy.trip)' does not parse at \(error)")
          }
        }
        let policy = ComponentPolicy(
          timeout: chosen.timeout.flatMap { timeouts[$0] },
          retry: chosen.retry.flatMap { retries[$0] },
          breaker: breaker,
          operation: "component[\(component.name)] \(direction == .outbound ? "output" : "input")",
          logger: logger)
        if policy.timeout != nil || policy.retry != nil || policy.breaker != nil {
          table[Key(component: component.name, direction: direction)] = policy
        }
      }
    }
    self.table = table
  }

  /// Each component's target from `documents` (a later document's wins), checked: it
  /// must name a configured component and only policies that some document defines.
  private static func targets(
    of documents: [ResiliencyDefinition], components names: Set<String>, timeouts: Set<String>,
    retries: Set<String>, breakers: Set<String>
  ) throws(ConfigurationError) -> [String: ResiliencyDefinition.ComponentTarget] {
    var targets: [String: ResiliencyDefinition.ComponentTarget] = [:]
    for document in documents {
      for (component, target) in document.components {
        guard names.contains(component) else {
          throw ConfigurationError(
            "\(document.source): spec.targets.components.\(component) names no configured component (configured: \(names.sorted().joined(separator: ", ")))"
          )
        }
        for (direction, policies) in [("outbound", target.outbound), ("inbound", target.inbound)] {
          guard let policies else { continue }
          let path = "spec.targets.components.\(component).\(direction)"
          if let name = policies.timeout, !timeouts.contains(name) {
            throw ConfigurationError(
              "\(document.source): \(path).timeout names no timeout policy '\(name)'")
          }
          if let name = policies.retry, !retries.contains(name) {
            throw ConfigurationError(
              "\(document.source): \(path).retry names no retry policy '\(name)'")
          }
          if let name = policies.circuitBreaker, !breakers.contains(name) {
            throw ConfigurationError(
              "\(document.source): \(path).circuitBreaker names no circuit breaker policy '\(name)'"
            )
          }
        }
        targets[component] = target
      }
    }
    return targets
  }

  /// The policy of `component` for `direction`; nil when it has none.
  public func policy(component: String, direction: ResiliencyDirection) -> ComponentPolicy? {
    table.isEmpty ? nil : table[Key(component: component, direction: direction)]
  }

  /// daprd's type name in default policy names: Statestore, Pubsub, Binding, Secretstore.
  static func typeName(_ type: String) -> String? {
    switch type.prefix(while: { $0 != "." }) {
    case "state": "Statestore"
    case "pubsub": "Pubsub"
    case "bindings": "Binding"
    case "secretstores": "Secretstore"
    default: nil
    }
  }
}
