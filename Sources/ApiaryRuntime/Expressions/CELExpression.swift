import Foundation

/// An expression in the subset of CEL (the Common CELExpression Language) that Dapr's
/// routing rules (`match: event.type == "order"`) and circuit breakers
/// (`trip: consecutiveFailures > 5`) are written in.
///
/// Written by hand: no listed Swift package evaluates CEL. The subset: literals
/// (integers, doubles, strings in single or double quotes, `true`, `false`, `null`,
/// lists `[…]`, maps `{k: v}`), variables and member access (`event.data.x`,
/// `event["key"]`), `!` and unary `-`, `* / %`, `+ -`, `== != < <= > >=`, `in`, `&&`,
/// `||`, `c ? a : b`, the macro `has(x.y)`, and the functions `size`, `startsWith`,
/// `endsWith`, `contains`, `matches`, `int`, `double`, `string`, `type`-free conversions
/// only. As in CEL, reading a member that does not exist is an evaluation error (not
/// false; guard with `has()`), and `&&` / `||` absorb an error when the other side
/// decides the result.
public struct CELExpression: Sendable, CustomStringConvertible {
  /// The text it was parsed from.
  public let source: String
  let root: ExpressionNode

  /// Parses `source`.
  ///
  /// - Throws: ``ExpressionError`` with the column (1-based) where it stops making sense.
  public init(_ source: String) throws(ExpressionError) {
    self.source = source
    var parser = ExpressionParser(source)
    root = try parser.parseWhole()
  }

  public var description: String { source }

  /// Evaluates the expression with `variables`.
  ///
  /// - Throws: ``ExpressionError`` for a missing member, a type mismatch, or an unknown
  ///   variable or function.
  public func evaluate(_ variables: [String: Value]) throws(ExpressionError) -> Value {
    try ExpressionEvaluator(variables: variables).evaluate(root)
  }

  /// Evaluates the expression as a condition.
  ///
  /// - Throws: ``ExpressionError`` as ``evaluate(_:)``, and when the result is not a bool.
  public func isTrue(_ variables: [String: Value]) throws(ExpressionError) -> Bool {
    let value = try evaluate(variables)
    guard case .bool(let result) = value else {
      throw ExpressionError(
        message: "the expression gives \(value.typeName), not a bool", column: nil)
    }
    return result
  }

  /// A CEL value.
  public enum Value: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case list([Value])
    case map([String: Value])

    /// A JSON value as CEL sees it: numbers are doubles.
    public init(_ json: JSONValue) {
      switch json {
      case .null: self = .null
      case .bool(let value): self = .bool(value)
      case .number(let value): self = .double(value)
      case .string(let value): self = .string(value)
      case .array(let values): self = .list(values.map(Value.init))
      case .object(let values): self = .map(values.mapValues(Value.init))
      }
    }

    var typeName: String {
      switch self {
      case .null: "null"
      case .bool: "bool"
      case .int: "int"
      case .double: "double"
      case .string: "string"
      case .list: "list"
      case .map: "map"
      }
    }

    public var description: String {
      switch self {
      case .null: "null"
      case .bool(let value): "\(value)"
      case .int(let value): "\(value)"
      case .double(let value): "\(value)"
      case .string(let value): "\"\(value)\""
      case .list(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
      case .map(let values):
        "{"
          + values.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(
            separator: ", ") + "}"
      }
    }
  }
}

/// An expression that does not parse or cannot be evaluated.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  /// The 1-based column of a parse error; nil for an evaluation error.
  public var column: Int?

  public var description: String { column.map { "column \($0): \(message)" } ?? message }
}

/// The syntax tree.
indirect enum ExpressionNode: Sendable {
  case literal(CELExpression.Value)
  case identifier(String)
  case member(ExpressionNode, String)
  case index(ExpressionNode, ExpressionNode)
  case call(String, target: ExpressionNode?, arguments: [ExpressionNode])
  case list([ExpressionNode])
  case map([(ExpressionNode, ExpressionNode)])
  case unary(String, ExpressionNode)
  case binary(String, ExpressionNode, ExpressionNode)
  case conditional(ExpressionNode, ExpressionNode, ExpressionNode)
}
