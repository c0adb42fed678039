import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import Logging
import SwiftProtobuf
import Synchronization

/// One `SubscribeTopicEventsAlpha1` call (spec §6.1): the application's first message
/// (`initial_request`) names the pub/sub, topic, metadata and dead-letter topic; the
/// sidecar answers `initial_response`, then streams every event; each event's
/// `event_processed` answer is its verdict. Events go through the same
/// ``SubscriptionPipeline`` as every other subscription (dead letters, the inbound
/// resiliency policy), on route `/`.
///
/// Events still unanswered when the call ends are handed back to the broker, never
/// dead-lettered.
struct StreamingSubscription {
  typealias Request = Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestAlpha1
  typealias Response = Dapr_Proto_Runtime_V1_SubscribeTopicEventsResponseAlpha1

  let api: AppAPI
  let logger: Logger
  /// Events delivered at once on one stream.
  static let window = 64

  func run(
    requests: RPCAsyncSequence<Request, any Error>, responses: RPCWriter<Response>
  ) async throws {
    var iterator = requests.makeAsyncIterator()
    let initial = try Self.initialRequest(try await iterator.next())
    let stream = try await subscribe(initial)
    var first_ = Response()
    first_.initialResponse = Dapr_Proto_Runtime_V1_SubscribeTopicEventsResponseInitialAlpha1()
    try await responses.write(first_)

    let subscription = AppSubscription(
      pubsubName: initial.pubsubName, topic: initial.topic, routes: .always("/"),
      metadata: initial.metadata,
      deadLetterTopic: initial.deadLetterTopic)
    let handle = await api.subscriptions.add(
      SubscriptionTable.Entry(
        pubsubName: subscription.pubsubName, topic: subscription.topic, routes: subscription.routes,
        metadata: subscription.metadata, deadLetterTopic: subscription.deadLetterTopic,
        kind: .streaming))
    logger.info(
      "streaming subscription opened",
      metadata: ["component": "\(initial.pubsubName)", "topic": "\(initial.topic)"])
    let channel = StreamChannel(responses: responses)
    let pipeline = SubscriptionPipeline(
      api: api, subscription: subscription, channel: channel, reachability: nil, logger: logger)
    defer {
      Task { [api] in await api.subscriptions.remove(handle) }
      logger.info(
        "streaming subscription closed",
        metadata: ["component": "\(initial.pubsubName)", "topic": "\(initial.topic)"])
    }
    let reader = IteratorBox(iterator)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        // The application's answers; the call ends when it closes its side.
        while let message = try await reader.iterator.next() {
          switch message.subscribeTopicEventsRequestType {
          case .initialRequest:
            throw RPCError(code: .unknown, message: "duplicate initial request received")
          case .eventProcessed(let processed):
            channel.answer(processed.id, status: processed.status.status)
          case nil:
            break
          }
        }
      }
      group.addTask {
        try await channel.writeLoop()
      }
      group.addTask {
        try await withThrowingDiscardingTaskGroup { deliveries in
          for try await message in stream {
            if channel.inFlight >= Self.window { await channel.waitForRoom() }
            deliveries.addTask { await pipeline.handle(message) }
          }
        }
        throw RPCError(
          code: .unavailable,
          message: "pubsub \(initial.pubsubName) ended the subscription to topic \(initial.topic)")
      }
      defer {
        group.cancelAll()
        channel.finish()
      }
      // Whichever side ends first ends the call.
      try await group.next()
    }
  }

  /// The call's first message, which must be a complete initial request (daprd's
  /// errors for it are plain, so UNKNOWN).
  private static func initialRequest(
    _ first: Request?
  ) throws -> Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestInitialAlpha1 {
    guard let first, case .initialRequest(let initial)? = first.subscribeTopicEventsRequestType
    else {
      throw RPCError(code: .unknown, message: "initial request is required")
    }
    guard !initial.pubsubName.isEmpty else {
      throw RPCError(code: .unknown, message: "pubsubName is required")
    }
    guard !initial.topic.isEmpty else {
      throw RPCError(code: .unknown, message: "topic is required")
    }
    return initial
  }

  /// The component's message stream for the initial request's topic.
  private func subscribe(
    _ initial: Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestInitialAlpha1
  ) async throws -> AsyncThrowingStream<DeliveredMessage, any Error> {
    let (pubsub, _) = try await api.directory.pubSub(initial.pubsubName)
    do {
      return try await pubsub.subscribe(topic: initial.topic, metadata: initial.metadata)
    } catch {
      throw DaprError.componentTransport(error, component: initial.pubsubName)
        ?? DaprError(
          .failed, "ERR_PUBSUB_SUBSCRIBE",
          "cannot subscribe to topic \(initial.topic) of pubsub \(initial.pubsubName): \(DaprError.text(of: error))"
        )
    }
  }
}

/// The streaming call as an ``AppChannel``: an event is written to the stream, and
/// its verdict is the application's `event_processed` answer for its id.
final class StreamChannel: AppChannel {
  private typealias Response = Dapr_Proto_Runtime_V1_SubscribeTopicEventsResponseAlpha1

  private struct State {
    var waiting: [String: CheckedContinuation<AppVerdict, Never>] = [:]
    var rooms: [CheckedContinuation<Void, Never>] = []
    var closed = false
  }

