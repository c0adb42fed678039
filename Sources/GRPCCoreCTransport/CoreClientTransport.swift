internal import CGRPCCore
import GRPCCore
import GRPCNIOTransportCore
import Synchronization

/// A grpc-swift-2 client transport on the gRPC core C library: one `grpc_channel`, calls
/// driven by batches on the process's shared client completion queue.
// @unchecked Sendable: `channel` is set once and core's channel calls are thread-safe;
// the mutable state is behind `state`'s lock.
public final class CoreClientTransport: ClientTransport, @unchecked Sendable {
  public typealias Bytes = GRPCNIOTransportBytes

  public enum Target: Sendable, CustomStringConvertible {
    case unixDomainSocket(path: String)
    case ipv4(host: String, port: Int)
    case ipv6(host: String, port: Int)
    case dns(host: String, port: Int)

    /// The target in core's URI syntax.
    var coreTarget: String {
      switch self {
      case .unixDomainSocket(let path): "unix:\(path)"
      case .ipv4(let host, let port): "ipv4:\(host):\(port)"
      case .ipv6(let host, let port): "ipv6:[\(host)]:\(port)"
      case .dns(let host, let port): "dns:///\(host):\(port)"
      }
    }

    public var description: String {
      switch self {
      case .unixDomainSocket(let path): "unix:\(path)"
      case .ipv4(let host, let port): "ipv4:\(host):\(port)"
      case .ipv6(let host, let port): "ipv6:[\(host)]:\(port)"
      case .dns(let host, let port): "dns:\(host):\(port)"
      }
    }
  }

  public struct Config: Sendable {
    /// The largest response message accepted; larger ones fail `RESOURCE_EXHAUSTED`.
    public var maxReceiveMessageBytes = 4 << 20
    /// The largest header block (initial metadata, trailers) accepted from the server.
    /// Core's default is 8 KiB; a status with details repeats its message, so a long
    /// message from a component would come back as RESOURCE_EXHAUSTED.
    public var maxMetadataBytes = 64 << 10
    /// Reconnect backoff bounds, so a restarted peer is redialled quickly.
    public var reconnectBackoff: (initial: Duration, max: Duration) = (
      .milliseconds(50), .seconds(1)
    )
    /// The service config's method configs and retry throttling, applied by GRPCCore.
    public var serviceConfig = ServiceConfig()
    public init() {}
  }

  let channel: OpaquePointer
  let target: Target
  let config: Config
  public let retryThrottle: RetryThrottle?

  private struct State {
    var closing = false
    var open = 0
    var waiters: [CheckedContinuation<Void, Never>] = []
    var calls: [ObjectIdentifier: CoreClientCall] = [:]
  }

  private let state = Locked(State())

  public init(target: Target, config: Config = Config()) throws(RPCError) {
    CoreRuntime.start()
    if case .unixDomainSocket(let path) = target, path.contains("?") || path.contains("#") {
      throw RPCError(
        code: .invalidArgument,
        message: "socket path '\(path)' contains '?' or '#', which gRPC core cannot dial")
    }
    self.target = target
    self.config = config
    self.retryThrottle = config.serviceConfig.retryThrottling.map { RetryThrottle(policy: $0) }
    let args = cgrpc_channel_args_create()!
    defer { cgrpc_channel_args_free(args) }
    cgrpc_channel_args_add_integer(
      args, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, Int32(clamping: config.maxReceiveMessageBytes))
    cgrpc_channel_args_add_integer(args, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1)
    cgrpc_channel_args_add_integer(
      args, GRPC_ARG_MAX_METADATA_SIZE, Int32(clamping: config.maxMetadataBytes))
    let initial = Int32(
      clamping: GRPCTimeout.nanoseconds(config.reconnectBackoff.initial) / 1_000_000)
    let maximum = Int32(clamping: GRPCTimeout.nanoseconds(config.reconnectBackoff.max) / 1_000_000)
    // Only the backoff between attempts. GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is also core's
    // minimum connect timeout (20 s by default): set as low, a handshake with a busy peer
    // that takes longer than the backoff fails the connection.
    cgrpc_channel_args_add_integer(args, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, initial)
    cgrpc_channel_args_add_integer(args, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, maximum)
    // GRPCCore does its own retries and hedging from the service config.
    cgrpc_channel_args_add_integer(args, GRPC_ARG_ENABLE_RETRIES, 0)
    let credentials = cgrpc_insecure_channel_credentials()
    defer { grpc_channel_credentials_release(credentials) }
    guard
      let channel = grpc_channel_create(
        target.coreTarget, credentials, cgrpc_channel_args_get(args))
    else {
      throw RPCError(
        code: .unavailable, message: "gRPC core could not create a channel to \(target)")
    }
    self.channel = channel
  }

