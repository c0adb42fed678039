internal import CGRPCCore
import GRPCCore
import GRPCNIOTransportCore
import Logging
import Synchronization

/// A grpc-swift-2 server transport on the gRPC core C library: a `grpc_server` with its own
/// completion queue and poller; each accepted call runs the stream handler in a task the
/// poller starts directly (one wake-up per call, not two).
///
/// `listen` returns once core has reported the shutdown done and every handler returned;
/// cancelling it cancels every call and every handler task.
// @unchecked Sendable: the mutable state (the server, its queue, tasks) is in `state`, used
// under its lock; core's server calls used outside it are thread-safe.
public final class CoreServerTransport: ServerTransport, @unchecked Sendable {
  public typealias Bytes = GRPCNIOTransportBytes

  public enum Address: Sendable, Hashable, CustomStringConvertible {
    case unixDomainSocket(path: String)
    case ipv4(host: String, port: Int)
    case ipv6(host: String, port: Int)

    var coreAddress: String {
      switch self {
      case .unixDomainSocket(let path): "unix:\(path)"
      case .ipv4(let host, let port): "\(host):\(port)"
      case .ipv6(let host, let port): "[\(host)]:\(port)"
      }
    }

    public var description: String {
      switch self {
      case .unixDomainSocket(let path): "unix:\(path)"
      case .ipv4(let host, let port): "ipv4:\(host):\(port)"
      case .ipv6(let host, let port): "ipv6:[\(host)]:\(port)"
      }
    }

    func with(port: Int) -> Address {
      switch self {
      case .unixDomainSocket: self
      case .ipv4(let host, _): .ipv4(host: host, port: port)
      case .ipv6(let host, _): .ipv6(host: host, port: port)
      }
    }
  }

  public struct Config: Sendable {
    /// The largest request message accepted; larger ones fail `RESOURCE_EXHAUSTED`.
    public var maxRequestMessageBytes = 4 << 20
    /// HTTP/2 streams per connection, when limited.
    public var maxConcurrentStreams: Int?
    /// Accepts kept posted with core, so bursts of new calls do not wait for each other.
    public var outstandingAccepts = 8
    /// The most TCP connections open at once; more are closed as they arrive
    /// (``ConnectionGate``). Nil: no limit. Unix sockets are never limited.
    public var maxConnections: Int?
    /// How long a connection may have no call before the server closes it (GOAWAY);
    /// nil: never.
    public var maxIdleTime: Duration?
    /// Where the transport logs what it refuses.
    public var logger = Logger(label: "apiary.grpc-core")
    public init() {}
  }

  private let address: Address
  private let config: Config

  private struct State {
    var methods: [String: MethodDescriptor] = [:]
    var server: OpaquePointer?
    var queue: CompletionQueue?
    var bound: Result<Address, any Error>?
    var boundWaiters: [CheckedContinuation<Address, any Error>] = []
    var shutdownRequested = false
    var shutdownStarted = false
    var cancelRequested = false
    var handler: (@Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void)?
    var live: [ObjectIdentifier: CoreServerCall] = [:]
    var tasks: [Int: Task<Void, Never>] = [:]
    var nextTask = 0
    var shutdownDone = false
    var stopped: CheckedContinuation<Void, Never>?
    var gate: ConnectionGate?
  }

  private let state = Locked(State())

  public init(address: Address, config: Config = Config()) {
    self.address = address
    self.config = config
  }

  /// The address bound, once `listen` has bound it (with the real port for port 0).
  public var listeningAddress: Address {
    get async throws {
      try await withCheckedThrowingContinuation { continuation in
        let bound = state.withLock { state -> Result<Address, any Error>? in
          if let bound = state.bound { return bound }
          state.boundWaiters.append(continuation)
          return nil
        }
        if let bound { continuation.resume(with: bound) }
      }
    }
  }

  public func configure(context: GRPCServerContext) {
    var methods: [String: MethodDescriptor] = [:]
    for method in context.methods {
      methods["/\(method.service.fullyQualifiedService)/\(method.method)"] = method
    }
    state.withLock { $0.methods = methods }
  }

  private func setBound(_ result: Result<Address, any Error>) {
    let waiters = state.withLock { state in
      state.bound = result
      defer { state.boundWaiters = [] }
      return state.boundWaiters
    }
    for waiter in waiters { waiter.resume(with: result) }
  }