  private let state = Mutex(State())
  private let outgoing: AsyncStream<Response>
  private let outgoingSink: AsyncStream<Response>.Continuation
  private let responses: RPCWriter<Dapr_Proto_Runtime_V1_SubscribeTopicEventsResponseAlpha1>

  init(responses: RPCWriter<Dapr_Proto_Runtime_V1_SubscribeTopicEventsResponseAlpha1>) {
    self.responses = responses
    (outgoing, outgoingSink) = AsyncStream.makeStream()
  }

  /// Events waiting for their answer.
  var inFlight: Int { state.withLock { $0.waiting.count } }

  /// Writes the events, one at a time (a writer takes one write at once).
  func writeLoop() async throws {
    for await response in outgoing { try await responses.write(response) }
  }

  /// Returns once fewer than the window's events wait for an answer.
  func waitForRoom() async {
    await withCheckedContinuation { continuation in
      let now = state.withLock { state -> Bool in
        if state.closed || state.waiting.count < StreamingSubscription.window { return true }
        state.rooms.append(continuation)
        return false
      }
      if now { continuation.resume() }
    }
  }

  func deliver(
    event: CloudEvent, topic: String, route: String, metadata: [String: String]
  ) async -> AppVerdict {
    await withCheckedContinuation { (continuation: CheckedContinuation<AppVerdict, Never>) in
      let id = state.withLock { state -> String? in
        guard !state.closed else { return nil }
        // The application answers by the CloudEvent id; the same event delivered
        // twice at once gets a distinct one.
        var id = event.id.isEmpty ? UUID().uuidString.lowercased() : event.id
        while state.waiting[id] != nil { id = "\(event.id)#\(UUID().uuidString.prefix(8))" }
        state.waiting[id] = continuation
        return id
      }
      guard let id else {
        continuation.resume(returning: .abandoned("the streaming subscription ended"))
        return
      }
      var response = Response()
      response.eventMessage = Dapr_Proto_Runtime_V1_TopicEventRequest(
        event: event, id: id, path: "", topic: topic)
      outgoingSink.yield(response)
    }
  }

  /// The application's answer for event `id`.
  func answer(
    _ id: String, status: Dapr_Proto_Runtime_V1_TopicEventResponse.TopicEventResponseStatus
  ) {
    let (continuation, room) = state.withLock {
      state -> (CheckedContinuation<AppVerdict, Never>?, CheckedContinuation<Void, Never>?) in
      let continuation = state.waiting.removeValue(forKey: id)
      let room = state.rooms.isEmpty ? nil : state.rooms.removeFirst()
      return (continuation, room)
    }
    continuation?.resume(returning: GRPCAppChannel.verdict(status, eventID: id))
    room?.resume()
  }

  /// Ends the stream: every event still waiting is handed back.
  func finish() {
    let (waiting, rooms) = state.withLock { state in
      state.closed = true
      defer {
        state.waiting = [:]
        state.rooms = []
      }
      return (Array(state.waiting.values), state.rooms)
    }
    outgoingSink.finish()
    for continuation in waiting {
      continuation.resume(
        returning: .abandoned("the streaming subscription ended before the application answered"))
    }
    for room in rooms { room.resume() }
  }

  func close() async { finish() }
  func programmaticSubscriptions() async throws -> [AppSubscription] { [] }
  func inputBindings(configured: [String]) async throws -> [String] { [] }

  func deliver(
    bulk events: [BulkEvent], route: String, subscription: AppSubscription
  ) async -> [String: AppVerdict] {
    var verdicts: [String: AppVerdict] = [:]
    for entry in events {
      verdicts[entry.entryID] = await deliver(
        event: entry.event, topic: subscription.topic, route: route, metadata: entry.metadata)
    }
    return verdicts
  }

  func deliver(bindingEvent: BindingEvent, binding: String) async -> AppVerdict {
    .discard("a streaming subscription takes no binding events")
  }
}

extension Dapr_Proto_Runtime_V1_TopicEventRequest {
  /// The gRPC form of a delivered event; `id` is what the application's answer
  /// names, `topic` the subscription's (a dead-letter subscriber gets its own topic,
  /// and the event's original topic among the extensions, as daprd sends it).
  init(event: CloudEvent, id: String, path: String, topic: String) {
    self.init()
    self.id = id
    source = event.source
    type = event.type
    specVersion = event.specVersion
    dataContentType = event.dataContentType
    self.topic = topic
    pubsubName = event.pubsubName
    data = event.data
    self.path = path
    // The envelope's own `topic` (the original one for a dead letter) is among them.
    if let text = String(data: event.extensionsJSON, encoding: .utf8),
      let parsed = try? Google_Protobuf_Struct(jsonString: text)
    {
      self.extensions = parsed
    }
  }
}

/// The call's request iterator, handed to the task that reads the answers.
// @unchecked Sendable: after the initial request is read, only that one task uses it.
private final class IteratorBox: @unchecked Sendable {
  var iterator:
    RPCAsyncSequence<Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestAlpha1, any Error>
      .AsyncIterator
  init(
    _ iterator: RPCAsyncSequence<Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestAlpha1, any Error>
      .AsyncIterator
  ) {
    self.iterator = iterator
  }
}
