import CoreMetrics
import Foundation

/// `spec.metrics.rules` of the Dapr Configuration: for a metric, per label, regular
/// expressions whose matches in the label's value are replaced (daprd's
/// `CreateRulesMap` and `NormalizeTagValue`: every match replaced, `$1` expanded, the
/// pairs of a label applied one after the other).
///
/// A rule names its metric as `/metrics` shows it (`apiary_component_calls_total`,
/// `dapr_error_code_total`); as in daprd, a leading `dapr_` may be left out.
public struct MetricLabelRules: Sendable {
  private struct Replacement: @unchecked Sendable {
    // @unchecked Sendable: NSRegularExpression is immutable once made and documented
    // as safe to use from several threads.
    let regex: NSRegularExpression
    let template: String
  }

  /// Metric name → label → replacements in order.
  private let rules: [String: [String: [Replacement]]]

  public var isEmpty: Bool { rules.isEmpty }

  /// - Throws: ``ConfigurationError`` for a pattern that is not a regular expression
  ///   (the parser checked them already; this is the last guard).
  public init(_ rules: [DaprConfiguration.Metrics.Rule]) throws(ConfigurationError) {
    var compiled: [String: [String: [Replacement]]] = [:]
    for rule in rules {
      for (label, pairs) in rule.labels {
        var replacements: [Replacement] = []
        for (replacement, pattern) in pairs.sorted(by: { $0.key < $1.key }) {
          guard let regex = try? NSRegularExpression(pattern: pattern) else {
            throw ConfigurationError(
              "spec.metrics.rules \(rule.name): '\(pattern)' is not a regular expression")
          }
          replacements.append(Replacement(regex: regex, template: replacement))
        }
        compiled[rule.name, default: [:]][label, default: []] += replacements
      }
    }
    self.rules = compiled
  }

  /// `dimensions` of metric `label` with the rules applied.
  public func apply(metric label: String, _ dimensions: [(String, String)]) -> [(String, String)] {
    guard
      let labels = rules[label]
        ?? (label.hasPrefix("dapr_") ? rules[String(label.dropFirst(5))] : nil)
    else {
      return dimensions
    }
    return dimensions.map { name, value in
      guard let replacements = labels[name] else { return (name, value) }
      var rewritten = value
      for replacement in replacements {
        let range = NSRange(rewritten.startIndex..., in: rewritten)
        rewritten = replacement.regex.stringByReplacingMatches(
          in: rewritten, range: range, withTemplate: replacement.template)
      }
      return (name, rewritten)
    }
  }
}

/// A swift-metrics factory that applies ``MetricLabelRules`` to every metric's
/// dimensions, then makes it with the factory it wraps (Prometheus).
public struct RuleApplyingMetricsFactory: MetricsFactory {
  private let base: any MetricsFactory
  private let rules: MetricLabelRules

  public init(wrapping base: any MetricsFactory, rules: MetricLabelRules) {
    self.base = base
    self.rules = rules
  }

  public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
    base.makeCounter(label: label, dimensions: rules.apply(metric: label, dimensions))
  }

  public func makeFloatingPointCounter(
    label: String, dimensions: [(String, String)]
  ) -> any FloatingPointCounterHandler {
    base.makeFloatingPointCounter(label: label, dimensions: rules.apply(metric: label, dimensions))
  }

  public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
    base.makeMeter(label: label, dimensions: rules.apply(metric: label, dimensions))
  }

  public func makeRecorder(
    label: String, dimensions: [(String, String)], aggregate: Bool
  ) -> any RecorderHandler {
    base.makeRecorder(
      label: label, dimensions: rules.apply(metric: label, dimensions), aggregate: aggregate)
  }

  public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
    base.makeTimer(label: label, dimensions: rules.apply(metric: label, dimensions))
  }

  public func destroyCounter(_ handler: any CounterHandler) { base.destroyCounter(handler) }
  public func destroyMeter(_ handler: any MeterHandler) { base.destroyMeter(handler) }
  public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
    base.destroyFloatingPointCounter(handler)
  }
  public func destroyRecorder(_ handler: any RecorderHandler) { base.destroyRecorder(handler) }
  public func destroyTimer(_ handler: any TimerHandler) { base.destroyTimer(handler) }
}
