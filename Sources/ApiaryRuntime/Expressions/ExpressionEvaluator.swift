import Foundation

/// Evaluates an ``CELExpression``'s tree with CEL's semantics for the subset: numbers of
/// either kind compare with each other, a missing member is an error, and `&&` / `||`
/// absorb an error when the other operand decides the result.
struct ExpressionEvaluator {
  typealias Value = CELExpression.Value
  let variables: [String: Value]

  func evaluate(_ node: ExpressionNode) throws(ExpressionError) -> Value {
    switch node {
    case .literal(let value):
      return value
    case .identifier(let name):
      guard let value = variables[name] else { throw error("undeclared reference to '\(name)'") }
      return value
    case .member(let target, let name):
      return try member(try evaluate(target), name)
    case .index(let target, let key):
      return try index(try evaluate(target), try evaluate(key))
    case .list(let nodes):
      var values: [Value] = []
      for node in nodes { values.append(try evaluate(node)) }
      return .list(values)
    case .map(let entries):
      var values: [String: Value] = [:]
      for (keyNode, valueNode) in entries {
        guard case .string(let key) = try evaluate(keyNode) else {
          throw error("map keys must be strings here")
        }
        values[key] = try evaluate(valueNode)
      }
      return .map(values)
    case .unary(let op, let operand):
      let value = try evaluate(operand)
      switch (op, value) {
      case ("!", .bool(let bool)): return .bool(!bool)
      case ("-", .int(let int)): return .int(-int)
      case ("-", .double(let double)): return .double(-double)
      default: throw error("no such overload: \(op)\(value.typeName)")
      }
    case .binary("&&", let left, let right):
      return try logical(left, right, decisive: false)
    case .binary("||", let left, let right):
      return try logical(left, right, decisive: true)
    case .binary(let op, let left, let right):
      return try binary(op, try evaluate(left), try evaluate(right))
    case .conditional(let condition, let yes, let no):
      guard case .bool(let chosen) = try evaluate(condition) else {
        throw error("a condition must be a bool")
      }
      return try evaluate(chosen ? yes : no)
    case .call(let name, let target, let arguments):
      return try call(name, target: target, arguments: arguments)
    }
  }

  private func error(_ message: String) -> ExpressionError {
    ExpressionError(message: message, column: nil)
  }

  /// `&&` (decisive false) and `||` (decisive true): the decisive value of either side
  /// wins even when the other side fails.
  private func logical(
    _ left: ExpressionNode, _ right: ExpressionNode, decisive: Bool
  ) throws(ExpressionError) -> Value {
    let leftResult = Result { () throws(ExpressionError) -> Value in try evaluate(left) }
    if case .success(.bool(decisive)) = leftResult { return .bool(decisive) }
    let rightResult = Result { () throws(ExpressionError) -> Value in try evaluate(right) }
    if case .success(.bool(decisive)) = rightResult { return .bool(decisive) }
    switch (leftResult, rightResult) {
    case (.success(.bool), .success(.bool)): return .bool(!decisive)
    case (.failure(let failure), _), (_, .failure(let failure)): throw failure
    case (.success(let value), .success(.bool)), (.success(.bool), .success(let value)):
      throw error("no such overload: \(decisive ? "||" : "&&") on \(value.typeName)")
    case (.success(let value), .success):
      throw error("no such overload: \(decisive ? "||" : "&&") on \(value.typeName)")
    }
  }

  private func member(_ target: Value, _ name: String) throws(ExpressionError) -> Value {
    guard case .map(let values) = target else {
      throw error("cannot select field '\(name)' of \(target.typeName)")
    }
    guard let value = values[name] else { throw error("no such key: \(name)") }
    return value
  }

  private func index(_ target: Value, _ key: Value) throws(ExpressionError) -> Value {
    switch (target, key) {
    case (.map(let values), .string(let name)):
      guard let value = values[name] else { throw error("no such key: \(name)") }
      return value
    case (.list(let values), _):
      guard let position = integer(key), position >= 0, position < values.count else {
        throw error("index out of range: \(key)")
      }
      return values[Int(position)]
    default:
      throw error("cannot index \(target.typeName) with \(key.typeName)")
    }
  }

  /// A value usable as a list index: an int, or a double without a fraction.
  private func integer(_ value: Value) -> Int64? {
    switch value {
    case .int(let int): int
    case .double(let double) where double.rounded() == double && abs(double) < 9e18: Int64(double)
    default: nil
    }
  }

  private func binary(_ op: String, _ left: Value, _ right: Value) throws(ExpressionError) -> Value
  {
    switch op {
    case "==": return .bool(equal(left, right))
    case "!=": return .bool(!equal(left, right))
    case "<", "<=", ">", ">=":
      let order = try compare(left, right, op)
      switch op {
      case "<": return .bool(order < 0)
      case "<=": return .bool(order <= 0)
      case ">": return .bool(order > 0)
      default: return .bool(order >= 0)
      }
    case "in":
      switch right {
      case .list(let values): return .bool(values.contains { equal(left, $0) })
      case .map(let values):
        guard case .string(let key) = left else { return .bool(false) }
        return .bool(values[key] != nil)
      default: throw error("no such overload: \(left.typeName) in \(right.typeName)")
      }
    default:
      return try arithmetic(op, left, right)
    }
  }