  public func listen(
    streamHandler:
      @escaping @Sendable (
        _ stream: RPCStream<Inbound, Outbound>, _ context: ServerContext
      ) async -> Void
  ) async throws {
    // The process's queues: a handler runs on the poller of the queue its call came on,
    // and the client calls it makes complete on that same poller.
    let queues = CoreRuntime.queues
    let args = makeChannelArgs()
    // A limited TCP port is listened on by the gate, which hands connections to core.
    let gate: ConnectionGate?
    do {
      gate = try makeGate()
    } catch {
      cgrpc_channel_args_free(args)
      setBound(.failure(error))
      throw error
    }
    guard let server = grpc_server_create(cgrpc_channel_args_get(args), nil) else {
      cgrpc_channel_args_free(args)
      gate?.stop()
      throw RPCError(code: .internalError, message: "gRPC core could not create a server")
    }
    cgrpc_channel_args_free(args)
    for queue in queues { grpc_server_register_completion_queue(server, queue.raw, nil) }
    CoreRuntime.lastError.withLock { $0 = nil }
    let credentials = cgrpc_insecure_server_credentials()!
    let port: Int32
    if let gate {
      port = Int32(gate.port)
    } else {
      port = grpc_server_add_http2_port(server, address.coreAddress, credentials)
    }
    guard port != 0 else {
      grpc_server_credentials_release(credentials)
      grpc_server_destroy(server)
      let reason = CoreRuntime.lastError.withLock { $0 } ?? "see the gRPC core log"
      let error = RPCError(code: .unavailable, message: "could not listen on \(address): \(reason)")
      setBound(.failure(error))
      throw error
    }
    grpc_server_start(server)

    let cancelEarly = state.withLock { state -> Bool in
      state.server = server
      state.queue = queues[0]
      state.handler = streamHandler
      state.gate = gate
      return state.cancelRequested || state.shutdownRequested
    }
    if let gate { handConnections(from: gate, credentials: credentials) }
    setBound(.success(address.with(port: Int(port))))
    for queue in queues {
      for _ in 0..<max(1, config.outstandingAccepts) { postAccept(server: server, queue: queue) }
    }
    if cancelEarly { beginGracefulShutdown() }

    await waitUntilStopped()
    // Taken out of the state first, so the gate can no longer hand it a connection.
    state.withLock { state in
      state.server = nil
      state.queue = nil
      state.gate = nil
    }
    gate?.stop()
    grpc_server_destroy(server)
    grpc_server_credentials_release(credentials)
  }

  /// Hands each connection the gate accepts to core, until shutdown begins.
  private func handConnections(from gate: ConnectionGate, credentials: OpaquePointer) {
    let credentialsHandle = UncheckedPointer(credentials)
    gate.start { [self] fd in
      self.state.withLock { state in
        // Once shutdown began core takes no new connections; nor after destroy.
        guard let server = state.server, !state.shutdownStarted else {
          close(fd)
          return
        }
        grpc_server_add_channel_from_fd(server, fd, credentialsHandle.pointer)
      }
    }
  }

  /// Core's channel arguments from ``config``; the caller frees them.
  private func makeChannelArgs() -> UnsafeMutablePointer<cgrpc_channel_args> {
    let args = cgrpc_channel_args_create()!
    // A port in use must fail loudly, not be shared.
    cgrpc_channel_args_add_integer(args, GRPC_ARG_ALLOW_REUSEPORT, 0)
    cgrpc_channel_args_add_integer(
      args, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, Int32(clamping: config.maxRequestMessageBytes))
    cgrpc_channel_args_add_integer(args, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1)
    if let streams = config.maxConcurrentStreams {
      cgrpc_channel_args_add_integer(
        args, GRPC_ARG_MAX_CONCURRENT_STREAMS, Int32(clamping: streams))
    }
    if let idle = config.maxIdleTime {
      cgrpc_channel_args_add_integer(
        args, GRPC_ARG_MAX_CONNECTION_IDLE_MS,
        Int32(clamping: GRPCTimeout.nanoseconds(idle) / 1_000_000))
    }
    return args
  }

