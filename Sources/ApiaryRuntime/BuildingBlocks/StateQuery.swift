import Foundation

/// A state query as the app writes it (`QueryStateAlpha1`, `POST /v1.0-alpha1/state/{store}/query`):
/// `{"filter": {OP: …}, "sort": [{"key", "order"}], "page": {"limit", "token"}}`.
///
/// The sidecar parses and checks it itself, as daprd does, so a malformed query is
/// refused with daprd's words before any component sees it.
public struct StateQuery: Sendable, Equatable {
  /// A filter node.
  public indirect enum Filter: Sendable, Equatable {
    /// `EQ`, `NEQ`, `GT`, `GTE`, `LT`, `LTE`: `{"dotted.key": value}`.
    case compare(String, key: String, value: JSONValue)
    /// `IN`: `{"key": [values]}`.
    case oneOf(key: String, values: [JSONValue])
    /// `AND`: every one of two or more filters.
    case and([Filter])
    /// `OR`: any of two or more filters.
    case or([Filter])

    /// The operators that compare one key with one value.
    public static let comparisons: Set<String> = ["EQ", "NEQ", "GT", "GTE", "LT", "LTE"]

    /// The operator's name.
    public var name: String {
      switch self {
      case .compare(let op, _, _): op
      case .oneOf: "IN"
      case .and: "AND"
      case .or: "OR"
      }
    }

    /// The operand as JSON: what daprd packs into the `Any` it sends the component.
    public var operand: JSONValue {
      switch self {
      case .compare(_, let key, let value): .object([key: value])
      case .oneOf(let key, let values): .object([key: .array(values)])
      case .and(let filters), .or(let filters):
        .array(filters.map { .object([$0.name: $0.operand]) })
      }
    }
  }

  /// One sort key; `descending` false is ASC (also for an unknown order, as daprd does).
  public struct Sorting: Sendable, Equatable {
    public var key: String
    public var descending: Bool

    public init(key: String, descending: Bool) {
      self.key = key
      self.descending = descending
    }
  }

  public var filter: Filter?
  public var sort: [Sorting] = []
  public var limit: Int = 0
  public var token: String = ""

  public init(filter: Filter? = nil, sort: [Sorting] = [], limit: Int = 0, token: String = "") {
    self.filter = filter
    self.sort = sort
    self.limit = limit
    self.token = token
  }

  /// A query that does not parse; the message is daprd's.
  public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
  }

  /// Parses the query JSON.
  ///
  /// - Throws: ``ParseError`` with daprd's message (`unsupported filter "X"`,
  ///   `EQ filter must contain a single key/value pair`, …).
  public init(json data: Data) throws(ParseError) {
    let root: JSONValue
    do {
      root = try JSONValue(json: data)
    } catch {
      // Foundation's own error text names its error domain, not what is wrong.
      throw ParseError(
        data.isEmpty ? "the query body is empty" : "the query body is not valid JSON")
    }
    guard case .object(let members) = root else {
      throw ParseError("the query must be a JSON object")
    }
    if let filter = members["filter"] { self.filter = try Self.filter(filter) }
    if let sort = members["sort"] {
      guard case .array(let entries) = sort else { throw ParseError(#""sort" must be an array"#) }
      for entry in entries {
        guard case .string(let key)? = entry["key"] else {
          throw ParseError("a sort entry must have a string \"key\"")
        }
        let order: String
        switch entry["order"] {
        case .string(let text)?: order = text
        case nil, .null?: order = "ASC"
        default: throw ParseError("a sort entry's \"order\" must be a string")
        }
        self.sort.append(Sorting(key: key, descending: order == "DESC"))
      }
    }
    if let page = members["page"] {
      guard case .object(let fields) = page else { throw ParseError(#""page" must be a map"#) }
      switch fields["limit"] {
      case .number(let value)?:
        guard value.rounded() == value, abs(value) < 1e15 else {
          throw ParseError("\"page.limit\" must be an integer")
        }
        limit = Int(value)
      case nil, .null?: break
      default: throw ParseError("\"page.limit\" must be an integer")
      }
      switch fields["token"] {
      case .string(let value)?: token = value
      case nil, .null?: break
      default: throw ParseError("\"page.token\" must be a string")
      }
    }
  }

  private static func filter(_ value: JSONValue) throws(ParseError) -> Filter {
    guard case .object(let unit) = value else { throw ParseError("filter unit must be a map") }
    guard unit.count == 1, let only = unit.first else {
      throw ParseError("filter unit must have a single element")
    }
    let (op, operand) = (only.key, only.value)
    switch op {
    case _ where Filter.comparisons.contains(op):
      guard case .object(let pair) = operand else { throw ParseError("\(op) filter must be a map") }
      guard pair.count == 1, let only = pair.first else {
        throw ParseError("\(op) filter must contain a single key/value pair")
      }
      return .compare(op, key: only.key, value: only.value)
    case "IN":
      guard case .object(let pair) = operand else { throw ParseError("IN filter must be a map") }
      guard pair.count == 1, let only = pair.first else {
        throw ParseError("IN filter must contain a single key/value pair")
      }
      guard case .array(let values) = only.value else {
        throw ParseError("IN filter value must be an array")
      }
      return .oneOf(key: only.key, values: values)
    case "AND", "OR":
      guard case .array(let entries) = operand else {
        throw ParseError("\(op) filter must be an array")
      }
      guard entries.count >= 2 else {
        throw ParseError("\(op) filter must contain at least two entries")
      }
      var filters: [Filter] = []
      for entry in entries { filters.append(try filter(entry)) }
      return op == "AND" ? .and(filters) : .or(filters)
    default:
      throw ParseError("unsupported filter \"\(op)\"")
    }
  }
}

/// What a query found: the items in order, the token for the next page, and the
/// store's metadata.
public struct StateQueryResult: Sendable, Equatable {
  /// One item; `error` set when that item alone failed.
  public struct Item: Sendable, Equatable {
    public var key: String
    public var data: Data
    public var etag: String?
    public var error: String?
    public var contentType: String?

    public init(
      key: String, data: Data, etag: String? = nil, error: String? = nil, contentType: String? = nil
    ) {
      self.key = key
      self.data = data
      self.etag = etag
      self.error = error
      self.contentType = contentType
    }
  }

  public var items: [Item]
  public var token: String
  public var metadata: [String: String]

  public init(items: [Item], token: String = "", metadata: [String: String] = [:]) {
    self.items = items
    self.token = token
    self.metadata = metadata
  }
}
