import Foundation

/// The built-in `secretstores.local.env`: each environment variable is a secret whose
/// one key is its own name. With the `prefix` metadata only variables starting with it
/// are visible, and they are named without it.
public struct EnvironmentSecretStore: SecretStore {
  /// The features this store offers.
  public static let features: [String] = []
  let variables: [String: String]

  /// Creates the store over `environment`, filtered by `metadata["prefix"]`.
  public init(environment: [String: String], metadata: [String: String]) {
    let prefix = metadata["prefix"] ?? ""
    var visible: [String: String] = [:]
    for (name, value) in environment where name.hasPrefix(prefix) {
      visible[String(name.dropFirst(prefix.count))] = value
    }
    variables = visible
  }

  public func get(key: String, metadata: [String: String]) async throws -> [String: String] {
    guard let value = variables[key] else { throw SecretStoreError.notFound(key) }
    return [key: value]
  }

  public func bulkGet(metadata: [String: String]) async throws -> [String: [String: String]] {
    variables.reduce(into: [:]) { result, pair in result[pair.key] = [pair.key: pair.value] }
  }
}

/// The built-in `secretstores.local.file`: secrets from a JSON file (`secretsFile`
/// metadata). Nested objects are flattened, their keys joined with
/// `nestedSeparator` (default `:`), so `{"db": {"password": "x"}}` is the secret
/// `db:password`. Each secret has one key, its own name; with `multiValued: true`, each
/// top-level object is instead one secret with several keys.
public struct FileSecretStore: SecretStore {
  /// The features this store offers: `MULTIPLE_KEY_VALUES_PER_SECRET` with
  /// `multiValued: true` only, as Dapr's local.file store says.
  public let features: [String]
  let secrets: [String: [String: String]]

  /// Reads and flattens the file named by `metadata["secretsFile"]`.
  ///
  /// - Throws: ``SecretFileError`` naming the file and what is wrong with it.
  public init(metadata: [String: String]) throws {
    guard let file = metadata["secretsFile"], !file.isEmpty else {
      throw SecretFileError(
        "metadata secretsFile is missing: name the JSON file holding the secrets")
    }
    let separator = metadata["nestedSeparator"] ?? ":"
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: file))
    } catch {
      throw SecretFileError("cannot read secrets file \(file): \(error.localizedDescription)")
    }
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: data)
    } catch {
      throw SecretFileError("secrets file \(file) is not valid JSON: \(error.localizedDescription)")
    }
    guard let root = object as? [String: Any] else {
      throw SecretFileError("secrets file \(file) must hold a JSON object")
    }
    features = metadata["multiValued"] == "true" ? ["MULTIPLE_KEY_VALUES_PER_SECRET"] : []
    if metadata["multiValued"] == "true" {
      var secrets: [String: [String: String]] = [:]
      for (name, value) in root {
        var flat: [String: String] = [:]
        Self.flatten(value, path: nil, separator: separator, into: &flat)
        secrets[name] = flat
      }
      self.secrets = secrets
    } else {
      var flat: [String: String] = [:]
      Self.flatten(root, path: nil, separator: separator, into: &flat)
      self.secrets = flat.reduce(into: [:]) { result, pair in
        result[pair.key] = [pair.key: pair.value]
      }
    }
  }

  private static func flatten(
    _ value: Any, path: String?, separator: String, into result: inout [String: String]
  ) {
    switch value {
    case let object as [String: Any]:
      for (key, nested) in object {
        flatten(
          nested, path: path.map { $0 + separator + key } ?? key, separator: separator,
          into: &result)
      }
    case let array as [Any]:
      for (index, nested) in array.enumerated() {
        flatten(
          nested, path: path.map { $0 + separator + String(index) } ?? String(index),
          separator: separator, into: &result)
      }
    case let string as String:
      result[path ?? ""] = string
    case let number as NSNumber:
      result[path ?? ""] = number.stringValue
    default:
      result[path ?? ""] = ""
    }
  }

  public func get(key: String, metadata: [String: String]) async throws -> [String: String] {
    guard let secret = secrets[key] else { throw SecretStoreError.notFound(key) }
    return secret
  }

  public func bulkGet(metadata: [String: String]) async throws -> [String: [String: String]] {
    secrets
  }
}

/// A local secrets file cannot be used.
public struct SecretFileError: Error, Sendable, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}