  /// The gate that bounds a TCP port's connections (``Config/maxConnections``); nil
  /// without a limit or on a Unix socket.
  private func makeGate() throws -> ConnectionGate? {
    guard let limit = config.maxConnections else { return nil }
    switch address {
    case .ipv4(let host, let port):
      return try ConnectionGate(
        host: host, port: port, ipv6: false, limit: limit, logger: config.logger)
    case .ipv6(let host, let port):
      return try ConnectionGate(
        host: host, port: port, ipv6: true, limit: limit, logger: config.logger)
    case .unixDomainSocket:
      return nil
    }
  }

  /// Returns once the server has shut down and its calls' tasks have ended;
  /// cancelling the task shuts it down and cancels the calls.
  private func waitUntilStopped() async {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let done = state.withLock { state -> Bool in
          if state.shutdownDone && state.tasks.isEmpty { return true }
          state.stopped = continuation
          return false
        }
        if done { continuation.resume() }
      }
    } onCancel: {
      self.shutdown(cancellingCalls: true)
    }
  }

  public func beginGracefulShutdown() {
    shutdown(cancellingCalls: false)
  }

  /// Stops accepting (core sends GOAWAY and removes a Unix socket file); the accept stream
  /// ends when core reports every call done. `cancellingCalls` ends the running calls too.
  private func shutdown(cancellingCalls: Bool) {
    let (action, live) = state.withLock {
      state -> ((server: UncheckedPointer, queue: CompletionQueue, first: Bool)?, [CoreServerCall])
      in
      if cancellingCalls { state.cancelRequested = true } else { state.shutdownRequested = true }
      let live = Array(state.live.values)
      state.gate?.stop()
      guard let server = state.server, let queue = state.queue else { return (nil, live) }
      let first = !state.shutdownStarted
      state.shutdownStarted = true
      return ((UncheckedPointer(server), queue, first), live)
    }
    // As the NIO transport does: handlers learn through their RPC cancellation handle that
    // the server is stopping; those that ignore it still finish.
    for call in live { call.signalStopping() }
    if cancellingCalls {
      for task in state.withLock({ Array($0.tasks.values) }) { task.cancel() }
    }
    guard let action else { return }
    if action.first {
      let done = Completion { [self] _ in
        self.finishedOne(task: nil, shutdown: true)
      }
      grpc_server_shutdown_and_notify(
        action.server.pointer, action.queue.raw, CompletionQueue.tag(done))
    }
    if cancellingCalls { grpc_server_cancel_all_calls(action.server.pointer) }
  }

  private func postAccept(server: OpaquePointer, queue: CompletionQueue) {
    let slot = cgrpc_accepted_call_create()!
    let pointers = (server: UncheckedPointer(server), queue: queue)
    let completion = Completion { [self] success in
      if success, let call = slot.pointee.call {
        let accepted = AcceptedCall(
          call: UncheckedPointer(call),
          path: String(coreSlice: slot.pointee.details.method),
          metadata: withUnsafePointer(to: &slot.pointee.metadata) { Metadata(core: $0) }
        )
        cgrpc_accepted_call_free(slot)
        self.start(accepted, on: pointers.queue)
        let open = self.state.withLock { !$0.shutdownStarted }
        if open { self.postAccept(server: pointers.server.pointer, queue: pointers.queue) }
      } else {
        cgrpc_accepted_call_free(slot)
      }
    }
    let tag = CompletionQueue.tag(completion)
    let error = cgrpc_server_request_call(server, slot, queue.raw, tag)
    if error != GRPC_CALL_OK {
      CompletionQueue.dropTag(tag)
      cgrpc_accepted_call_free(slot)
    }
  }

  /// Runs the handler for a call in a task of its own, started from the poller.
  private func start(_ accepted: AcceptedCall, on queue: CompletionQueue) {
    state.withLock { state in
      guard let handler = state.handler else {
        grpc_call_cancel(accepted.call.pointer, nil)
        grpc_call_unref(accepted.call.pointer)
        return
      }
      let id = state.nextTask
      state.nextTask += 1
      // Registered under the lock before it can finish, so it is always removed after.
      // It runs on the poller thread (see CompletionQueue), as do the tasks it starts.
      state.tasks[id] = Task(executorPreference: queue) {
        await CoreTaskExecutor.$current.withValue(queue) { await self.serve(accepted, handler) }
        self.finishedOne(task: id, shutdown: false)
      }
    }
  }

  /// A handler task ended, or core reported the shutdown done; `listen` returns after both.
  private func finishedOne(task id: Int?, shutdown: Bool) {
    let stopped = state.withLock { state -> CheckedContinuation<Void, Never>? in
      if let id { state.tasks[id] = nil }
      if shutdown { state.shutdownDone = true }
      guard state.shutdownDone, state.tasks.isEmpty else { return nil }
      defer { state.stopped = nil }
      return state.stopped
    }
    stopped?.resume()
  }

  private func serve(
    _ accepted: AcceptedCall,
    _ handler: @Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void
  ) async {
    let descriptor =
      state.withLock { $0.methods[accepted.path] } ?? Self.descriptor(forPath: accepted.path)
    let call = CoreServerCall(call: accepted.call.pointer, descriptor: descriptor)
    let stopping = state.withLock { state in
      state.live[ObjectIdentifier(call)] = call
      return state.shutdownStarted
    }
    if stopping { call.signalStopping() }
    defer { _ = state.withLock { $0.live.removeValue(forKey: ObjectIdentifier(call)) } }
    let peer = call.peer
    await withServerContextRPCCancellationHandle { handle in
      call.onCancel(handle)
      let context = ServerContext(
        descriptor: descriptor, remotePeer: peer, localPeer: address.description,
        cancellation: handle)
      let stream = RPCStream(
        descriptor: descriptor,
        inbound: RPCAsyncSequence(
          wrapping: CoreServerInbound(call: call, metadata: accepted.metadata)),
        outbound: RPCWriter.Closable(wrapping: CoreServerOutbound(call: call))
      )
      await handler(stream, context)
    }
    call.handlerReturned()
  }

  static func descriptor(forPath path: String) -> MethodDescriptor {
    let trimmed = path.hasPrefix("/") ? path.dropFirst() : Substring(path)
    guard let slash = trimmed.lastIndex(of: "/") else {
      return MethodDescriptor(fullyQualifiedService: String(trimmed), method: "")
    }
    return MethodDescriptor(
      fullyQualifiedService: String(trimmed[..<slash]),
      method: String(trimmed[trimmed.index(after: slash)...]))
  }
}

