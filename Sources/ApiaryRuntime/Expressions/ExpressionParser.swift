/// A recursive-descent parser for ``CELExpression``'s CEL subset, with CEL's precedence:
/// `?:`, `||`, `&&`, relations and `in`, `+ -`, `* / %`, unary `! -`, member access,
/// calls and indexing.
struct ExpressionParser {
  private enum Token: Equatable {
    case number(String)
    case string(String)
    case identifier(String)
    case symbol(String)
    case end
  }

  private var tokens: [(token: Token, column: Int)] = []
  private var position = 0
  private let source: String
  private var lexError: ExpressionError?

  init(_ source: String) {
    self.source = source
    do {
      tokens = try Self.lex(source)
    } catch {
      lexError = error
    }
  }

  mutating func parseWhole() throws(ExpressionError) -> ExpressionNode {
    if let lexError { throw lexError }
    guard tokens.count > 1 else {
      throw ExpressionError(message: "the expression is empty", column: 1)
    }
    let node = try conditional()
    guard current == .end else { throw failure("unexpected \(describe(current))") }
    return node
  }

  // MARK: - Grammar

  private mutating func conditional() throws(ExpressionError) -> ExpressionNode {
    let condition = try or()
    guard accept("?") else { return condition }
    let yes = try conditional()
    try expect(":")
    let no = try conditional()
    return .conditional(condition, yes, no)
  }

  private mutating func or() throws(ExpressionError) -> ExpressionNode {
    var node = try and()
    while accept("||") { node = .binary("||", node, try and()) }
    return node
  }

  private mutating func and() throws(ExpressionError) -> ExpressionNode {
    var node = try relation()
    while accept("&&") { node = .binary("&&", node, try relation()) }
    return node
  }

  private mutating func relation() throws(ExpressionError) -> ExpressionNode {
    var node = try addition()
    while true {
      if case .symbol(let op) = current, ["==", "!=", "<", "<=", ">", ">="].contains(op) {
        advance()
        node = .binary(op, node, try addition())
      } else if current == .identifier("in") {
        advance()
        node = .binary("in", node, try addition())
      } else {
        return node
      }
    }
  }

  private mutating func addition() throws(ExpressionError) -> ExpressionNode {
    var node = try multiplication()
    while case .symbol(let op) = current, op == "+" || op == "-" {
      advance()
      node = .binary(op, node, try multiplication())
    }
    return node
  }

  private mutating func multiplication() throws(ExpressionError) -> ExpressionNode {
    var node = try unary()
    while case .symbol(let op) = current, op == "*" || op == "/" || op == "%" {
      advance()
      node = .binary(op, node, try unary())
    }
    return node
  }

  private mutating func unary() throws(ExpressionError) -> ExpressionNode {
    if accept("!") { return .unary("!", try unary()) }
    if accept("-") { return .unary("-", try unary()) }
    return try member()
  }

  private mutating func member() throws(ExpressionError) -> ExpressionNode {
    var node = try primary()
    while true {
      if accept(".") {
        guard case .identifier(let name) = current else {
          throw failure("expected a field name after '.'")
        }
        advance()
        if accept("(") {
          node = .call(name, target: node, arguments: try arguments(closing: ")"))
        } else {
          node = .member(node, name)
        }
      } else if accept("[") {
        let index = try conditional()
        try expect("]")
        node = .index(node, index)
      } else {
        return node
      }
    }
  }

  private mutating func primary() throws(ExpressionError) -> ExpressionNode {
    switch current {
    case .number(let text):
      advance()
      if let value = Int64(text) { return .literal(.int(value)) }
      if let value = Double(text) { return .literal(.double(value)) }
      throw failure("'\(text)' is not a number", back: 1)
    case .string(let text):
      advance()
      return .literal(.string(text))
    case .identifier(let name):
      advance()
      switch name {
      case "true": return .literal(.bool(true))
      case "false": return .literal(.bool(false))
      case "null": return .literal(.null)
      default: break
      }
      if accept("(") { return .call(name, target: nil, arguments: try arguments(closing: ")")) }
      return .identifier(name)
    case .symbol("("):
      advance()
      let node = try conditional()
      try expect(")")
      return node
    case .symbol("["):
      advance()
      return .list(try arguments(closing: "]"))
    case .symbol("{"):
      advance()
      var entries: [(ExpressionNode, ExpressionNode)] = []
      if accept("}") { return .map(entries) }
      repeat {
        let key = try conditional()
        try expect(":")
        entries.append((key, try conditional()))
      } while accept(",")
      try expect("}")
      return .map(entries)
    case .end:
      throw failure("the expression ends too soon")
    default:
      throw failure("unexpected \(describe(current))")
    }
  }