  private func arithmetic(
    _ op: String, _ left: Value, _ right: Value
  ) throws(ExpressionError) -> Value {
    switch (left, right) {
    case (.int(let a), .int(let b)):
      switch op {
      case "+": return .int(a &+ b)
      case "-": return .int(a &- b)
      case "*": return .int(a &* b)
      case "/", "%":
        guard b != 0 else { throw error("division by zero") }
        return .int(op == "/" ? a / b : a % b)
      default: break
      }
    case (.string(let a), .string(let b)) where op == "+":
      return .string(a + b)
    case (.list(let a), .list(let b)) where op == "+":
      return .list(a + b)
    default:
      if let a = number(left), let b = number(right) {
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/": return .double(a / b)
        default: break
        }
      }
    }
    throw error("no such overload: \(left.typeName) \(op) \(right.typeName)")
  }

  private func number(_ value: Value) -> Double? {
    switch value {
    case .int(let int): Double(int)
    case .double(let double): double
    default: nil
    }
  }

  private func equal(_ left: Value, _ right: Value) -> Bool {
    if let a = number(left), let b = number(right) { return a == b }
    switch (left, right) {
    case (.list(let a), .list(let b)): return a.count == b.count && zip(a, b).allSatisfy(equal)
    case (.map(let a), .map(let b)):
      return a.count == b.count
        && a.allSatisfy { key, value in b[key].map { equal(value, $0) } ?? false }
    default: return left == right
    }
  }

  private func compare(_ left: Value, _ right: Value, _ op: String) throws(ExpressionError) -> Int {
    if let a = number(left), let b = number(right) { return a < b ? -1 : (a > b ? 1 : 0) }
    switch (left, right) {
    case (.string(let a), .string(let b)): return a < b ? -1 : (a > b ? 1 : 0)
    case (.bool(let a), .bool(let b)): return a == b ? 0 : (a ? 1 : -1)
    default: throw error("no such overload: \(left.typeName) \(op) \(right.typeName)")
    }
  }

  private func call(
    _ name: String, target: ExpressionNode?, arguments: [ExpressionNode]
  ) throws(ExpressionError) -> Value {
    if name == "has", target == nil {
      // A macro: `has(x.y)` tests the field instead of reading it.
      guard arguments.count == 1, case .member(let object, let field) = arguments[0] else {
        throw error("has() needs one field selection, like has(event.data.x)")
      }
      guard case .map(let values) = try evaluate(object) else { return .bool(false) }
      return .bool(values[field] != nil)
    }
    var values: [Value] = []
    if let target { values.append(try evaluate(target)) }
    for argument in arguments { values.append(try evaluate(argument)) }
    switch (name, values) {
    case ("size", let args) where args.count == 1:
      switch args[0] {
      case .string(let text): return .int(Int64(text.count))
      case .list(let list): return .int(Int64(list.count))
      case .map(let map): return .int(Int64(map.count))
      default: break
      }
    case ("startsWith", let args) where args.count == 2:
      if case (.string(let text), .string(let prefix)) = (args[0], args[1]) {
        return .bool(text.hasPrefix(prefix))
      }
    case ("endsWith", let args) where args.count == 2:
      if case (.string(let text), .string(let suffix)) = (args[0], args[1]) {
        return .bool(text.hasSuffix(suffix))
      }
    case ("contains", let args) where args.count == 2:
      if case (.string(let text), .string(let part)) = (args[0], args[1]) {
        return .bool(text.contains(part))
      }
    case ("matches", let args) where args.count == 2:
      if case (.string(let text), .string(let pattern)) = (args[0], args[1]) {
        guard let regex = try? NSRegularExpression(pattern: pattern) else {
          throw error("matches: '\(pattern)' is not a regular expression")
        }
        let range = NSRange(text.startIndex..., in: text)
        return .bool(regex.firstMatch(in: text, range: range) != nil)
      }
    case ("int", let args) where args.count == 1:
      switch args[0] {
      case .int: return args[0]
      case .double(let double) where double.isFinite: return .int(Int64(double))
      case .string(let text): if let int = Int64(text) { return .int(int) }
      default: break
      }
    case ("double", let args) where args.count == 1:
      switch args[0] {
      case .int(let int): return .double(Double(int))
      case .double: return args[0]
      case .string(let text): if let double = Double(text) { return .double(double) }
      default: break
      }
    case ("string", let args) where args.count == 1:
      switch args[0] {
      case .string: return args[0]
      case .int(let int): return .string("\(int)")
      case .double(let double): return .string("\(double)")
      case .bool(let bool): return .string("\(bool)")
      default: break
      }
    default:
      break
    }
    throw error(
      "no such function or overload: \(name)(\(values.map(\.typeName).joined(separator: ", ")))")
  }
}