struct AcceptedCall: Sendable {
  let call: UncheckedPointer
  let path: String
  let metadata: Metadata
}

struct CoreServerInbound: AsyncSequence, Sendable {
  typealias Element = RPCRequestPart<GRPCNIOTransportBytes>
  let call: CoreServerCall
  let metadata: Metadata

  struct AsyncIterator: AsyncIteratorProtocol {
    let call: CoreServerCall
    var metadata: Metadata?
    mutating func next() async throws -> Element? {
      if let metadata {
        self.metadata = nil
        return .metadata(metadata)
      }
      return try await call.receive().map { .message($0) }
    }
  }

  func makeAsyncIterator() -> AsyncIterator { AsyncIterator(call: call, metadata: metadata) }
}

struct CoreServerOutbound: ClosableRPCWriterProtocol, Sendable {
  typealias Element = RPCResponsePart<GRPCNIOTransportBytes>
  let call: CoreServerCall

  func write(_ element: Element) async throws {
    switch element {
    case .metadata(let metadata): try call.stash(metadata: metadata)
    case .message(let bytes): try await call.send(bytes)
    case .status(let status, let trailers): try call.sendStatus(status, trailers)
    }
  }

  func write(contentsOf elements: some Sequence<Element>) async throws {
    for element in elements { try await write(element) }
  }

  func finish() async {}
  func finish(throwing error: any Error) async { call.cancel() }
}

/// One accepted call. The close (which says whether the client cancelled) and one message
/// are requested at once, so the handler's first read has often already arrived. A unary
/// response goes out as one batch with the status; streamed messages one batch each.
// @unchecked Sendable: `call` is set once (core's call functions are thread-safe for
// batches started under `state`'s lock); everything mutable is in `state`.
final class CoreServerCall: @unchecked Sendable {
  private let call: OpaquePointer
  private let descriptor: MethodDescriptor
  private let inbox = Inbox<GRPCNIOTransportBytes>()

