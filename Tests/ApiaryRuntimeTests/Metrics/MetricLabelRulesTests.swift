import CoreMetrics
import Synchronization
import Testing

@testable import ApiaryRuntime

@Suite("spec.metrics.rules: label values rewritten by regular expression")
struct MetricLabelRulesTests {
  func rules(_ name: String, _ label: String, _ pairs: [String: String]) throws -> MetricLabelRules
  {
    try MetricLabelRules([DaprConfiguration.Metrics.Rule(name: name, labels: [label: pairs])])
  }

  @Test(
    "every match in the named label of the named metric is replaced; other labels and metrics are left alone"
  )
  func apply() throws {
    let rules = try rules("apiary_component_calls_total", "component", ["store-#": "store-[0-9]+"])
    let rewritten = rules.apply(
      metric: "apiary_component_calls_total", [("component", "store-17"), ("method", "store-17")])
    #expect(rewritten.map(\.1) == ["store-#", "store-17"])
    #expect(rules.apply(metric: "other", [("component", "store-17")]).map(\.1) == ["store-17"])
  }

  @Test("daprd's form of the name (dapr_ left out) matches too; $1 expands")
  func daprNames() throws {
    let rules = try rules("error_code_total", "error_code", ["ERR_$1": "^ERR_([A-Z]+)_.*$"])
    #expect(
      rules.apply(metric: "dapr_error_code_total", [("error_code", "ERR_STATE_GET")]).map(\.1) == [
        "ERR_STATE"
      ])
  }

  @Test("the wrapping factory hands the rewritten dimensions to the one it wraps")
  func factory() throws {
    final class Recording: MetricsFactory, Sendable {
      let made = Mutex<[(String, [(String, String)])]>([])
      func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        made.withLock { $0.append((label, dimensions)) }
        return NOOPMetricsHandler.instance
      }
      func makeRecorder(
        label: String, dimensions: [(String, String)], aggregate: Bool
      ) -> any RecorderHandler {
        NOOPMetricsHandler.instance
      }
      func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        made.withLock { $0.append((label, dimensions)) }
        return NOOPMetricsHandler.instance
      }
      func destroyCounter(_ handler: any CounterHandler) {}
      func destroyRecorder(_ handler: any RecorderHandler) {}
      func destroyTimer(_ handler: any TimerHandler) {}
    }
    let base = Recording()
    let factory = RuleApplyingMetricsFactory(
      wrapping: base, rules: try rules("m", "route", ["x": "secret-.*"]))
    _ = Counter(label: "m", dimensions: [("route", "secret-1")], factory: factory)
    _ = CoreMetrics.Timer(label: "m", dimensions: [("route", "ok")], factory: factory)
    let made = base.made.withLock { $0 }
    #expect(made.map { $0.1.map(\.1) } == [["x"], ["ok"]])
  }

  @Test("a pattern that is not a regular expression is refused")
  func invalid() {
    #expect(throws: ConfigurationError.self) { try rules("m", "l", ["x": "("]) }
  }
}
