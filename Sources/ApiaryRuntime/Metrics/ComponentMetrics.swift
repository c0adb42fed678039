import CoreMetrics
import Foundation
import Synchronization

/// The sidecar's component metrics, through swift-metrics: whichever backend the
/// executable bootstraps (Prometheus for `/metrics`) receives them; without one they
/// cost almost nothing.
///
/// - `apiary_component_calls_total{component,method}`: calls to a pluggable component.
/// - `apiary_component_call_errors_total{component,method,code}`: the failed ones, by
///   the component's gRPC status (or `deadline_exceeded` / `unavailable`).
/// - `apiary_component_call_duration_seconds{component,method}`: their latency.
/// - `apiary_heartbeat_failures_total{component}`: failed heartbeats.
/// - `apiary_component_state{component,state}`: 1 for the component's current state,
///   0 for the others.
///
/// Heartbeat pings are not counted as calls.
public enum ComponentMetrics {
  private static let enabled = Atomic<Bool>(true)

  /// Whether metrics are recorded at all. Off (`spec.metrics.enabled: false`, or the
  /// metrics module off) no metric work is done on any call path.
  public static var isEnabled: Bool {
    get { enabled.load(ordering: .relaxed) }
    set { enabled.store(newValue, ordering: .relaxed) }
  }

  private struct Key: Hashable {
    let component: String
    let method: String
  }

  private struct CallHandles: Sendable {
    let calls: Counter
    let duration: CoreMetrics.Timer
  }

  private static let handles = Mutex<[Key: CallHandles]>([:])

  private static func callHandles(_ key: Key) -> CallHandles {
    handles.withLock { cache in
      if let found = cache[key] { return found }
      let dimensions = [("component", key.component), ("method", key.method)]
      let made = CallHandles(
        calls: Counter(label: "apiary_component_calls_total", dimensions: dimensions),
        duration: CoreMetrics.Timer(
          label: "apiary_component_call_duration_seconds", dimensions: dimensions))
      cache[key] = made
      return made
    }
  }

  /// Records one call to `component`'s `method` that took `duration`; `errorCode`
  /// names the failure, nil when it succeeded.
  public static func call(component: String, method: String, duration: Duration, errorCode: String?)
  {
    guard method != "Ping", isEnabled else { return }
    let handles = callHandles(Key(component: component, method: method))
    handles.calls.increment()
    let (seconds, attoseconds) = duration.components
    handles.duration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    if let errorCode {
      Counter(
        label: "apiary_component_call_errors_total",
        dimensions: [("component", component), ("method", method), ("code", errorCode)]
      ).increment()
    }
  }

  /// Records a failed heartbeat of `component`.
  public static func heartbeatFailed(component: String) {
    guard isEnabled else { return }
    Counter(label: "apiary_heartbeat_failures_total", dimensions: [("component", component)])
      .increment()
  }

  /// Sets `apiary_component_state{component,state}`: 1 for `state`, 0 for the others.
  public static func state(of component: String, is state: ComponentState) {
    guard isEnabled else { return }
    // Shown at 0 from the component's first state on.
    Counter(label: "apiary_heartbeat_failures_total", dimensions: [("component", component)])
      .increment(by: 0)
    for candidate in ComponentState.allCases {
      Gauge(
        label: "apiary_component_state",
        dimensions: [("component", component), ("state", candidate.rawValue)]
      )
      .record(candidate == state ? 1 : 0)
    }
  }
}

/// The process's own resources, read from `/proc/self` (Linux).
public enum ProcessResources {
  /// Resident memory in bytes, or nil where `/proc/self/statm` cannot be read.
  public static func residentMemoryBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else {
      return nil
    }
    let fields = text.split(separator: " ")
    guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
  }
}