  private struct State {
    var pendingBatches = 0
    var released = false
    var cancelled = false
    var stopping = false
    var handle: ServerContext.RPCCancellationHandle?
    var stashedMetadata: OutboundMetadata?
    var metadataSent = false
    var stashedMessage: ByteBufferPointer?
    var statusSent = false
    var receiving = false
    var messagesEnded = false

    /// The initial metadata to send with the next batch (empty if none was written),
    /// or nil once it has gone out.
    mutating func takeInitialMetadata() -> OutboundMetadata? {
      guard !metadataSent else { return nil }
      metadataSent = true
      defer { stashedMetadata = nil }
      return stashedMetadata ?? .empty
    }
  }

  private let state = Locked(State())
  private static let readAhead = 4

  init(call: OpaquePointer, descriptor: MethodDescriptor) {
    self.call = call
    self.descriptor = descriptor
    let cancelled = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    cancelled.initialize(to: 0)
    state.withLock { state in
      let error = startBatch(
        call, [cgrpc_op_recv_close_on_server(cancelled)],
        Completion { [self] success in
          let wasCancelled = !success || cancelled.pointee != 0
          cancelled.deallocate()
          self.closed(cancelled: wasCancelled)
        })
      if error == GRPC_CALL_OK { state.pendingBatches += 1 } else { cancelled.deallocate() }
    }
    requestNextMessage()
  }

  var peer: String {
    guard let raw = grpc_call_get_peer(call) else { return "<unknown>" }
    defer { gpr_free(raw) }
    return String(cString: raw)
  }

  private var responseIsStreamed: Bool { descriptor.type?.isResponseStreaming ?? true }

  func onCancel(_ handle: ServerContext.RPCCancellationHandle) {
    let cancelNow = state.withLock { state -> Bool in
      state.handle = handle
      return state.cancelled || state.stopping
    }
    if cancelNow { handle.cancel() }
  }

  /// The server is stopping: the handler's RPC cancellation handle fires, the call goes on.
  func signalStopping() {
    let handle = state.withLock { state -> ServerContext.RPCCancellationHandle? in
      state.stopping = true
      return state.handle
    }
    handle?.cancel()
  }

  private func closed(cancelled: Bool) {
    let handle = state.withLock { state -> ServerContext.RPCCancellationHandle? in
      guard cancelled else { return nil }
      state.cancelled = true
      return state.handle
    }
    if cancelled {
      handle?.cancel()
      inbox.fail(
        RPCError(code: .cancelled, message: "the client cancelled the call, or its deadline passed")
      )
    }
    batchDone()
  }

  // MARK: receiving