  deinit {
    grpc_channel_destroy(channel)
  }

  /// Lives as long as the client runs, and on the way out cancels the calls still open.
  public func connect() async throws {
    // No eager dial: a peer that is not up yet would put the channel into backoff, and
    // a first call made during it would fail at once. Core dials on the first call.
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let resume = state.withLock { state -> Bool in
          if state.closing && state.open == 0 { return true }
          state.waiters.append(continuation)
          return false
        }
        if resume { continuation.resume() }
      }
    } onCancel: {
      let (waiters, calls) = state.withLock { state in
        state.closing = true
        defer { state.waiters = [] }
        return (state.waiters, Array(state.calls.values))
      }
      for call in calls { call.cancel() }
      for waiter in waiters { waiter.resume() }
    }
  }

  public func beginGracefulShutdown() {
    let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.closing = true
      guard state.open == 0 else { return [] }
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Whether the channel has a working connection (HTTP/2 handshake done) right now.
  public var isConnected: Bool {
    grpc_channel_check_connectivity_state(channel, 0) == GRPC_CHANNEL_READY
  }

  /// Lets the next call redial at once instead of waiting out the reconnect backoff, e.g.
  /// when the peer's socket has just come back.
  public func resetConnectBackoff() {
    grpc_channel_reset_connect_backoff(channel)
  }

  public func withStream<T: Sendable>(
    descriptor: MethodDescriptor,
    options: CallOptions,
    _ closure: (_ stream: RPCStream<Inbound, Outbound>, _ context: ClientContext) async throws -> T
  ) async throws -> T {
    let call = CoreClientCall(transport: self, descriptor: descriptor, options: options)
    try state.withLock { (state) throws(RPCError) in
      guard !state.closing else {
        throw RPCError(code: .failedPrecondition, message: "the client transport is closing")
      }
      state.open += 1
      state.calls[ObjectIdentifier(call)] = call
    }
    defer {
      call.release()
      let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
        state.open -= 1
        state.calls[ObjectIdentifier(call)] = nil
        guard state.closing, state.open == 0 else { return [] }
        defer { state.waiters = [] }
        return state.waiters
      }
      for waiter in waiters { waiter.resume() }
    }
    let stream = RPCStream(
      descriptor: descriptor,
      inbound: RPCAsyncSequence(wrapping: CoreClientInbound(call: call)),
      outbound: RPCWriter.Closable(wrapping: CoreClientOutbound(call: call))
    )
    let peer = target.description
    let local: String
    if case .unixDomainSocket = target { local = peer } else { local = "<unknown>" }
    return try await closure(
      stream, ClientContext(descriptor: descriptor, remotePeer: peer, localPeer: local))
  }

  public func config(forMethod descriptor: MethodDescriptor) -> MethodConfig? {
    let configs = config.serviceConfig.methodConfig
    func find(_ name: MethodConfig.Name) -> MethodConfig? {
      configs.first { $0.names.contains(name) }
    }
    return find(
      MethodConfig.Name(
        service: descriptor.service.fullyQualifiedService, method: descriptor.method))
      ?? find(MethodConfig.Name(service: descriptor.service.fullyQualifiedService, method: ""))
      ?? find(MethodConfig.Name(service: "", method: ""))
  }
}

struct CoreClientInbound: AsyncSequence, Sendable {
  typealias Element = RPCResponsePart<GRPCNIOTransportBytes>
  let call: CoreClientCall

  struct AsyncIterator: AsyncIteratorProtocol {
    let call: CoreClientCall
    mutating func next() async throws -> Element? { try await call.receive() }
  }

