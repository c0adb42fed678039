/// Orders definitions so every secret store a definition reads secrets from is
/// initialised before it.
///
/// A definition depends on the component named by its `auth.secretStore` when any of its
/// metadata entries is a `secretKeyRef`. Apart from what those dependencies force, the
/// order given (file order) is kept: a secret store written after a component that uses
/// it moves up to just before that component.
public enum InitializationOrder {
  /// The definitions in an order in which every secret store comes before its users.
  ///
  /// - Throws: ``ConfigurationError`` when two definitions have the same name, a
  ///   definition reads a secret without naming a secret store, names one that is not defined or is not a secret store, or when
  ///   secret stores read their own secrets from each other in a cycle.
  public static func order(
    _ definitions: [ComponentDefinition]
  ) throws(ConfigurationError) -> [ComponentDefinition] {
    var byName: [String: ComponentDefinition] = [:]
    for definition in definitions {
      if let earlier = byName[definition.name] {
        throw ConfigurationError(
          "component name '\(definition.name)' is defined twice: \(earlier.source) and \(definition.source)"
        )
      }
      byName[definition.name] = definition
    }
    var dependency: [String: String] = [:]
    for definition in definitions {
      guard let store = try secretStoreDependency(of: definition, among: byName) else { continue }
      dependency[definition.name] = store
    }

    var ordered: [ComponentDefinition] = []
    var placed: Set<String> = []
    for definition in definitions where !placed.contains(definition.name) {
      // Follow the chain of stores this definition needs (each needs at most one)
      // until one that is placed or needs none, then place the chain backwards.
      var chain = [definition.name]
      while let store = dependency[chain[chain.count - 1]], !placed.contains(store) {
        if let start = chain.firstIndex(of: store) {
          let cycle = chain[start...] + [store]
          throw ConfigurationError(
            "secret store references form a cycle: \(cycle.joined(separator: " → "))")
        }
        chain.append(store)
      }
      for name in chain.reversed() {
        if let member = byName[name] { ordered.append(member) }
        placed.insert(name)
      }
    }
    return ordered
  }

  /// The secret store `definition` must wait for, checked against the defined components.
  private static func secretStoreDependency(
    of definition: ComponentDefinition, among byName: [String: ComponentDefinition]
  ) throws(ConfigurationError) -> String? {
    guard let reference = definition.firstSecretReference else { return nil }
    guard let store = definition.secretStore else {
      throw ConfigurationError(
        definition.source,
        "spec.metadata[\(reference)].secretKeyRef needs auth.secretStore to name the secret store")
    }
    guard let target = byName[store] else {
      throw ConfigurationError(
        definition.source, "auth.secretStore '\(store)' is not a defined component")
    }
    guard target.isSecretStore else {
      throw ConfigurationError(
        definition.source,
        "auth.secretStore '\(store)' is not a secret store (its type is \(target.type), not secretstores.*)"
      )
    }
    return store
  }
}
