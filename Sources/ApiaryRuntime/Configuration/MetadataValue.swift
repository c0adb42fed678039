/// Where the value of one `spec.metadata` entry comes from.
public enum MetadataValue: Sendable, Equatable, Hashable {
  /// `value:`, as written. Numbers and booleans keep their YAML text (`5` is `"5"`,
  /// `true` is `"true"`), and an empty `value:` is the empty string.
  case literal(String)
  /// `secretKeyRef: {name, key}`: the key `key` of the secret `name`, read from the secret
  /// store the definition names in `auth.secretStore`. When `key` is not written it is `name`.
  case secretKeyRef(name: String, key: String)
  /// `envRef: VAR`: the value of the sidecar's environment variable `VAR`.
  case envRef(String)
}
