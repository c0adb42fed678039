import ApiaryRuntime
import Foundation
import Logging
import Synchronization

/// What happens to each message of one subscription, whatever made the subscription
/// (a Subscription file, the app's list, a streaming call) and whatever reaches the
/// app (HTTP, gRPC, the stream): decode the CloudEvent, drop an expired one, pick the
/// route, deliver inside the pub/sub's inbound resiliency policy, then settle it with
/// the broker (spec §2, §6):
///
/// - SUCCESS: acknowledged.
/// - DROP, HTTP 404, expired, no matching route: published to the dead-letter topic
///   when there is one (the original bytes, on the same pub/sub), and acknowledged;
///   a dead letter that cannot be published makes it a nack.
/// - retries exhausted (or none configured): dead-lettered and acknowledged, else
///   nacked, so the broker delivers it again.
/// - a gRPC app without the method: acknowledged, never dead-lettered.
/// - the subscriber went away: nacked, never dead-lettered.
///
/// The log lines are daprd's (spec §8).
struct SubscriptionPipeline: Sendable {
  let api: AppAPI
  let subscription: AppSubscription
  let channel: any AppChannel
  let reachability: AppReachability?
  let logger: Logger
  /// Consecutive deliveries that found no app: the loop waits before handing such a
  /// message back, so an absent app is not hammered.
  private let unreachableStreak = Streak()

  init(
    api: AppAPI, subscription: AppSubscription, channel: any AppChannel,
    reachability: AppReachability?,
    logger: Logger
  ) {
    self.api = api
    self.subscription = subscription
    self.channel = channel
    self.reachability = reachability
    self.logger = logger
  }

  /// A message ready to go to the app: its envelope and the route it matched.
  struct Prepared: Sendable {
    var message: DeliveredMessage
    var event: CloudEvent
    var route: String
  }

  private var pubsub: String { subscription.pubsubName }
  private var topic: String { subscription.topic }

  // MARK: - One message

  /// Delivers `message` and settles it.
  func handle(_ message: DeliveredMessage) async {
    guard let prepared = await prepare(message) else { return }
    let channel = self.channel
    let topic = self.topic
    let metadata = self.metadata(of: message)
    let tracer = api.observability.tracer
    let parent = DeliveryTracing.context(of: prepared.event)
    let verdict = await attempt {
      await DeliveryTracing.attempt(
        tracer: tracer, name: "pubsub/\(topic)", parent: parent,
        attributes: SpanAttributeNames.messaging(topic: topic)
      ) {
        await channel.deliver(
          event: prepared.event, topic: topic, route: prepared.route, metadata: metadata)
      }
    }
    await settle(message, eventID: prepared.event.id, verdict)
  }

  /// Decodes and routes `message`; nil when it was settled already (expired, no
  /// route, undecodable).
  func prepare(_ message: DeliveredMessage) async -> Prepared? {
    var raw = false
    if let text = subscription.metadata["rawPayload"] {
      guard let value = AppAPI.goBool(text) else {
        logger.error(
          "error deserializing cloud event in pubsub \(pubsub) and topic \(topic): rawPayload value must be a valid boolean: actual is '\(text)'"
        )
        await undeliverable(message, reason: "rawPayload metadata is not a boolean")
        return nil
      }
      raw = value
    }
    let event = CloudEvent.read(
      delivered: message.data, contentType: message.contentType, topic: topic, pubsubName: pubsub,
      messageID: message.id,
      raw: raw)
    if let expiration = event.expiration, expiration < Date() {
      logger.warning(
        "dropping expired pub/sub event \(event.id) as of \(CloudEvent.timestamp(expiration))")
      await deadLetterBestEffort(message)
      try? await message.ack()
      return nil
    }
    let route: String?
    do {
      route = try subscription.routes.path(for: CELExpression.Value(event.value))
    } catch {
      logger.error(
        "error finding matching route for event \(event.id) in pubsub \(pubsub) and topic \(topic): \(error)"
      )
      await undeliverable(message, reason: "\(error)")
      return nil
    }
    guard let route else {
      logger.debug(
        "no matching route for event \(event.id) in pubsub \(pubsub) and topic \(topic); skipping")
      await deadLetterBestEffort(message)
      try? await message.ack()
      return nil
    }
    return Prepared(message: message, event: event, route: route)
  }

  /// The metadata the app sees with a message: the message's own, plus `pubsubName`.
  func metadata(of message: DeliveredMessage) -> [String: String] {
    var metadata = message.metadata
    metadata["pubsubName"] = pubsub
    return metadata
  }

  /// One delivery, inside the inbound policy when the pub/sub has one: a retry
  /// verdict is retried as the policy says; the last verdict is returned.
  func attempt(_ deliver: @escaping @Sendable () async -> AppVerdict) async -> AppVerdict {
    let reachability = self.reachability
    let pubsub = self.pubsub
    return await api.policies.deliverInbound(
      to: pubsub, cancelled: .abandoned("the delivery was cancelled")
    ) {
      let verdict = await deliver()
      reachability?.record(verdict, component: pubsub)
      return verdict
    }
  }

  /// Acknowledges, dead-letters or hands back `message` as `verdict` says, with
  /// daprd's log line.
  func settle(_ message: DeliveredMessage, eventID: String, _ verdict: AppVerdict) async {
    if case .unreachable = verdict {
      await pauseForAbsentApp()
    } else {
      unreachableStreak.count.store(0, ordering: .relaxed)
    }
    do {
      switch verdict {
      case .success:
        try await message.ack()
      case .drop(let reason):
        if reason.hasPrefix("non-retriable") {
          logger.error("\(reason)")
        } else {
          logger.warning("\(reason)")
        }
        if await deadLetter(message, dropped: true) {
          try await message.ack()
        } else {
          try await message.nack(reason)
        }
      case .discard(let reason):
        logger.warning("\(reason)")
        try await message.ack()
      case .retry, .unreachable:
        logger.warning(
          "encountered a retriable error while publishing a subscribed message to topic \(topic), err: \(verdict.reason)"
        )
        if await deadLetter(message, dropped: false) {
          try await message.ack()
        } else {
          try await message.nack(verdict.reason)
        }
      case .abandoned(let reason):
        try await message.nack(reason)
      }
    } catch {
      logger.warning(
        "could not settle event \(eventID) of topic \(topic) with pubsub \(pubsub): \(error)")
    }
  }

