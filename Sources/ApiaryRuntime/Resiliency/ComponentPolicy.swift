import Foundation
import Logging

/// Which way a call goes: apiary calling a component (`outbound`), or a component's
/// event delivered to the app (`inbound`).
public enum ResiliencyDirection: String, Sendable, Hashable {
  case outbound
  case inbound
}

/// What a failed attempt says about retrying it: the status it carries (an HTTP code
/// from the app, a gRPC code from a component or the app), or that it is permanent
/// (an etag error, a refused breaker). Errors that do not conform are retried.
public protocol ResiliencyClassified: Error {
  /// The HTTP status the failure carries, if any.
  var resiliencyHTTPStatus: Int? { get }
  /// The gRPC status code the failure carries, if any.
  var resiliencyGRPCCode: Int? { get }
  /// Whether no retry can help.
  var isPermanent: Bool { get }
}

/// An attempt that did not finish within the policy's timeout.
public struct PolicyTimeout: Error, Sendable, CustomStringConvertible {
  public var description: String { "context deadline exceeded" }
}

/// The resolved policy of one component in one direction: a timeout per attempt, a
/// retry policy and a circuit breaker, each optional (spec §5).
public struct ComponentPolicy: Sendable {
  public var timeout: Duration?
  public var retry: ResiliencyDefinition.Retry?
  public var breaker: CircuitBreaker?
  /// daprd's name of the operation in its retry log lines: `component[orders] output`.
  let operation: String
  let logger: Logger

  /// Runs `body` under the policy: each attempt within the timeout and through the
  /// breaker; failed attempts retried as the retry policy says. daprd's warning
  /// `Error processing operation … Retrying in …` is logged once, at the first
  /// failure, and `Recovered processing operation … after N attempts` on a later
  /// success.
  ///
  /// - Throws: the last attempt's error, or the breaker's refusal.
  public func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    var attempt = 0
    var waited = Duration.zero
    while true {
      try Task.checkCancellation()
      try breaker?.admit()
      do {
        let result: T
        if let timeout {
          result = try await withPolicyTimeout(timeout, body)
        } else {
          result = try await body()
        }
        breaker?.record(success: true)
        if attempt > 0 {
          logger.info("Recovered processing operation \(operation) after \(attempt + 1) attempts")
        }
        return result
      } catch {
        breaker?.record(success: false)
        guard let retry, shouldRetry(error, attempt: attempt, retry: retry) else { throw error }
        let delay = Self.delay(after: attempt, retry: retry)
        // daprd's exponential policy gives up after 15 minutes in all.
        if retry.exponential, waited + delay > .seconds(900) { throw error }
        if attempt == 0 {
          logger.warning(
            "Error processing operation \(operation). Retrying in \(goDurationString(delay))…")
        }
        try await Task.sleep(for: delay)
        waited += delay
        attempt += 1
      }
    }
  }

  /// Whether the failed attempt number `attempt` (0 is the first try) may be retried.
  func shouldRetry(_ error: any Error, attempt: Int, retry: ResiliencyDefinition.Retry) -> Bool {
    guard retry.maxRetries < 0 || attempt < retry.maxRetries else { return false }
    if error is CircuitBreaker.Refusal || error is CancellationError { return false }
    guard let classified = error as? any ResiliencyClassified else { return true }
    if classified.isPermanent { return false }
    if let status = classified.resiliencyHTTPStatus, !retry.httpStatusCodes.isEmpty {
      return retry.httpStatusCodes.contains { $0.contains(status) }
    }
    if let code = classified.resiliencyGRPCCode, !retry.grpcStatusCodes.isEmpty {
      return retry.grpcStatusCodes.contains { $0.contains(code) }
    }
    return true
  }

  /// The wait before retry number `attempt + 1`: the constant interval, or daprd's
  /// exponential backoff (500 ms first, ×1.5, ±50 % jitter, capped at `maxInterval`).
  static func delay(after attempt: Int, retry: ResiliencyDefinition.Retry) -> Duration {
    guard retry.exponential else { return retry.duration }
    let base = 0.5 * pow(1.5, Double(attempt))
    let jittered = base * Double.random(in: 0.5...1.5)
    let capped = min(
      jittered,
      Double(retry.maxInterval.components.seconds) + Double(
        retry.maxInterval.components.attoseconds) / 1e18)
    return .milliseconds(Int64(capped * 1000))
  }
}

/// Runs `body`, cancelling it after `timeout`.
///
/// - Throws: ``PolicyTimeout`` when it did not finish in time.
func withPolicyTimeout<T: Sendable>(
  _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
  do {
    return try await withDeadline(timeout, body)
  } catch is DeadlineExceeded {
    throw PolicyTimeout()
  }
}

extension ComponentCallError: ResiliencyClassified {
  public var resiliencyHTTPStatus: Int? { nil }
  public var resiliencyGRPCCode: Int? { status.map { $0.code.rawValue } }
  public var isPermanent: Bool { false }
}

extension StateStoreError: ResiliencyClassified {
  public var resiliencyHTTPStatus: Int? { nil }
  public var resiliencyGRPCCode: Int? { nil }
  /// Etag errors are never retried (daprd's rule); neither is what the store lacks.
  public var isPermanent: Bool { true }
}
