import CoreMetrics
import GRPCCore
import Synchronization

/// The API's own metrics, through swift-metrics (Prometheus for `/metrics`):
///
/// - `apiary_grpc_server_requests_total{method,status}` and
///   `apiary_grpc_server_request_duration_seconds{method,status}` (histogram): every
///   gRPC API call by its full method (`/dapr.proto.runtime.v1.Dapr/GetState`) and
///   status code name (`OK`, `NOT_FOUND`, …).
/// - `apiary_http_server_requests_total{method,route,status}` and
///   `apiary_http_server_request_duration_seconds{method,route,status}`: every HTTP API
///   request by verb, route **pattern** (`/v1.0/state/{store}/{key}`, never the path)
///   and status code.
/// - `dapr_error_code_total{app_id,category,error_code}` (with `recordErrorCodes`):
///   every error answered, by daprd's error code and its category.
///
/// Every label value comes from a fixed set (the served methods, the routes, the
/// status codes, apiary's error codes); none carries request data. The one value a
/// component chooses (the error code of its own rich error) is capped: past
/// ``maximumComponentErrorCodes`` distinct codes, further ones count as `OTHER`.
public final class APIMetrics: Sendable {
  private struct GRPCKey: Hashable {
    let method: String
    let status: Int
  }

  private struct HTTPKey: Hashable {
    let method: String
    let route: String
    let status: Int
  }

  private struct Handles: Sendable {
    let count: Counter
    let duration: CoreMetrics.Timer
  }

  /// The most distinct error codes taken from components' own errors.
  public static let maximumComponentErrorCodes = 64

  private let factory: any MetricsFactory
  private let appID: String
  /// Whether `dapr_error_code_total` is recorded (`spec.metrics.recordErrorCodes`).
  public let recordErrorCodes: Bool
  private let grpc = Mutex<[GRPCKey: Handles]>([:])
  private let http = Mutex<[HTTPKey: Handles]>([:])
  private let errors = Mutex<[String: Counter]>([:])
  private let componentCodes = Mutex<Set<String>>([])

  /// - Parameter factory: Where the metrics go; the process's bootstrapped one by default.
  public init(
    factory: any MetricsFactory = MetricsSystem.factory, appID: String, recordErrorCodes: Bool
  ) {
    self.factory = factory
    self.appID = appID
    self.recordErrorCodes = recordErrorCodes
  }

  /// One gRPC call of `method` (its full path) that ended with `status` after `duration`.
  public func grpcCall(method: String, status: RPCError.Code?, duration: Duration) {
    let code = status?.rawValue ?? 0
    let handles = grpc.withLock { cache in
      let key = GRPCKey(method: method, status: code)
      if let found = cache[key] { return found }
      let dimensions = [("method", method), ("status", Self.statusName(code))]
      let made = Handles(
        count: Counter(
          label: "apiary_grpc_server_requests_total", dimensions: dimensions, factory: factory),
        duration: CoreMetrics.Timer(
          label: "apiary_grpc_server_request_duration_seconds", dimensions: dimensions,
          factory: factory))
      cache[key] = made
      return made
    }
    handles.count.increment()
    handles.duration.recordNanoseconds(Self.nanoseconds(duration))
  }

  /// One HTTP request of verb `method` to route pattern `route`, answered `status`.
  public func httpRequest(method: String, route: String, status: Int, duration: Duration) {
    let handles = http.withLock { cache in
      let key = HTTPKey(method: method, route: route, status: status)
      if let found = cache[key] { return found }
      let dimensions = [("method", method), ("route", route), ("status", String(status))]
      let made = Handles(
        count: Counter(
          label: "apiary_http_server_requests_total", dimensions: dimensions, factory: factory),
        duration: CoreMetrics.Timer(
          label: "apiary_http_server_request_duration_seconds", dimensions: dimensions,
          factory: factory))
      cache[key] = made
      return made
    }
    handles.count.increment()
    handles.duration.recordNanoseconds(Self.nanoseconds(duration))
  }

  /// One error answered with daprd's error code `code` (the HTTP `errorCode`); `reason`
  /// (the ErrorInfo reason) settles the category of codes daprd uses in two places.
  public func error(code: String, reason: String?) {
    guard recordErrorCodes, !code.isEmpty else { return }
    var (category, known) = ErrorCodeCategory.of(code: code, reason: reason)
    var label = code
    if !known {
      let admitted = componentCodes.withLock { codes -> Bool in
        if codes.contains(code) { return true }
        guard codes.count < Self.maximumComponentErrorCodes else { return false }
        codes.insert(code)
        return true
      }
      if !admitted {
        label = "OTHER"
        category = ErrorCodeCategory.pluggable
      }
    }
    let counter = errors.withLock { cache in
      let key = "\(category)\u{0}\(label)"
      if let found = cache[key] { return found }
      let made = Counter(
        label: "dapr_error_code_total",
        dimensions: [("app_id", appID), ("category", category), ("error_code", label)],
        factory: factory)
      cache[key] = made
      return made
    }
    counter.increment()
  }

  /// The canonical name of gRPC status code `code` (`OK`, `NOT_FOUND`, …).
  public static func statusName(_ code: Int) -> String {
    let names = [
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]
    return names.indices.contains(code) ? names[code] : "UNKNOWN"
  }

  static func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
  }
}
