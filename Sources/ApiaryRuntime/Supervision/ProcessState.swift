/// Where a supervised process is in its life.
public enum ProcessState: String, Sendable, Equatable {
  /// Launched, its socket not there yet.
  case starting
  case running
  /// Exited; waiting out its backoff before it is started again.
  case backoff
  /// Exited and, by its restart policy, not started again.
  case exited
  /// Stopped by the supervisor (shutdown).
  case stopped
}
