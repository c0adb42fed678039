import Foundation
import Yams

/// Reads typed fields of one YAML document, every problem a ``ConfigurationError``
/// naming the document and the field: what the resource parsers share.
struct YAMLFields {
  /// The document being read, for error messages.
  let source: DefinitionSource

  func text(_ node: Node, _ field: String) throws(ConfigurationError) -> String {
    guard case .scalar(let scalar) = node else {
      throw failure("\(field) must be text, found \(node.shape)")
    }
    return scalar.string
  }

  /// The mapping at `field`; `nil` when it is absent or empty (`~`).
  func mapping(
    _ node: Node?, _ field: String, expecting expectation: String = "a mapping"
  ) throws(ConfigurationError) -> Node.Mapping? {
    guard let node, !node.isNull else { return nil }
    guard case .mapping(let mapping) = node else {
      throw failure("\(field) must be \(expectation), found \(node.shape)")
    }
    return mapping
  }

  /// The list at `field`; `nil` when it is absent or empty (`~`).
  func list(_ node: Node?, _ field: String) throws(ConfigurationError) -> Node.Sequence? {
    guard let node, !node.isNull else { return nil }
    guard case .sequence(let sequence) = node else {
      throw failure("\(field) must be a list, found \(node.shape)")
    }
    return sequence
  }

  func failure(_ problem: String) -> ConfigurationError {
    ConfigurationError(source, problem)
  }

  /// A duration written as Go writes them (`5s`, `1m30s`, `500ms`) or, as daprd reads
  /// Resiliency timeouts, a bare integer of milliseconds.
  func duration(_ node: Node, _ field: String) throws(ConfigurationError) -> Duration {
    let written = try text(node, field)
    if let milliseconds = Int(written.trimmingCharacters(in: .whitespaces)), milliseconds >= 0 {
      return .milliseconds(milliseconds)
    }
    guard let duration = DurationParsing.parse(written) else {
      throw failure("\(field) '\(written)' is not a duration (write it like 5s, 500ms or 1m30s)")
    }
    return duration
  }

  /// An integer field.
  func integer(_ node: Node, _ field: String) throws(ConfigurationError) -> Int {
    guard let value = Int(try text(node, field)) else {
      throw failure("\(field) must be a whole number")
    }
    return value
  }

  /// A true/false field.
  func bool(_ node: Node, _ field: String) throws(ConfigurationError) -> Bool {
    guard let value = node.bool else { throw failure("\(field) must be true or false") }
    return value
  }

  /// A list of text values.
  func texts(_ node: Node?, _ field: String) throws(ConfigurationError) -> [String] {
    guard let entries = try list(node, field) else { return [] }
    var values: [String] = []
    for (index, entry) in entries.enumerated() {
      values.append(try text(entry, "\(field)[\(index)]"))
    }
    return values
  }
}
