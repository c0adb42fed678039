import ApiaryRuntime
import CoreMetrics
import Logging
import Synchronization

/// Whether the application answers deliveries, said once per outage: the first
/// delivery that cannot reach the app logs a warning, the first answer after that
/// logs its return with how long it was away and how many deliveries failed. Every
/// delivery that did not succeed is counted in
/// `apiary_app_delivery_failures_total{component,outcome}` (`outcome`: `unreachable`,
/// `retry` or `drop`), where `component` is the pub/sub or input binding.
final class AppReachability: Sendable {
  private struct Outage {
    var since: ContinuousClock.Instant
    var failures: Int
  }

  private let outage = Mutex<Outage?>(nil)
  private let logger: Logger
  /// How the app is named in the log lines, e.g. `the app (http://127.0.0.1:8080)`.
  private let app: String

  init(app: String, logger: Logger) {
    self.app = app
    self.logger = logger
  }

  /// Records the verdict of one delivery for `component`.
  func record(_ verdict: AppVerdict, component: String) {
    switch verdict {
    case .unreachable(let reason):
      count(component, "unreachable")
      let first = outage.withLock { outage -> Bool in
        if outage == nil {
          outage = Outage(since: .now, failures: 1)
          return true
        }
        outage?.failures += 1
        return false
      }
      if first {
        logger.warning(
          "\(app) cannot be reached: \(reason). Events wait with their pub/sub or binding and are retried until the app answers",
          metadata: ["component": "\(component)"])
      }
    case .retry, .drop, .success, .discard, .abandoned:
      if case .retry = verdict { count(component, "retry") }
      if case .drop = verdict { count(component, "drop") }
      guard
        let ended = outage.withLock({ outage -> Outage? in
          defer { outage = nil }
          return outage
        })
      else { return }
      let away = ContinuousClock.now - ended.since
      logger.notice(
        "\(app) answers again after \(formatDuration(away)); \(ended.failures) deliveries could not reach it and were retried",
        metadata: ["component": "\(component)"])
    }
  }

  private func count(_ component: String, _ outcome: String) {
    Counter(
      label: "apiary_app_delivery_failures_total",
      dimensions: [("component", component), ("outcome", outcome)]
    )
    .increment()
  }
}
