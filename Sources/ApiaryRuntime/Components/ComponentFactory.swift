/// Makes and initialises components of one type.
///
/// Built-ins and pluggable components are both factories, registered by type in a
/// ``FactoryRegistry``, so the loader has one code path for both.
public protocol ComponentFactory: Sendable {
  /// The component type, e.g. `state.in-memory` or `state.my-store`.
  var type: String { get }
  /// Where the implementation lives.
  var source: ComponentSource { get }
  /// Whether `version` (from `spec.version`, "" when absent) names this implementation.
  func accepts(version: String) -> Bool
  /// Creates the component `name` and initialises it with the resolved `metadata`
  /// within `timeout`; returns its building block and capabilities.
  func make(
    name: String, metadata: [String: String], timeout: Duration
  ) async throws -> (ComponentKind, [String])
}

/// Component factories by type.
public struct FactoryRegistry: Sendable {
  private var factories: [String: any ComponentFactory] = [:]

  public init() {}

  /// Registers `factory`, unless its type is taken.
  ///
  /// - Returns: The source already providing the type, when registration was refused.
  @discardableResult
  public mutating func register(_ factory: any ComponentFactory) -> ComponentSource? {
    if let existing = factories[factory.type] { return existing.source }
    factories[factory.type] = factory
    return nil
  }

  /// The factory of `type`, if any.
  public func factory(for type: String) -> (any ComponentFactory)? { factories[type] }

  /// Every registered type, sorted.
  public var types: [String] { factories.keys.sorted() }
}
