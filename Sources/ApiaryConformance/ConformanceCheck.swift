import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCCoreCTransport
import GRPCProtobuf

/// What a check found wrong: the check fails with this text.
struct CheckFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Why a check cannot run against this component (it is then skipped).
struct CheckSkip: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// One named contract check of a building block.
struct Check: Sendable {
  /// The stable name (`etag-mismatch-set`).
  let name: String
  /// The feature the component must declare for the check to apply; nil: always.
  let feature: String?
  /// Runs the check; returns what was verified, in words, or throws ``CheckFailure``
  /// or ``CheckSkip``.
  let run: @Sendable (CheckContext) async throws -> String

  init(
    _ name: String, requires feature: String? = nil,
    _ run: @escaping @Sendable (CheckContext) async throws -> String
  ) {
    self.name = name
    self.feature = feature
    self.run = run
  }
}

/// What every check of one run shares: the connection, the instance, the limits.
struct CheckContext: Sendable {
  let channel: ComponentChannel
  /// The instance the run initialised, sent as `x-component-instance`.
  let instance: String
  /// A short id unique to the run, in every key and topic it makes.
  let runID: String
  /// The longest any one wait may take.
  let timeout: Duration
  /// The features the component declared.
  let features: Set<String>
  let options: ConformanceOptions

  var client: GRPCClient<SelectedClientTransport> { channel.client }

  /// Request metadata naming the instance.
  var metadata: Metadata {
    var metadata = Metadata()
    metadata.addString(instance, forKey: "x-component-instance")
    return metadata
  }

  /// Unary call options: the run's timeout as the deadline.
  var callOptions: CallOptions {
    var options = CallOptions.defaults
    options.timeout = timeout
    return options
  }

  /// Stream options: no deadline (the checks bound their own waits).
  var streamOptions: CallOptions { .defaults }

  /// A key as the sidecar would send it (`<app>||<key>`), unique to the run.
  func key(_ name: String) -> String { "apiary-conformance||\(runID)-\(name)" }

  /// A topic unique to the run.
  func topic(_ name: String) -> String { "apiary-conformance-\(runID)-\(name)" }
}

/// Runs `body`, turning an `RPCError` into a failure that names the call.
func expectOK<T>(_ call: String, _ body: () async throws -> T) async throws -> T {
  do {
    return try await body()
  } catch let error as RPCError {
    throw CheckFailure("\(call) failed: \(error.code): \(error.message)")
  }
}

/// Runs `body`, which must fail with a gRPC status; returns it. A success fails the
/// check with `whyItMustFail`.
func expectStatus(
  _ call: String, _ whyItMustFail: String, _ body: () async throws -> Void
) async throws -> RPCError {
  do {
    try await body()
  } catch let error as RPCError {
    return error
  }
  throw CheckFailure("\(call) succeeded, but \(whyItMustFail)")
}

/// Whether `error` carries the contract's etag detail: a `google.rpc.BadRequest` with a
/// field violation on `etag`.
func hasEtagViolation(_ error: RPCError) -> Bool {
  guard let status = try? error.unpackGoogleRPCStatus() else { return false }
  return status.details.contains {
    $0.badRequest?.violations.contains { $0.field == "etag" } ?? false
  }
}

/// Polls `body` until it returns a value or the deadline passes (nil then). Waits
/// 20 ms, doubling to 200 ms, between tries.
func poll<T>(
  until deadline: ContinuousClock.Instant, _ body: () async throws -> T?
) async throws -> T? {
  var pause = Duration.milliseconds(20)
  while true {
    if let value = try await body() { return value }
    guard ContinuousClock.now < deadline else { return nil }
    try await Task.sleep(for: min(pause, ContinuousClock.now.duration(to: deadline)))
    pause = min(pause * 2, .milliseconds(200))
  }
}

/// A byte count as people read it.
func describeSize(_ count: Int) -> String {
  count >= 1 << 20
    ? "\(count >> 20) MiB" : count >= 1 << 10 ? "\(count >> 10) KiB" : "\(count) bytes"
}

extension CheckContext {
  /// `Init` with the run's metadata, then `Features` when `features` is given:
  /// how every building block's suite starts. Answers the declared features.
  func initialise(
    _ name: String = "Init",
    _ initialise: (Metadata, CallOptions) async throws -> Void,
    features: ((Metadata, CallOptions) async throws -> [String])? = nil
  ) async throws -> Set<String> {
    try await expectOK(name) { try await initialise(metadata, callOptions) }
    guard let features else { return [] }
    return Set(try await expectOK("Features") { try await features(metadata, callOptions) })
  }
}
