import ApiaryContracts
import Foundation
import GRPCCore

/// Runs a `QueriableStateStore.Query` over values a store holds, for stores that keep
/// JSON values and have no query engine of their own (the memstore sample uses it).
///
/// The filter arrives as the sidecar sends it: one node `{OP: Any}` whose value is the
/// operand's JSON (`EQ`, `NEQ`, `GT`, `GTE`, `LT`, `LTE`: `{"a.b": value}`; `IN`:
/// `{"key": [values]}`; `AND`, `OR`: a list of such nodes). Keys are dotted paths into
/// the value; numbers compare as numbers, strings as strings, and a value a path does
/// not reach matches no comparison. Sorting follows the sort keys in order (a missing
/// value sorts first); the page token is the offset of the next item.
public struct StateQueryEvaluator: Sendable {
  /// A filter node.
  public indirect enum Filter: Sendable {
    case compare(String, key: String, value: JSONBox)
    case oneOf(key: String, values: [JSONBox])
    case and([Filter])
    case or([Filter])
  }

  // JSONBox is @unchecked Sendable: it holds only values JSONSerialization makes
  // (NSNull, NSNumber, String, arrays and dictionaries of them), never mutated after
  // creation.
  /// A JSON value from `JSONSerialization`, carried across concurrency domains.
  public struct JSONBox: @unchecked Sendable {
    /// The value as `JSONSerialization` made it.
    public let value: Any
    /// Boxes `value`.
    public init(_ value: Any) { self.value = value }
  }

  /// The filter; nil matches every item.
  public let filter: Filter?
  /// The sort keys, most significant first.
  public let sort: [Dapr_Proto_Components_V1_Sorting]
  /// The most items a page holds; 0 for no limit.
  public let limit: Int
  /// Where the page starts (the page token read as a number).
  public let offset: Int

  /// Reads the query of a request.
  ///
  /// - Throws: ``ComponentError/invalidArgument(_:)`` for a filter that is not
  ///   daprd's form, or a page token that is not an offset.
  public init(_ query: Dapr_Proto_Components_V1_Query) throws {
    if let first = query.filter.first {
      guard query.filter.count == 1 else {
        throw ComponentError.invalidArgument("a query filter has one top-level node")
      }
      filter = try Self.node(first.key, try Self.json(first.value.value))
    } else {
      filter = nil
    }
    sort = query.sort
    limit = Int(query.pagination.limit)
    if query.pagination.token.isEmpty {
      offset = 0
    } else {
      guard let offset = Int(query.pagination.token), offset >= 0 else {
        throw ComponentError.invalidArgument(
          "page token '\(query.pagination.token)' is not one this store gave")
      }
      self.offset = offset
    }
  }

  private static func json(_ data: Data) throws -> Any {
    do {
      return try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
    } catch {
      throw ComponentError.invalidArgument("a query filter operand is not JSON: \(error)")
    }
  }

  private static func node(_ op: String, _ operand: Any) throws -> Filter {
    switch op {
    case "EQ", "NEQ", "GT", "GTE", "LT", "LTE":
      guard let pair = operand as? [String: Any], pair.count == 1, let entry = pair.first else {
        throw ComponentError.invalidArgument("\(op) filter must contain a single key/value pair")
      }
      return .compare(op, key: entry.key, value: JSONBox(entry.value))
    case "IN":
      guard let pair = operand as? [String: Any], pair.count == 1, let entry = pair.first,
        let values = entry.value as? [Any]
      else { throw ComponentError.invalidArgument("IN filter must map a single key to an array") }
      return .oneOf(key: entry.key, values: values.map(JSONBox.init))
    case "AND", "OR":
      guard let list = operand as? [Any], list.count >= 2 else {
        throw ComponentError.invalidArgument("\(op) filter must contain at least two entries")
      }
      var filters: [Filter] = []
      for entry in list {
        guard let unit = entry as? [String: Any], unit.count == 1, let first = unit.first else {
          throw ComponentError.invalidArgument("filter unit must have a single element")
        }
        filters.append(try node(first.key, first.value))
      }
      return op == "AND" ? .and(filters) : .or(filters)
    default:
      throw ComponentError.invalidArgument("unsupported filter \"\(op)\"")
    }
  }