  func makeAsyncIterator() -> AsyncIterator { AsyncIterator(call: call) }
}

struct CoreClientOutbound: ClosableRPCWriterProtocol, Sendable {
  typealias Element = RPCRequestPart<GRPCNIOTransportBytes>
  let call: CoreClientCall

  func write(_ element: Element) async throws {
    switch element {
    case .metadata(let metadata): try call.start(metadata: metadata)
    case .message(let bytes): try await call.send(bytes)
    }
  }

  func write(contentsOf elements: some Sequence<Element>) async throws {
    for element in elements { try await write(element) }
  }

  func finish() async { call.closeRequests() }
  func finish(throwing error: any Error) async { call.cancel() }
}

/// One client call. Its `grpc_call` is created by the request metadata, which carries the
/// deadline. The initial-metadata and status receives start at once (core only reports a
/// server's cancellation to a call that asked for its initial metadata). A unary request
/// goes out as one batch with the close; streamed messages one batch each, each awaited.
// @unchecked Sendable: every mutable field, the `grpc_call` included, is in `state` and
// used under its lock; `grpc_call_cancel` (thread-safe in core) is the one exception.
final class CoreClientCall: @unchecked Sendable {
  typealias Part = RPCResponsePart<GRPCNIOTransportBytes>

  private let transport: CoreClientTransport
  private let descriptor: MethodDescriptor
  private let options: CallOptions
  private let inbox = Inbox<Part>()

  private struct State {
    var call: OpaquePointer?
    var pendingBatches = 0
    var released = false
    var cancelled = false
    var stashedMetadata: OutboundMetadata?
    var stashedMessage: ByteBufferPointer?
    var requestsClosed = false
    /// Whether a batch that receives is running (for unary calls, only from the close).
    var receivesStarted = false
    // Receiving.
    var emptyInitialMetadataHeld = false
    var initialDelivered = false
    var messageReceived = false
    var receiving = false
    var messagesEnded = false
    var status: (Status, Metadata)?
    var delivered = false
  }

  private let state = Locked(State())

  /// Messages read ahead of the reader, at most.
  private static let readAhead = 4

  init(transport: CoreClientTransport, descriptor: MethodDescriptor, options: CallOptions) {
    self.transport = transport
    self.descriptor = descriptor
    self.options = options
  }

  private var requestIsStreamed: Bool {
    descriptor.type?.isRequestStreaming ?? true
  }

  private var isUnary: Bool { descriptor.type == .unary }

  // MARK: sending

