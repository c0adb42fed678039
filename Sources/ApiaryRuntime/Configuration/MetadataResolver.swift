/// Resolves metadata values: literals as they are, `envRef` from the environment,
/// `secretKeyRef` through the `secret` lookup (normally a secret store component that has
/// already been initialised, see ``InitializationOrder``).
public struct MetadataResolver: Sendable {
  /// Reads the key `key` of the secret `name` from the secret store component `store`.
  public typealias SecretLookup =
    @Sendable (_ store: String, _ name: String, _ key: String) async throws -> String

  /// The environment `envRef` values are read from.
  public var environment: [String: String]
  private let secret: SecretLookup

  /// Creates a resolver that reads `envRef` values from `environment` and
  /// `secretKeyRef` values through `secret`.
  public init(environment: [String: String], secret: @escaping SecretLookup) {
    self.environment = environment
    self.secret = secret
  }

  /// The metadata `definition` is initialised with.
  ///
  /// - Throws: ``ConfigurationError`` when two entries have the same name, an `envRef`
  ///   names an unset variable, a `secretKeyRef` has no `auth.secretStore`, or a secret
  ///   cannot be read; the message names the definition's file, document and entry.
  public func resolve(
    _ definition: ComponentDefinition
  ) async throws(ConfigurationError) -> ResolvedMetadata {
    try definition.checkUniqueMetadataNames()
    var resolved = ResolvedMetadata()
    for (index, item) in definition.metadata.enumerated() {
      let path = "spec.metadata[\(index)]"
      switch item.value {
      case .literal(let text):
        resolved.properties[item.name] = text
      case .envRef(let variable):
        guard let value = environment[variable] else {
          throw ConfigurationError(
            definition.source, "\(path).envRef \(variable) is not set in the environment")
        }
        resolved.properties[item.name] = value
        resolved.environmentKeys.insert(item.name)
      case .secretKeyRef(let name, let key):
        guard let store = definition.secretStore else {
          throw ConfigurationError(
            definition.source,
            "\(path).secretKeyRef needs auth.secretStore to name the secret store")
        }
        do {
          resolved.properties[item.name] = try await secret(store, name, key)
        } catch {
          throw ConfigurationError(
            definition.source,
            "\(path).secretKeyRef {name: \(name), key: \(key)} could not be read from secret store '\(store)': \(error)"
          )
        }
        resolved.secretKeys.insert(item.name)
      }
    }
    return resolved
  }
}