  /// The items to answer, filtered, sorted and paged, and the token of the next page
  /// (empty when this is the last).
  ///
  /// - Parameter items: key, stored value (JSON bytes) and whatever else the caller
  ///   wants back, in any order.
  public func run<Item>(
    _ items: [(key: String, value: Data, item: Item)]
  ) -> (items: [Item], token: String) {
    var matched: [(value: Any?, item: Item)] = []
    for entry in items {
      let value = try? JSONSerialization.jsonObject(with: entry.value, options: .fragmentsAllowed)
      if let filter, !Self.matches(filter, value) { continue }
      matched.append((value, entry.item))
    }
    if !sort.isEmpty {
      matched.sort { left, right in
        for sorting in sort {
          let order = Self.order(
            Self.lookup(left.value, sorting.key), Self.lookup(right.value, sorting.key))
          if order != 0 { return sorting.order == .desc ? order > 0 : order < 0 }
        }
        return false
      }
    }
    let start = min(offset, matched.count)
    let end = limit > 0 ? min(start + limit, matched.count) : matched.count
    let token = end < matched.count ? String(end) : ""
    return (matched[start..<end].map(\.item), token)
  }

  static func matches(_ filter: Filter, _ value: Any?) -> Bool {
    switch filter {
    case .and(let filters): return filters.allSatisfy { matches($0, value) }
    case .or(let filters): return filters.contains { matches($0, value) }
    case .oneOf(let key, let values):
      guard let found = lookup(value, key) else { return false }
      return values.contains { order(found, $0.value) == 0 }
    case .compare(let op, let key, let expected):
      guard let found = lookup(value, key) else { return false }
      let result = order(found, expected.value)
      guard result != nil2 else { return op == "NEQ" }
      switch op {
      case "EQ": return result == 0
      case "NEQ": return result != 0
      case "GT": return result > 0
      case "GTE": return result >= 0
      case "LT": return result < 0
      default: return result <= 0
      }
    }
  }

  /// The order of two JSON values: numbers and strings among their kind; values of
  /// different kinds are unordered (``nil2``).
  static func order(_ left: Any?, _ right: Any?) -> Int {
    switch (left, right) {
    case (nil, nil): return 0
    case (nil, _): return -1
    case (_, nil): return 1
    case (let a as String, let b as String): return a < b ? -1 : (a > b ? 1 : 0)
    case (let a as NSNumber, let b as NSNumber):
      let x = a.doubleValue
      let y = b.doubleValue
      return x < y ? -1 : (x > y ? 1 : 0)
    default:
      return nil2
    }
  }

  /// "Not comparable": neither smaller, equal nor larger.
  static let nil2 = Int.min

  /// The value at a dotted path of a JSON value; nil when a step is missing.
  static func lookup(_ value: Any?, _ path: String) -> Any? {
    var current = value
    for step in path.split(separator: ".") {
      guard let object = current as? [String: Any] else { return nil }
      current = object[String(step)]
    }
    return current is NSNull ? nil : current
  }
}

/// A state store that can run queries (`dapr.proto.components.v1.QueriableStateStore`).
/// Advertise `QUERY_API`. ``StateQueryEvaluator`` does the work for stores of JSON values.
public protocol QueriableStateStoreComponent: StateStoreComponent {
  func query(
    _ request: Dapr_Proto_Components_V1_QueryRequest
  ) async throws -> Dapr_Proto_Components_V1_QueryResponse
}

/// Serves `dapr.proto.components.v1.QueriableStateStore` over the same instances as
/// the store's ``StateStoreService``.
struct QueriableStateStoreService<Store: StateStoreComponent>:
  Dapr_Proto_Components_V1_QueriableStateStore.ServiceProtocol
{
  let instances: InstanceRegistry<Store>

  func query(
    request: ServerRequest<Dapr_Proto_Components_V1_QueryRequest>, context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_QueryResponse> {
    try await mappingErrors {
      guard
        let store = try instances.instance(for: request.metadata)
          as? any QueriableStateStoreComponent
      else {
        throw ComponentError.unsupported("this state store does not support queries")
      }
      return ServerResponse(message: try await store.query(request.message))
    }
  }
}