  // MARK: - Batches

  /// Delivers a batch of messages that matched `route` and settles each (spec §6.5):
  /// entries the app does not answer SUCCESS, DROP or RETRY count as RETRY; retries
  /// (the inbound policy's) send only the entries still failing; what still fails
  /// afterwards is dead-lettered (then acknowledged) or nacked.
  func handleBatch(_ batch: [Prepared], route: String) async {
    var pending: [String: Prepared] = [:]
    var events: [BulkEvent] = []
    let raw = subscription.metadata["rawPayload"].flatMap(AppAPI.goBool) ?? false
    for prepared in batch {
      let entryID = UUID().uuidString.lowercased()
      pending[entryID] = prepared
      events.append(
        BulkEvent(
          entryID: entryID, event: prepared.event, metadata: metadata(of: prepared.message),
          raw: raw,
          bytes: prepared.message.data,
          contentType: prepared.message.contentType ?? CloudEvent.contentType))
    }
    var verdicts: [String: AppVerdict] = [:]
    let remaining = Mutex(events)
    let collected = Mutex<[String: AppVerdict]>([:])
    let channel = self.channel
    let subscription = self.subscription
    let tracer = api.observability.tracer
    let topic = self.topic
    // Each attempt sends the entries not settled yet; a retry verdict of any entry
    // makes the attempt a failure for the policy. With tracing on, each entry whose
    // event carries a trace gets a span per attempt, as daprd's bulk postmen do.
    _ = await attempt {
      let entries = remaining.withLock { $0 }
      guard !entries.isEmpty else { return .success }
      var spans: [String: SidecarSpan] = [:]
      if let tracer {
        for entry in entries {
          guard let parent = DeliveryTracing.context(of: entry.event) else { continue }
          let span = tracer.startSpan("pubsub/\(topic)", kind: .client, parent: parent)
          if span.isSampled { span.setAttributes(SpanAttributeNames.messaging(topic: topic)) }
          spans[entry.entryID] = span
        }
      }
      let answers = await channel.deliver(bulk: entries, route: route, subscription: subscription)
      for (entryID, span) in spans {
        let verdict = answers[entryID] ?? .retry(AppFailure("no status for entry \(entryID)"))
        if case .success = verdict {} else { span.setError(verdict.reason) }
        span.end()
      }
      var retry: AppVerdict?
      collected.withLock { collected in
        for entry in entries {
          let verdict =
            answers[entry.entryID] ?? .retry(AppFailure("no status for entry \(entry.entryID)"))
          collected[entry.entryID] = verdict
          if verdict.isRetry { retry = retry ?? verdict }
        }
      }
      remaining.withLock { $0 = entries.filter { answers[$0.entryID]?.isRetry ?? true } }
      return retry ?? .success
    }
    verdicts = collected.withLock { $0 }
    for (entryID, prepared) in pending {
      await settle(
        prepared.message, eventID: prepared.event.id,
        verdicts[entryID] ?? .retry(AppFailure("not delivered")))
    }
  }

  /// A message that cannot be delivered at all (undecodable, a rule that cannot be
  /// evaluated): dead-lettered and acked when possible, else nacked.
  private func undeliverable(_ message: DeliveredMessage, reason: String) async {
    if await deadLetter(message, dropped: false) {
      try? await message.ack()
    } else {
      try? await message.nack(reason)
    }
  }

  /// Publishes `message` to the dead-letter topic, best effort (expired, no route):
  /// the message is acknowledged anyway.
  private func deadLetterBestEffort(_ message: DeliveredMessage) async {
    _ = await deadLetter(message, dropped: true)
  }

  /// Publishes the original bytes to the dead-letter topic on the same pub/sub
  /// (through the publish path, so the outbound policy applies). True when the
  /// message can be acknowledged now: it was dead-lettered. False when there is no
  /// dead-letter topic (for a retry: nack it) or the publish failed.
  func deadLetter(_ message: DeliveredMessage, dropped: Bool) async -> Bool {
    guard !subscription.deadLetterTopic.isEmpty else { return dropped }
    let request = PublishRequest(
      topic: subscription.deadLetterTopic, data: message.data, contentType: message.contentType,
      metadata: metadata(of: message))
    do {
      try await api.publishRaw(pubsub: pubsub, request)
      return true
    } catch {
      if dropped {
        logger.warning(
          "failed to send dropped message to dead letter queue for topic \(topic): \(error)")
      } else {
        logger.error(
          "error sending message to dead letter, origin topic: \(topic) dead letter topic \(subscription.deadLetterTopic) err: \(error)"
        )
      }
      return false
    }
  }

  /// While the app cannot be reached, each such message waits a little longer
  /// (200 ms doubling to 5 s) before it is handed back.
  private func pauseForAbsentApp() async {
    let streak = unreachableStreak.count.add(1, ordering: .relaxed).newValue
    let milliseconds = min(200 * (1 << min(streak - 1, 5)), 5000)
    try? await Task.sleep(for: .milliseconds(milliseconds))
  }
}

/// A shared counter of consecutive deliveries that found no app.
final class Streak: Sendable {
  let count = Atomic<Int>(0)
}
