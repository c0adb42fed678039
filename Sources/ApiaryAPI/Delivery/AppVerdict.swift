import ApiaryRuntime

/// How the application answered one delivered event (spec §6.3).
public enum AppVerdict: Sendable, Equatable {
  /// Processed: acknowledge it.
  case success
  /// Failed: try again (the inbound policy's retries, then the dead-letter topic or
  /// the broker's redelivery).
  case retry(AppFailure)
  /// The app could not be reached (nothing listens, or the connection failed): a
  /// retry, which ``AppReachability`` also reports once per outage.
  case unreachable(String)
  /// Failed for good (`DROP`, HTTP 404, no route, expired): dead-lettered when the
  /// subscription has a dead-letter topic, and acknowledged.
  case drop(String)
  /// Not for this app (a gRPC app without the method): acknowledged, never
  /// dead-lettered, as daprd does.
  case discard(String)
  /// The subscriber went away before answering (a streaming call ended, the sidecar
  /// is stopping): handed back to the broker, never dead-lettered.
  case abandoned(String)

  /// Whether another attempt may help.
  var isRetry: Bool {
    switch self {
    case .retry, .unreachable: true
    default: false
    }
  }

  /// The reason, for logs and nacks.
  var reason: String {
    switch self {
    case .success: "success"
    case .retry(let failure): failure.description
    case .unreachable(let reason), .drop(let reason), .discard(let reason), .abandoned(let reason):
      reason
    }
  }
}

/// An attempt the app answered with a retry: the words, and the status it carries
/// for the retry policy's `matching` codes.
public struct AppFailure: Error, Sendable, Equatable, CustomStringConvertible, ResiliencyClassified
{
  public var description: String
  public var resiliencyHTTPStatus: Int?
  public var resiliencyGRPCCode: Int?
  public var isPermanent: Bool { false }

  public init(_ description: String, httpStatus: Int? = nil, grpcCode: Int? = nil) {
    self.description = description
    self.resiliencyHTTPStatus = httpStatus
    self.resiliencyGRPCCode = grpcCode
  }
}