  func start(metadata: Metadata) throws {
    var remaining = options.timeout
    if let text = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }),
      let parsed = GRPCTimeout.parse(text)
    {
      remaining = parsed
    }
    let outbound = try OutboundMetadata(metadata)
    let deadline =
      remaining.map { cgrpc_deadline_in_nanos(GRPCTimeout.nanoseconds($0)) }
      ?? cgrpc_infinite_future()
    let path = "/\(descriptor.service.fullyQualifiedService)/\(descriptor.method)"
    let queue = CoreRuntime.queueForCall().raw

    try state.withLock { (state) throws(RPCError) in
      guard state.call == nil, !state.cancelled else {
        outbound.release()
        throw RPCError(code: .cancelled, message: "the call was cancelled before it started")
      }
      let method = path.withCString { grpc_slice_from_copied_string($0) }
      defer { grpc_slice_unref(method) }
      guard
        let call = grpc_channel_create_call(
          transport.channel, nil, cgrpc_propagate_defaults(), queue, method, nil, deadline, nil)
      else {
        outbound.release()
        throw RPCError(code: .unavailable, message: "gRPC core could not create a call to \(path)")
      }
      state.call = call
      if isUnary {
        // Everything, both ways, goes in one batch when the request is complete.
        state.stashedMetadata = outbound
        return
      }
      state.receivesStarted = true
      if requestIsStreamed {
        // The server may answer before the first request message, or the first message
        // may wait for an answer: the metadata goes out now.
        let error = startBatch(
          call, [cgrpc_op_send_initial_metadata(outbound.pointer, outbound.count, initialFlags)],
          Completion { [self] _ in
            outbound.release()
            self.batchDone()
          })
        if error == GRPC_CALL_OK {
          state.pendingBatches += 1
        } else {
          outbound.release()
          throw RPCError(
            code: .internalError,
            message: "gRPC core refused the request metadata: \(describe(error))")
        }
      } else {
        state.stashedMetadata = outbound
      }

      try startReceivingMetadataAndStatus(call, &state)
    }
  }

  /// Starts the batches that receive the answer's initial metadata and its status; each
  /// is counted in `state.pendingBatches` while it runs.
  private func startReceivingMetadataAndStatus(
    _ call: OpaquePointer, _ state: inout State
  ) throws(RPCError) {
    let initial = cgrpc_metadata_array_create()!
    let initialError = startBatch(
      call, [cgrpc_op_recv_initial_metadata(initial)],
      Completion { [self] success in
        let metadata = success ? Metadata(core: initial) : nil
        cgrpc_metadata_array_free(initial)
        self.receivedInitialMetadata(metadata)
      })
    if initialError == GRPC_CALL_OK {
      state.pendingBatches += 1
    } else {
      cgrpc_metadata_array_free(initial)
    }

    let status = cgrpc_client_status_create()!
    let statusError = startBatch(
      call, [cgrpc_op_recv_status_on_client(status)],
      Completion { [self] _ in
        let code = Status.Code(core: status.pointee.code)
        let message = String(coreSlice: status.pointee.details)
        let trailers = withUnsafePointer(to: &status.pointee.trailers) { Metadata(core: $0) }
        cgrpc_client_status_free(status)
        self.receivedStatus(Status(code: code, message: message), trailers)
      })
    if statusError == GRPC_CALL_OK {
      state.pendingBatches += 1
    } else {
      cgrpc_client_status_free(status)
      throw RPCError(
        code: .internalError, message: "gRPC core refused the call: \(describe(statusError))")
    }
  }

  func send(_ bytes: GRPCNIOTransportBytes) async throws {
    if let limit = options.maxRequestMessageBytes, bytes.count > limit {
      throw RPCError(
        code: .resourceExhausted,
        message: "request message of \(bytes.count) bytes exceeds the limit of \(limit)")
    }
    let buffer = CoreBytes.byteBuffer(from: bytes)
    guard requestIsStreamed else {
      try state.withLock { (state) throws(RPCError) in
        guard state.stashedMessage == nil else {
          grpc_byte_buffer_destroy(buffer)
          throw RPCError(
            code: .internalError, message: "a second request message on a single-request call")
        }
        state.stashedMessage = buffer
      }
      return
    }
    let sent: Bool = try await withUnsafeThrowingContinuation { continuation in
      do {
        try state.withLock { (state) throws(RPCError) in
          guard let call = state.call, !state.requestsClosed else {
            throw RPCError(code: .internalError, message: "a request message outside the call")
          }
          let metadata = state.stashedMetadata
          state.stashedMetadata = nil
          try startMessageBatch(call, metadata: metadata, flags: self.initialFlags, message: buffer)
          { [self] success in
            self.batchDone()
            continuation.resume(returning: success)
          }
          state.pendingBatches += 1
        }
      } catch {
        continuation.resume(throwing: error)
      }
    }
    if !sent {
      throw RPCError(code: .unavailable, message: "the stream closed before the message was sent")
    }
  }

  private var initialFlags: UInt32 {
    options.waitForReady == true ? cgrpc_wait_for_ready_flag() : 0
  }

  /// The end of the requests: whatever is stashed and the close, in one batch, not awaited.
  func closeRequests() {
    if isUnary {
      closeUnary()
      return
    }
    state.withLock { state in
      guard let call = state.call, !state.requestsClosed else { return }
      state.requestsClosed = true
      var ops: [grpc_op] = []
      let metadata = state.stashedMetadata
      let message = state.stashedMessage
      state.stashedMetadata = nil
      state.stashedMessage = nil
      if let metadata {
        ops.append(cgrpc_op_send_initial_metadata(metadata.pointer, metadata.count, initialFlags))
      }
      if let message { ops.append(cgrpc_op_send_message(message, 0)) }
      ops.append(cgrpc_op_send_close_from_client())
      let error = startBatch(
        call, ops,
        Completion { [self] _ in
          metadata?.release()
          if let message { grpc_byte_buffer_destroy(message) }
          self.batchDone()
        })
      if error == GRPC_CALL_OK {
        state.pendingBatches += 1
      } else {
        metadata?.release()
        if let message { grpc_byte_buffer_destroy(message) }
        grpc_call_cancel(call, nil)
      }
    }
  }

  /// A unary call's only batch: the request with its metadata and close, and the receipt
  /// of the response's metadata, message and status. One completion, one wake-up of the
  /// reader, instead of one per part.
  private func closeUnary() {
    let failure = state.withLock { state -> RPCError? in
      guard let call = state.call, !state.requestsClosed else { return nil }
      state.requestsClosed = true
      let metadata = state.stashedMetadata ?? .empty
      let message = state.stashedMessage
      state.stashedMetadata = nil
      state.stashedMessage = nil
      let initial = cgrpc_metadata_array_create()!
      let slot = UnsafeMutablePointer<ByteBufferPointer?>.allocate(capacity: 1)
      slot.initialize(to: nil)
      let status = cgrpc_client_status_create()!
      var ops: [grpc_op] = [
        cgrpc_op_send_initial_metadata(metadata.pointer, metadata.count, initialFlags)
      ]
      if let message { ops.append(cgrpc_op_send_message(message, 0)) }
      ops += [
        cgrpc_op_send_close_from_client(), cgrpc_op_recv_initial_metadata(initial),
        cgrpc_op_recv_message(slot),
        cgrpc_op_recv_status_on_client(status),
      ]
      let free = {
        metadata.release()
        if let message { grpc_byte_buffer_destroy(message) }
        cgrpc_metadata_array_free(initial)
        if let received = slot.pointee { grpc_byte_buffer_destroy(received) }
        slot.deallocate()
        cgrpc_client_status_free(status)
      }
      let error = startBatch(
        call, ops,
        Completion { [self] _ in
          let headers = Metadata(core: initial)
          let response = slot.pointee.map { buffer in
            slot.pointee = nil
            return CoreBytes.take(buffer)
          }
          let code = Status.Code(core: status.pointee.code)
          let text = String(coreSlice: status.pointee.details)
          let trailers = withUnsafePointer(to: &status.pointee.trailers) { Metadata(core: $0) }
          free()
          self.receivedUnary(headers, response, Status(code: code, message: text), trailers)
        })
      guard error == GRPC_CALL_OK else {
        free()
        grpc_call_cancel(call, nil)
        return RPCError(
          code: .internalError, message: "gRPC core refused the call: \(describe(error))")
      }
      state.receivesStarted = true
      state.pendingBatches += 1
      return nil
    }
    if let failure { inbox.fail(failure) }
  }

  private func receivedUnary(
    _ headers: Metadata, _ message: GRPCNIOTransportBytes?, _ status: Status, _ trailers: Metadata
  ) {
    state.withLock { state in
      state.status = (status, trailers)
      state.messagesEnded = true
      state.delivered = true
      state.initialDelivered = true
    }
    // Trailers-only (no headers, no message, an error) reaches GRPCCore as the status
    // alone, which is what lets it retry.
    if !(headers.isEmpty && message == nil && status.code != .ok) {
      inbox.push(.metadata(headers))
      if let message { inbox.push(.message(message)) }
    }
    inbox.push(.status(status, trailers))
    inbox.end()
    batchDone()
  }

  /// Cancels the call; core then completes every batch, and the status is CANCELLED.
  func cancel() {
    let failInbox = state.withLock { state -> Bool in
      state.cancelled = true
      if let call = state.call {
        grpc_call_cancel(call, nil)
        // Nothing is receiving yet (a unary call before its close): no status will come.
        return !state.receivesStarted
      }
      return true
    }
    if failInbox { inbox.fail(RPCError(code: .cancelled, message: "the call was cancelled")) }
  }

  /// `withStream` is over: cancel what is still running, and free the call once core has
  /// finished every batch.
  func release() {
    let unref = state.withLock { state -> OpaquePointer? in
      state.released = true
      if let call = state.call, state.status == nil { grpc_call_cancel(call, nil) }
      if let metadata = state.stashedMetadata {
        metadata.release()
        state.stashedMetadata = nil
      }
      if let message = state.stashedMessage {
        grpc_byte_buffer_destroy(message)
        state.stashedMessage = nil
      }
      guard state.pendingBatches == 0, let call = state.call else { return nil }
      state.call = nil
      return call
    }
    if let unref { grpc_call_unref(unref) }
  }

  private func batchDone() {
    let unref = state.withLock { state -> OpaquePointer? in
      state.pendingBatches -= 1
      guard state.released, state.pendingBatches == 0, let call = state.call else { return nil }
      state.call = nil
      return call
    }
    if let unref { grpc_call_unref(unref) }
  }

  // MARK: receiving (on the poller thread)

  private func receivedInitialMetadata(_ metadata: Metadata?) {
    let deliver = state.withLock { state -> Metadata? in
      guard let metadata else {
        state.messagesEnded = true
        return nil
      }
      if metadata.isEmpty {
        // Held back: a trailers-only response (no headers, an error status) must reach
        // GRPCCore as the status alone, which is what lets it retry.
        state.emptyInitialMetadataHeld = true
        return nil
      }
      state.initialDelivered = true
      return metadata
    }
    if let deliver { inbox.push(.metadata(deliver)) }
    requestNextMessage()
    batchDone()
    finishIfComplete()
  }

  private func requestNextMessage() {
    state.withLock { state in
      guard !state.receiving, !state.messagesEnded, let call = state.call,
        inbox.buffered < Self.readAhead
      else { return }
      let slot = UnsafeMutablePointer<ByteBufferPointer?>.allocate(capacity: 1)
      slot.initialize(to: nil)
      let error = startBatch(
        call, [cgrpc_op_recv_message(slot)],
        Completion { [self] success in
          let buffer = slot.pointee
          slot.deallocate()
          self.receivedMessage(success ? buffer : nil, discard: success ? nil : buffer)
        })
      if error == GRPC_CALL_OK {
        state.receiving = true
        state.pendingBatches += 1
      } else {
        slot.deallocate()
        state.messagesEnded = true
      }
    }
  }

  private func receivedMessage(_ buffer: ByteBufferPointer?, discard: ByteBufferPointer?) {
    if let discard { grpc_byte_buffer_destroy(discard) }
    guard let buffer else {
      state.withLock { state in
        state.receiving = false
        state.messagesEnded = true
      }
      batchDone()
      finishIfComplete()
      return
    }
    let bytes = CoreBytes.take(buffer)
    let leadWithMetadata = state.withLock { state -> Bool in
      state.receiving = false
      state.messageReceived = true
      guard !state.initialDelivered else { return false }
      state.initialDelivered = true
      state.emptyInitialMetadataHeld = false
      return true
    }
    if leadWithMetadata { inbox.push(.metadata([:])) }
    inbox.push(.message(bytes))
    requestNextMessage()
    batchDone()
  }

  private func receivedStatus(_ status: Status, _ trailers: Metadata) {
    state.withLock { $0.status = (status, trailers) }
    batchDone()
    finishIfComplete()
  }

  /// Delivers the status once every message is in: alone for a trailers-only response,
  /// else after the (possibly held back, empty) initial metadata.
  private func finishIfComplete() {
    enum Delivery {
      case none
      case status(Status, Metadata, leadingMetadata: Bool)
    }
    let delivery = state.withLock { state -> Delivery in
      guard !state.delivered, state.messagesEnded, let (status, trailers) = state.status else {
        return .none
      }
      state.delivered = true
      let trailersOnly = !state.initialDelivered && !state.messageReceived && status.code != .ok
      let lead = !state.initialDelivered && !trailersOnly
      state.initialDelivered = true
      return .status(status, trailers, leadingMetadata: lead)
    }
    guard case .status(let status, let trailers, let lead) = delivery else { return }
    if lead { inbox.push(.metadata([:])) }
    inbox.push(.status(status, trailers))
    inbox.end()
  }

  // MARK: the reader

  func receive() async throws -> Part? {
    let part = try await inbox.take { [self] in self.cancel() }
    if case .message = part { requestNextMessage() }
    return part
  }
}
