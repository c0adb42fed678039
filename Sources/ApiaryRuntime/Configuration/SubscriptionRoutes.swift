import Foundation

/// Where a subscription's events go in the app: routing rules (CEL `match`
/// expressions over the CloudEvent, tried in order; the first true wins, an empty
/// match always does), then the default path. No match and no default: the event is
/// not delivered (acknowledged, and dead-lettered when the subscription has a
/// dead-letter topic), as daprd does.
public struct SubscriptionRoutes: Sendable, Equatable {
  /// One rule: a path and the condition it applies under.
  public struct Rule: Sendable, Equatable {
    /// The CEL text; empty for "always".
    public var match: String
    public var path: String
    let expression: CELExpression?

    /// - Throws: ``ExpressionError`` (with the column) when `match` does not parse.
    public init(match: String, path: String) throws(ExpressionError) {
      self.match = match
      self.path = path
      let trimmed = match.trimmingCharacters(in: .whitespaces)
      expression = trimmed.isEmpty ? nil : try CELExpression(match)
    }

    public static func == (lhs: Rule, rhs: Rule) -> Bool {
      lhs.match == rhs.match && lhs.path == rhs.path
    }
  }

  public var rules: [Rule]
  public var defaultPath: String?

  public init(rules: [Rule] = [], defaultPath: String? = nil) {
    self.rules = rules
    self.defaultPath = defaultPath
  }

  /// A single path for every event (v1alpha1's `route`, a streaming subscription).
  public static func always(_ path: String) -> SubscriptionRoutes {
    SubscriptionRoutes(defaultPath: path)
  }

  /// Whether any event can be delivered at all.
  public var isEmpty: Bool { rules.isEmpty && (defaultPath ?? "").isEmpty }

  /// The rules as daprd lists them in the metadata API: the rules in order, then the
  /// default as a rule with an empty match.
  public var listed: [(match: String, path: String)] {
    rules.map { ($0.match, $0.path) } + (defaultPath.map { [("", $0)] } ?? [])
  }

  /// The path for `event` (the CloudEvent as CEL sees it, bound to `event`); nil when
  /// nothing matches and there is no default.
  ///
  /// - Throws: ``ExpressionError`` when a rule cannot be evaluated (a missing member,
  ///   a result that is not a bool): the event is then not delivered.
  public func path(for event: CELExpression.Value) throws(ExpressionError) -> String? {
    for rule in rules {
      guard let expression = rule.expression else { return rule.path }
      if try expression.isTrue(["event": event]) { return rule.path }
    }
    return defaultPath
  }
}

/// `bulkSubscribe`: deliver events to the app in batches.
public struct BulkSubscribeOptions: Sendable, Equatable {
  /// The most events in one batch (daprd's default 100).
  public var maxMessagesCount: Int
  /// The longest a batch waits to fill (daprd's default 1 s).
  public var maxAwaitDuration: Duration

  public init(maxMessagesCount: Int = 100, maxAwaitDuration: Duration = .milliseconds(1000)) {
    self.maxMessagesCount = maxMessagesCount
    self.maxAwaitDuration = maxAwaitDuration
  }
}
