import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import Logging
import SwiftProtobuf

/// One `SubscribeTopicEventsAlpha1` call: the application's first message names the
/// pub/sub and topic; the sidecar answers with an initial response, then streams
/// every event; each event's SUCCESS / RETRY / DROP answer acknowledges it to the
/// component (success, error so it is redelivered, success after logging).
///
/// Events still unanswered when the call ends are sent back to the component so
/// that they are delivered again.
struct StreamingSubscription {
  typealias Request = Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestAlpha1
  typealias Response = Dapr_Proto_Runtime_V1_SubscribeTopicEventsResponseAlpha1

  let api: AppAPI
  let logger: Logger

  func run(requests: RPCAsyncSequence<Request, any Error>, responses: RPCWriter<Response>) async throws {
    let (initials, initialContinuation) = AsyncStream.makeStream(of: Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestInitialAlpha1.self)
    let pending = PendingAcknowledgements(logger: logger)
    defer { initialContinuation.finish() }
    do {
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          // The application's messages: the initial request, then one answer per event.
          var subscribed = false
          for try await message in requests {
            switch message.subscribeTopicEventsRequestType {
            case .initialRequest(let initial):
              guard !subscribed else {
                throw RPCError(code: .invalidArgument, message: "initial_request was sent twice on one subscription")
              }
              subscribed = true
              initialContinuation.yield(initial)
              initialContinuation.finish()
            case .eventProcessed(let processed):
              guard subscribed else {
                throw RPCError(code: .invalidArgument, message: "the first message must be an initial_request")
              }
              let verdict: AppVerdict =
                switch processed.status.status {
                case .success: .success
                case .retry: .retry("the application answered RETRY")
                case .drop: .drop("the application answered DROP")
                case .UNRECOGNIZED(let value): .retry("the application answered an unknown status \(value)")
                }
              if await !pending.settle(processed.id, verdict) {
                logger.debug("answer for unknown event \(processed.id) ignored")
              }
            case nil:
              break
            }
          }
          initialContinuation.finish()
        }
        group.addTask {
          var iterator = initials.makeAsyncIterator()
          guard let initial = await iterator.next() else { return }
          try await deliver(initial, pending: pending, responses: responses)
        }
        // Whichever side ends first ends the call.
        try await group.next()
        group.cancelAll()
      }
    } catch {
      await pending.releaseAll(reason: "the streaming subscription ended before the application answered")
      throw error
    }
    await pending.releaseAll(reason: "the streaming subscription ended before the application answered")
  }

  private func deliver(
    _ initial: Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestInitialAlpha1,
    pending: PendingAcknowledgements, responses: RPCWriter<Response>
  ) async throws {
    let pubsubName = initial.pubsubName
    let topic = initial.topic
    let stream: AsyncThrowingStream<DeliveredMessage, any Error>
    do {
      let pubsub = try await api.directory.pubSub(pubsubName)
      guard !topic.isEmpty else {
        throw APIError(.invalidArgument, "ERR_TOPIC_NAME_EMPTY", "no topic given for pub/sub \(pubsubName)")
      }
      do {
        stream = try await pubsub.subscribe(topic: topic, metadata: initial.metadata)
      } catch {
        throw APIError.from(error, errorCode: "ERR_PUBSUB_SUBSCRIBE", component: pubsubName)
      }
    } catch let error as APIError {
      throw error.rpcError
    }
    let handle = await api.subscriptions.add(
      SubscriptionTable.Entry(
        pubsubName: pubsubName, topic: topic, route: "", metadata: initial.metadata,
        deadLetterTopic: initial.deadLetterTopic, kind: .streaming))
    logger.info("streaming subscription opened", metadata: ["component": "\(pubsubName)", "topic": "\(topic)"])
    do {
      var first = Response()
      first.initialResponse = Dapr_Proto_Runtime_V1_SubscribeTopicEventsResponseInitialAlpha1()
      try await responses.write(first)
      for try await message in stream {
        let event = CloudEvent.read(
          delivered: message.data, contentType: message.contentType, topic: topic, pubsubName: pubsubName,
          messageID: message.id)
        // The application answers by the CloudEvent id (stable across redeliveries); the
        // component's message id stands in when that id is missing or already awaited.
        var id = event.id.isEmpty ? message.id : event.id
        if !pending.add(message, id: id) {
          id = message.id
          guard pending.add(message, id: id) else {
            try? await message.nack("event \(id) was delivered again before the application answered")
            continue
          }
        }
        var response = Response()
        response.eventMessage = Dapr_Proto_Runtime_V1_TopicEventRequest(event: event, id: id, path: "")
        try await responses.write(response)
      }
    } catch {
      await api.subscriptions.remove(handle)
      logger.info("streaming subscription closed", metadata: ["component": "\(pubsubName)", "topic": "\(topic)"])
      if error is CancellationError { return }
      throw RPCError(code: .unavailable, message: "pub/sub \(pubsubName) stopped delivering topic \(topic): \(error)")
    }
    await api.subscriptions.remove(handle)
    throw RPCError(code: .unavailable, message: "pub/sub \(pubsubName) ended the subscription to topic \(topic)")
  }
}

extension Dapr_Proto_Runtime_V1_TopicEventRequest {
  /// The gRPC form of a delivered event; `id` is what the application's answer names.
  init(event: CloudEvent, id: String, path: String) {
    self.init()
    self.id = id
    source = event.source
    type = event.type
    specVersion = event.specVersion
    dataContentType = event.dataContentType
    topic = event.topic
    pubsubName = event.pubsubName
    data = event.data
    self.path = path
    if let text = String(data: event.extensionsJSON, encoding: .utf8),
      let extensions = try? Google_Protobuf_Struct(jsonString: text)
    {
      self.extensions = extensions
    }
  }
}