  private func requestNextMessage() {
    state.withLock { state in
      guard !state.receiving, !state.messagesEnded, !state.cancelled,
        inbox.buffered < Self.readAhead
      else { return }
      let slot = UnsafeMutablePointer<ByteBufferPointer?>.allocate(capacity: 1)
      slot.initialize(to: nil)
      let error = startBatch(
        call, [cgrpc_op_recv_message(slot)],
        Completion { [self] success in
          let buffer = slot.pointee
          slot.deallocate()
          self.received(buffer, success: success)
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

  private func received(_ buffer: ByteBufferPointer?, success: Bool) {
    if success, let buffer {
      let bytes = CoreBytes.take(buffer)
      state.withLock { $0.receiving = false }
      inbox.push(bytes)
      requestNextMessage()
    } else {
      if let buffer { grpc_byte_buffer_destroy(buffer) }
      state.withLock { state in
        state.receiving = false
        state.messagesEnded = true
      }
      if success {
        inbox.end()
      } else {
        inbox.fail(RPCError(code: .cancelled, message: "the call ended before its requests did"))
      }
    }
    batchDone()
  }

  func receive() async throws -> GRPCNIOTransportBytes? {
    let bytes = try await inbox.take { [self] in self.cancel() }
    if bytes != nil { requestNextMessage() }
    return bytes
  }

  // MARK: sending

  /// A single response waits to go out with its metadata and status in one batch; a
  /// stream's metadata goes out at once, since the client may wait for it.
  func stash(metadata: Metadata) throws {
    let outbound = try OutboundMetadata(metadata)
    state.withLock { state in
      guard !state.metadataSent else {
        outbound.release()
        return
      }
      guard responseIsStreamed else {
        state.stashedMetadata?.release()
        state.stashedMetadata = outbound
        return
      }
      state.metadataSent = true
      let error = startBatch(
        call, [cgrpc_op_send_initial_metadata(outbound.pointer, outbound.count, 0)],
        Completion { [self] _ in
          outbound.release()
          self.batchDone()
        })
      if error == GRPC_CALL_OK { state.pendingBatches += 1 } else { outbound.release() }
    }
  }

  func send(_ bytes: GRPCNIOTransportBytes) async throws {
    let buffer = CoreBytes.byteBuffer(from: bytes)
    guard responseIsStreamed else {
      try state.withLock { (state) throws(RPCError) in
        guard state.stashedMessage == nil else {
          grpc_byte_buffer_destroy(buffer)
          throw RPCError(
            code: .internalError, message: "a second response message on a single-response call")
        }
        state.stashedMessage = buffer
      }
      return
    }
    let sent: Bool = try await withUnsafeThrowingContinuation { continuation in
      do {
        try state.withLock { (state) throws(RPCError) in
          guard !state.statusSent else {
            grpc_byte_buffer_destroy(buffer)
            throw RPCError(code: .internalError, message: "a response message after the status")
          }
          try startMessageBatch(
            call, metadata: state.takeInitialMetadata(), flags: 0, message: buffer
          ) { [self] success in
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
      throw RPCError(code: .cancelled, message: "the call ended before the message was sent")
    }
  }

  /// Whatever is stashed and the status, in one batch: for a unary call the whole
  /// response. Without metadata or a message it goes out as a trailers-only response.
  func sendStatus(_ status: Status, _ trailers: Metadata) throws {
    let outboundTrailers = try OutboundMetadata(trailers)
    let details = UnsafeMutablePointer<grpc_slice>.allocate(capacity: 1)
    details.initialize(to: status.message.withCString { grpc_slice_from_copied_string($0) })
    state.withLock { state in
      guard !state.statusSent else {
        outboundTrailers.release()
        grpc_slice_unref(details.pointee)
        details.deallocate()
        return
      }
      state.statusSent = true
      var ops: [grpc_op] = []
      let metadata = state.takeInitialMetadata()
      if let metadata {
        ops.append(cgrpc_op_send_initial_metadata(metadata.pointer, metadata.count, 0))
      }
      let message = state.stashedMessage
      state.stashedMessage = nil
      if let message { ops.append(cgrpc_op_send_message(message, 0)) }
      ops.append(
        cgrpc_op_send_status_from_server(
          grpc_status_code(status.code), status.message.isEmpty ? nil : details,
          outboundTrailers.pointer, outboundTrailers.count))
      let cleanup = {
        metadata?.release()
        if let message { grpc_byte_buffer_destroy(message) }
        outboundTrailers.release()
        grpc_slice_unref(details.pointee)
        details.deallocate()
      }
      let error = startBatch(
        call, ops,
        Completion { [self] _ in
          cleanup()
          self.batchDone()
        })
      if error == GRPC_CALL_OK {
        state.pendingBatches += 1
      } else {
        cleanup()
        grpc_call_cancel(call, nil)
      }
    }
  }

  func cancel() {
    grpc_call_cancel(call, nil)
  }

  /// The handler is done. A handler that never wrote a status gets INTERNAL; the call is
  /// freed once core has finished its batches.
  func handlerReturned() {
    let statusMissing = state.withLock { !$0.statusSent }
    if statusMissing {
      try? sendStatus(
        Status(code: .internalError, message: "the handler ended without a status"), [:])
    }
    let unref = state.withLock { state -> Bool in
      state.released = true
      state.stashedMetadata?.release()
      state.stashedMetadata = nil
      if let message = state.stashedMessage {
        grpc_byte_buffer_destroy(message)
        state.stashedMessage = nil
      }
      return state.pendingBatches == 0
    }
    if unref { grpc_call_unref(call) }
  }

  private func batchDone() {
    let unref = state.withLock { state -> Bool in
      state.pendingBatches -= 1
      return state.released && state.pendingBatches == 0
    }
    if unref { grpc_call_unref(call) }
  }
}
