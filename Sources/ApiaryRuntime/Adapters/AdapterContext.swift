import ApiaryContracts
import GRPCCore
import GRPCCoreCTransport
import GRPCProtobuf
import SwiftProtobuf
import Tracing

/// What every gRPC adapter of one configured component shares: the socket's channel,
/// the instance name sent as `x-component-instance`, and the deadline of its calls.
public struct AdapterContext: Sendable {
  /// The channel to the component's socket, shared by every instance on it.
  public let channel: ComponentChannel
  /// The configured component name.
  public let instance: String
  /// The deadline of each unary call.
  public let callTimeout: Duration
  /// The building block the component serves, naming its call spans' gRPC service.
  public let block: BuildingBlock?
  /// The component's type (`state.memstore`), a call span attribute.
  public let type: String?

  public init(
    channel: ComponentChannel, instance: String, callTimeout: Duration = .seconds(30),
    block: BuildingBlock? = nil,
    type: String? = nil
  ) {
    self.channel = channel
    self.instance = instance
    self.callTimeout = callTimeout
    self.block = block
    self.type = type
  }

  /// Request metadata carrying the instance name, and the trace context of the work
  /// the call belongs to (``TraceContext/current``: the call's own span when tracing
  /// is on, else the app's context, passed on) as `traceparent` and `tracestate`.
  public var metadata: Metadata {
    var metadata = Metadata()
    metadata.addString(instance, forKey: "x-component-instance")
    if let trace = TraceContext.current {
      metadata.addString(trace.traceparent, forKey: "traceparent")
      if !trace.tracestate.isEmpty { metadata.addString(trace.tracestate, forKey: "tracestate") }
    }
    return metadata
  }

  /// The gRPC service a call of `method` goes to, for the call's span.
  func service(of method: String) -> String {
    let package = "dapr.proto.components.v1."
    switch (block, method) {
    case (.state?, "Transact"): return package + "TransactionalStateStore"
    case (.state?, "Query"): return package + "QueriableStateStore"
    case (.state?, "MultiMaxSize"): return package + "TransactionalStoreMultiMaxSize"
    case (.state?, _): return package + "StateStore"
    case (.pubsub?, _): return package + "PubSub"
    case (.bindings?, "Read"): return package + "InputBinding"
    case (.bindings?, _): return package + "OutputBinding"
    case (.secretstores?, _): return package + "SecretStore"
    case (.hello?, _): return "spec.proto.pluggable.v1.hello.Hello"
    case (nil, _): return "component"
    }
  }

  /// A client span for the call of `method`, under the span of the work it belongs
  /// to; nil when there is none (tracing off, or a call of the sidecar's own such as
  /// Init or a heartbeat).
  func startSpan(_ method: String) -> SidecarSpan? {
    guard let parent = SidecarSpan.current else { return nil }
    let service = service(of: method)
    let span = parent.child("\(service)/\(method)", kind: .client)
    if span.isSampled {
      span.setAttributes([
        ("rpc.system", "grpc"), ("rpc.service", service), ("rpc.method", method),
        ("dapr.component", instance),
        ("dapr.component.type", type ?? ""), ("network.transport", "unix"),
        ("server.address", channel.socketPath),
      ])
    }
    return span
  }

  /// Options for a unary call: fail fast while the component is down, and a gRPC
  /// deadline only when `timeout` is given (Init, Features, Ping: rare calls). The
  /// deadline of the other calls, ``callTimeout``, is enforced by ``call(_:timeout:_:)``
  /// with one shared timer (``DeadlineSweeper``), which is much cheaper per call.
  public func options(timeout: Duration? = nil) -> CallOptions {
    var options = CallOptions.defaults
    options.timeout = timeout
    options.waitForReady = false
    return options
  }

  /// What starting every building block's adapter does: `Init` (by `initCall`), then
  /// `Features` (by `features`), each within `timeout`; the component's features.
  public func initialise(
    timeout: Duration,
    _ initCall:
      @escaping @Sendable (_ metadata: Metadata, _ options: CallOptions) async throws -> Void,
    features:
      @escaping @Sendable (_ metadata: Metadata, _ options: CallOptions) async throws -> [String]
  ) async throws -> [String] {
    let options = self.options(timeout: timeout)
    try await call("Init", timeout: timeout) { try await initCall(self.metadata, options) }
    return try await call("Features", timeout: timeout) {
      try await features(self.metadata, options)
    }
  }

  /// The heartbeat: `Ping` (by `pingCall`) within `timeout`.
  public func ping(
    timeout: Duration,
    _ pingCall:
      @escaping @Sendable (_ metadata: Metadata, _ options: CallOptions) async throws -> Void
  ) async throws {
    let options = self.options(timeout: timeout)
    try await call("Ping", timeout: timeout) { try await pingCall(self.metadata, options) }
  }

