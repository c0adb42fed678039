import ComponentKit
import Foundation
import Logging

/// An input binding that emits one event every `intervalMs` milliseconds.
///
/// Each event's data is JSON, `{"tick": N, "message": "...", "time": "..."}`, with N
/// counting from 1 per configured instance (and going on across the sidecar's
/// reconnections, so a gap is visible), content type `application/json`, and metadata
/// `tick: N`. Events go one at a time: the next tick waits for the application's answer
/// to the previous one, so a slow application slows the ticker down instead of piling
/// events up; ticks that fall due meanwhile are skipped, not queued.
actor Ticker: InputBindingComponent {
  private(set) var interval: Duration = .seconds(1)
  private(set) var message = ""
  private(set) var ticks = 0
  private(set) var failures = 0
  private let logger = Logger(label: "ticker")

  func initialise(metadata: [String: String]) async throws {
    if let text = metadata["intervalMs"], !text.isEmpty {
      guard let milliseconds = Int(text), milliseconds > 0, milliseconds <= 86_400_000 else {
        throw ComponentError.invalidArgument(
          "metadata intervalMs: '\(text)' is not a whole number of milliseconds between 1 and 86400000"
        )
      }
      interval = .milliseconds(milliseconds)
    }
    message = metadata["message"] ?? ""
    logger.info(
      "ticker initialised",
      metadata: ["intervalMs": "\(interval.milliseconds)", "message": "\(message)"])
  }

  func read(deliver: InputBindingDelivery) async throws {
    logger.info("the sidecar started reading")
    let clock = ContinuousClock()
    var due = clock.now.advanced(by: interval)
    while true {
      try await clock.sleep(until: due)
      ticks += 1
      let tick = ticks
      let reply = try await deliver(event(tick: tick))
      switch reply {
      case .handled:
        logger.debug("tick delivered", metadata: ["tick": "\(tick)"])
      case .failed(let reason):
        failures += 1
        logger.warning("the application failed tick \(tick): \(reason)")
      }
      // The next multiple of the interval that is still ahead: late ticks are skipped.
      let now = clock.now
      due = due.advanced(by: interval)
      while due <= now { due = due.advanced(by: interval) }
    }
  }

  func event(tick: Int) -> InputBindingEvent {
    let body: [String: Any] = [
      "tick": tick,
      "message": message,
      "time": Date().formatted(.iso8601),
    ]
    let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
    return InputBindingEvent(
      data: data, metadata: ["tick": String(tick)], contentType: "application/json")
  }
}

extension Duration {
  /// Whole milliseconds, for logs.
  var milliseconds: Int64 {
    components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
  }
}