  private mutating func arguments(closing: String) throws(ExpressionError) -> [ExpressionNode] {
    var nodes: [ExpressionNode] = []
    if accept(closing) { return nodes }
    repeat { nodes.append(try conditional()) } while accept(",")
    try expect(closing)
    return nodes
  }

  // MARK: - Tokens

  private var current: Token { tokens[position].token }

  private mutating func advance() {
    if position < tokens.count - 1 { position += 1 }
  }

  private mutating func accept(_ symbol: String) -> Bool {
    guard current == .symbol(symbol) else { return false }
    advance()
    return true
  }

  private mutating func expect(_ symbol: String) throws(ExpressionError) {
    guard accept(symbol) else {
      throw failure("expected '\(symbol)' but found \(describe(current))")
    }
  }

  private func failure(_ message: String, back: Int = 0) -> ExpressionError {
    ExpressionError(message: message, column: tokens[max(position - back, 0)].column)
  }

  private func describe(_ token: Token) -> String {
    switch token {
    case .number(let text): "'\(text)'"
    case .string(let text): "the string \"\(text)\""
    case .identifier(let name): "'\(name)'"
    case .symbol(let symbol): "'\(symbol)'"
    case .end: "the end of the expression"
    }
  }

  private static let symbols = [
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%", ".", ",", "(", ")",
    "[", "]", "{", "}", ":", "?",
  ]

  private static func lex(_ source: String) throws(ExpressionError) -> [(token: Token, column: Int)]
  {
    let characters = Array(source)
    var tokens: [(token: Token, column: Int)] = []
    var index = 0
    while index < characters.count {
      let character = characters[index]
      let column = index + 1
      if character.isWhitespace {
        index += 1
        continue
      }
      if character.isNumber {
        var end = index
        while end < characters.count,
          characters[end].isNumber || characters[end] == "." || characters[end] == "e"
            || characters[end] == "E"
            || ((characters[end] == "+" || characters[end] == "-") && end > index
              && "eE".contains(characters[end - 1]))
        {
          end += 1
        }
        var text = String(characters[index..<end])
        // A uint suffix.
        if end < characters.count, characters[end] == "u" || characters[end] == "U" { end += 1 }
        if text.hasSuffix(".") { text.removeLast() }
        tokens.append((.number(text), column))
        index = end
        continue
      }
      if character.isLetter || character == "_" {
        var end = index
        while end < characters.count,
          characters[end].isLetter || characters[end].isNumber || characters[end] == "_"
        {
          end += 1
        }
        tokens.append((.identifier(String(characters[index..<end])), column))
        index = end
        continue
      }
      if character == "\"" || character == "'" {
        var text = ""
        var end = index + 1
        var closed = false
        while end < characters.count {
          let next = characters[end]
          if next == character {
            closed = true
            break
          }
          if next == "\\", end + 1 < characters.count {
            end += 1
            switch characters[end] {
            case "n": text.append("\n")
            case "t": text.append("\t")
            case "r": text.append("\r")
            default: text.append(characters[end])
            }
          } else {
            text.append(next)
          }
          end += 1
        }
        guard closed else {
          throw ExpressionError(message: "a string is not closed", column: column)
        }
        tokens.append((.string(text), column))
        index = end + 1
        continue
      }
      guard let symbol = symbols.first(where: { matches($0, characters, at: index) }) else {
        throw ExpressionError(message: "unexpected character '\(character)'", column: column)
      }
      tokens.append((.symbol(symbol), column))
      index += symbol.count
    }
    tokens.append((.end, characters.count + 1))
    return tokens
  }

  private static func matches(_ symbol: String, _ characters: [Character], at index: Int) -> Bool {
    let wanted = Array(symbol)
    guard index + wanted.count <= characters.count else { return false }
    return Array(characters[index..<index + wanted.count]) == wanted
  }
}