  /// Options for a long-lived stream: no deadline.
  public var streamOptions: CallOptions {
    var options = CallOptions.defaults
    options.waitForReady = false
    return options
  }

  /// Runs a call within `timeout` (``callTimeout`` when nil) and translates what it
  /// throws: etag statuses into ``StateStoreError``, everything else into
  /// ``ComponentCallError`` naming the component. Each call is counted in
  /// ``ComponentMetrics`` under `method` alone.
  ///
  /// - Parameters:
  ///   - method: The contract's method name (`Get`, `Invoke`, …): a metric label, so
  ///     it must never carry request data.
  ///   - subject: What the call is about (a secret's name, a binding operation), for
  ///     error messages only: `Get(db-password)`.
  public func call<T: Sendable>(
    _ method: String, subject: String? = nil, timeout: Duration? = nil,
    _ body: @escaping @Sendable () async throws -> T
  ) async throws -> T {
    guard method != "Ping", let span = startSpan(method) else {
      return try await measured(method, subject: subject, timeout: timeout, body)
    }
    defer { span.end() }
    do {
      return try await span.run {
        try await measured(method, subject: subject, timeout: timeout, body)
      }
    } catch {
      span.setError("\(error)")
      throw error
    }
  }

  /// The call, timed and counted in ``ComponentMetrics``, its error translated.
  private func measured<T: Sendable>(
    _ method: String, subject: String?, timeout: Duration?,
    _ body: @escaping @Sendable () async throws -> T
  ) async throws -> T {
    guard ComponentMetrics.isEnabled else {
      do {
        return try await DeadlineSweeper.shared.run(within: timeout ?? callTimeout, body)
      } catch let error as RPCError {
        throw translate(error, what: subject.map { "\(method)(\($0))" } ?? method)
      }
    }
    let clock = ContinuousClock()
    let start = clock.now
    do {
      let result = try await DeadlineSweeper.shared.run(within: timeout ?? callTimeout, body)
      ComponentMetrics.call(
        component: instance, method: method, duration: clock.now - start, errorCode: nil)
      return result
    } catch let error as RPCError {
      ComponentMetrics.call(
        component: instance, method: method, duration: clock.now - start, errorCode: "\(error.code)"
      )
      throw translate(error, what: subject.map { "\(method)(\($0))" } ?? method)
    } catch {
      ComponentMetrics.call(
        component: instance, method: method, duration: clock.now - start, errorCode: "unknown")
      throw error
    }
  }

  /// The building-block error a component's status stands for.
  public func translate(_ error: RPCError, what: String) -> any Error {
    if error.code == .failedPrecondition || error.code == .invalidArgument,
      let status = try? error.unpackGoogleRPCStatus(),
      status.details.contains(where: {
        $0.badRequest?.violations.contains { $0.field == "etag" } ?? false
      })
    {
      return error.code == .failedPrecondition
        ? StateStoreError.etagMismatch(error.message) : StateStoreError.etagInvalid(error.message)
    }
    let prefix = "component '\(instance)' (\(channel.socketPath)) \(what)"
    let answered = ComponentCallError.Status(
      code: error.code, message: error.message, details: try? error.unpackGoogleRPCStatus())
    if error.code == .invalidArgument, error.cause is BinaryDecodingError {
      // Raised here, decoding the answer: the component broke the contract, the
      // request was fine.
      return ComponentCallError(
        .failed, "\(prefix): the component's answer is not a valid message: \(error.message)")
    }
    if error.code == .resourceExhausted {
      Self.returnFreedMemory()
    }
    // Unavailable and deadline statuses usually come from the transport, not from the
    // component; they are still kept, as daprd would show them.
    switch error.code {
    case .unavailable:
      return ComponentCallError(
        .unavailable, "\(prefix): unavailable: \(error.message)", status: answered)
    case .deadlineExceeded:
      return ComponentCallError(
        .deadlineExceeded, "\(prefix): no answer before the call's deadline", status: answered)
    case .invalidArgument:
      return ComponentCallError(.invalidArgument, "\(prefix): \(error.message)", status: answered)
    case .unimplemented:
      return ComponentCallError(
        .unimplemented, "\(prefix): not implemented by the component", status: answered)
    case .notFound:
      return ComponentCallError(.notFound, "\(prefix): \(error.message)", status: answered)
    default:
      return ComponentCallError(
        .failed, "\(prefix) failed (\(error.code)): \(error.message)", status: answered)
    }
  }

  /// An answer over the size limit: gRPC core (1.51) reads a message whole before it
  /// applies the limit, in thousands of small buffers that glibc keeps after they are
  /// freed; hand them back, so one oversized answer does not raise the resident size
  /// for good. Rare, and milliseconds.
  private static func returnFreedMemory() {
    ProcessMemory.returnFreed()
  }
}
