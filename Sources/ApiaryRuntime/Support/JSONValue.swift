import Foundation

/// A JSON value as a Swift value: what query filters, routing rules and CloudEvents
/// are read into, so that they are `Sendable` and comparable (Foundation's
/// `JSONSerialization` answers `Any`).
public enum JSONValue: Sendable, Equatable, Hashable, CustomStringConvertible {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  /// Parses JSON text (any value, not only objects and arrays).
  ///
  /// - Throws: Foundation's error when `data` is not JSON.
  public init(json data: Data) throws {
    self.init(foundation: try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed))
  }

  /// The value of a `JSONSerialization` result.
  public init(foundation value: Any) {
    switch value {
    case let number as NSNumber:
      // NSNumber holds booleans too; JSON's true and false come back with the
      // Objective-C type "c" (a `Bool` cast would also take the numbers 0 and 1).
      if String(cString: number.objCType) == "c" {
        self = .bool(number.boolValue)
      } else {
        self = .number(number.doubleValue)
      }
    case let text as String: self = .string(text)
    case let array as [Any]: self = .array(array.map(JSONValue.init(foundation:)))
    case let object as [String: Any]: self = .object(object.mapValues(JSONValue.init(foundation:)))
    default: self = .null
    }
  }

  /// The value as `JSONSerialization` takes it.
  public var foundation: Any {
    switch self {
    case .null: NSNull()
    case .bool(let value): value
    case .number(let value):
      value.rounded() == value && abs(value) < 1e15 ? Int(value) as Any : value
    case .string(let value): value
    case .array(let values): values.map(\.foundation)
    case .object(let values): values.mapValues(\.foundation)
    }
  }

  /// Compact JSON text with sorted keys.
  public var jsonData: Data {
    (try? JSONSerialization.data(
      withJSONObject: foundation,
      options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])) ?? Data("null".utf8)
  }

  public var description: String { String(decoding: jsonData, as: UTF8.self) }

  /// The text of a string value; nil for any other value.
  public var string: String? {
    if case .string(let text) = self { return text }
    return nil
  }

  /// The member `key` of an object; nil for a missing key or a value that is no object.
  public subscript(key: String) -> JSONValue? {
    if case .object(let values) = self { return values[key] }
    return nil
  }

  /// The value at a dotted path (`a.b.c`), or nil when a step is missing.
  public func value(atPath path: String) -> JSONValue? {
    var current: JSONValue? = self
    for step in path.split(separator: ".", omittingEmptySubsequences: false) {
      current = current?[String(step)]
    }
    return current
  }
}
