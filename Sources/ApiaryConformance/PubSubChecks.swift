import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCCoreCTransport

/// The pub/sub contract (`dapr.proto.components.v1.PubSub`): publish, the
/// `PullMessages` stream, acknowledgements and redelivery.
enum PubSubChecks {
  typealias Client = Dapr_Proto_Components_V1_PubSub.Client<SelectedClientTransport>

  static func suite() -> BlockSuite {
    BlockSuite(
      block: .pubsub,
      initialise: { context in
        var request = Dapr_Proto_Components_V1_PubSubInitRequest()
        request.metadata.properties = context.options.metadata
        let client = Client(wrapping: context.client)
        return try await context.initialise {
          _ = try await client.`init`(request, metadata: $0, options: $1)
        } features: {
          try await client.features(.init(), metadata: $0, options: $1).features
        }
      },
      checks: [
        ping, publishPull, topicsIsolated, ack, nackRedelivery, unansweredRedelivery, ordering,
        bulkPublish, messageTTL,
      ])
  }

  // MARK: - Helpers

  /// The payload of message `name` of this run.
  static func payload(_ context: CheckContext, _ name: String) -> Data {
    Data(#"{"apiaryConformance":"\#(context.runID)","message":"\#(name)"}"#.utf8)
  }

  static func isProbe(_ message: PullStream.Message) -> Bool {
    String(data: message.data, encoding: .utf8)?.contains(#""probe-"#) ?? false
  }

  static func publish(
    _ context: CheckContext, topic: String, _ data: Data, metadata: [String: String] = [:]
  ) async throws {
    var request = Dapr_Proto_Components_V1_PublishRequest()
    request.pubsubName = context.instance
    request.topic = topic
    request.data = data
    request.contentType = "application/json"
    request.metadata = metadata
    _ = try await expectOK("Publish") {
      try await Client(wrapping: context.client).publish(
        request, metadata: context.metadata, options: context.callOptions)
    }
  }

  /// Opens a subscription and waits until it is live: publishes probe messages until
  /// one arrives (a subscription that starts from the newest message would miss what
  /// was published before it was in place). Probes are acknowledged; other messages
  /// that arrive meanwhile are left for the check to take.
  static func liveStream(_ context: CheckContext, topic: String) async throws -> PullStream {
    let stream = PullStream(context, topic: topic)
    let deadline = ContinuousClock.now.advanced(by: context.timeout)
    var probe = 0
    var others: [PullStream.Message] = []
    defer { stream.unread(others) }
    while ContinuousClock.now < deadline {
      probe += 1
      try await publish(context, topic: topic, payload(context, "probe-\(probe)"))
      while let message = await stream.next(within: min(.milliseconds(100) * probe, .seconds(1))) {
        guard isProbe(message) else {
          others.append(message)
          continue
        }
        stream.ack(message.id)
        return stream
      }
      if let ended = stream.ended { throw CheckFailure("PullMessages(\(topic)): \(ended)") }
    }
    await stream.close(within: context.timeout)
    throw CheckFailure(
      "nothing published to \(topic) was delivered on its PullMessages stream within \(formatDuration(context.timeout))"
    )
  }

  /// The next message that is not a probe (probes are acknowledged on the way), or a
  /// failure naming what was awaited.
  static func nextMessage(
    _ stream: PullStream, _ context: CheckContext, awaiting what: String
  ) async throws -> PullStream.Message {
    let deadline = ContinuousClock.now.advanced(by: context.timeout)
    while true {
      let left = ContinuousClock.now.duration(to: deadline)
      guard left > .zero, let message = await stream.next(within: left) else {
        let ended = stream.ended.map { " (\($0))" } ?? ""
        throw CheckFailure(
          "\(what) did not arrive within \(formatDuration(context.timeout))\(ended)")
      }
      if isProbe(message) {
        stream.ack(message.id)
        continue
      }
      return message
    }
  }

  static func describe(_ message: PullStream.Message) -> String {
    String(data: message.data, encoding: .utf8).map { "'\($0)'" } ?? "\(message.data.count) bytes"
  }

  // MARK: - Checks

  static let ping = Check("ping") { context in
    _ = try await expectOK("Ping") {
      try await Client(wrapping: context.client).ping(
        .init(), metadata: context.metadata, options: context.callOptions)
    }
    return "Ping answered"
  }

  static let publishPull = Check("publish-pull") { context in
    let topic = context.topic("publish-pull")
    let stream = try await liveStream(context, topic: topic)
    let sent = (0..<3).map { payload(context, "m\($0)") }
    for data in sent { try await publish(context, topic: topic, data) }
    var received: [Data] = []
    for index in sent.indices {
      let message = try await nextMessage(stream, context, awaiting: "message \(index + 1) of 3")
      guard message.topicName.isEmpty || message.topicName == topic else {
        throw CheckFailure("a message on the \(topic) stream names topic '\(message.topicName)'")
      }
      guard !message.id.isEmpty else {
        throw CheckFailure("a delivered message has no id to acknowledge it by")
      }
      received.append(message.data)
      stream.ack(message.id)
    }
    await stream.close(within: context.timeout)
    guard Set(received) == Set(sent) else {
      throw CheckFailure(
        "delivered \(received.map { String(decoding: $0, as: UTF8.self) }), published \(sent.map { String(decoding: $0, as: UTF8.self) })"
      )
    }
    return "3 messages published were delivered byte for byte, each with an id"
  }

  static let topicsIsolated = Check("topics-isolated") { context in
    let (mine, other) = (context.topic("isolated-a"), context.topic("isolated-b"))
    let stream = try await liveStream(context, topic: mine)
    try await publish(context, topic: other, payload(context, "for-b"))
    try await publish(context, topic: mine, payload(context, "for-a"))
    let message = try await nextMessage(
      stream, context, awaiting: "the message published to \(mine)")
    stream.ack(message.id)
    await stream.close(within: context.timeout)
    guard message.data == payload(context, "for-a") else {
      throw CheckFailure(
        "the \(mine) stream delivered \(describe(message)), published to another topic")
    }
    return "a subscription gets its own topic's messages only"
  }

  static let ack = Check("ack") { context in
    let topic = context.topic("ack")
    var stream = try await liveStream(context, topic: topic)
    try await publish(context, topic: topic, payload(context, "acked"))
    let message = try await nextMessage(stream, context, awaiting: "the published message")
    stream.ack(message.id)
    await stream.close(within: context.timeout)
    // Subscribe again: the acknowledged message must not come back. What arrives
    // before the new stream's first probe would be a redelivery.
    stream = PullStream(context, topic: topic)
    defer { Task { [stream] in await stream.close(within: .seconds(1)) } }
    let deadline = ContinuousClock.now.advanced(by: context.timeout)
    var probe = 0
    while ContinuousClock.now < deadline {
      probe += 1
      try await publish(context, topic: topic, payload(context, "probe-after-\(probe)"))
      while let next = await stream.next(within: .milliseconds(100) * probe) {
        stream.ack(next.id)
        if next.data == payload(context, "acked") {
          throw CheckFailure("an acknowledged message was delivered again on a new stream")
        }
        // Only this stream's own probes end the wait: older ones may be redelivered too.
        if String(decoding: next.data, as: UTF8.self).contains("probe-after-") {
          return "an acknowledged message is not delivered again"
        }
      }
    }
    throw CheckFailure(
      "the second subscription to \(topic) delivered nothing within \(formatDuration(context.timeout))"
    )
  }

  static let nackRedelivery = Check("nack-redelivery") { context in
    let topic = context.topic("nack")
    let stream = try await liveStream(context, topic: topic)
    try await publish(context, topic: topic, payload(context, "refused"))
    let first = try await nextMessage(stream, context, awaiting: "the published message")
    stream.nack(first.id)
    let clock = ContinuousClock()
    let refused = clock.now
    let again = try await nextMessage(
      stream, context, awaiting: "the refused message, delivered again")
    stream.ack(again.id)
    await stream.close(within: context.timeout)
    guard again.data == first.data else {
      throw CheckFailure(
        "after a nack the stream delivered \(describe(again)) instead of the refused message")
    }
    return
      "a refused message was delivered again after \(formatDuration(refused.duration(to: clock.now)))"
  }

  static let unansweredRedelivery = Check("unanswered-redelivery") { context in
    let topic = context.topic("unanswered")
    var stream = try await liveStream(context, topic: topic)
    try await publish(context, topic: topic, payload(context, "unanswered"))
    _ = try await nextMessage(stream, context, awaiting: "the published message")
    await stream.close(within: context.timeout)  // without answering it
    stream = PullStream(context, topic: topic)
    let again = try await nextMessage(
      stream, context, awaiting: "a message left unanswered when its stream closed, on a new stream"
    )
    stream.ack(again.id)
    await stream.close(within: context.timeout)
    guard again.data == payload(context, "unanswered") else {
      throw CheckFailure(
        "the new stream delivered \(describe(again)) first, not the unanswered message")
    }
    return "a message never answered is delivered again on the next stream (at least once)"
  }

  static let ordering = Check("ordering") { context in
    guard context.options.ordered else {
      throw CheckSkip("pass --ordered when the component promises per-topic order")
    }
    let topic = context.topic("ordering")
    let stream = try await liveStream(context, topic: topic)
    let count = 20
    for index in 0..<count {
      try await publish(context, topic: topic, payload(context, "n\(index)"))
    }
    for index in 0..<count {
      let message = try await nextMessage(
        stream, context, awaiting: "message \(index + 1) of \(count)")
      stream.ack(message.id)
      guard message.data == payload(context, "n\(index)") else {
        throw CheckFailure(
          "message \(index + 1) delivered was \(describe(message)); \(count) messages published in order came out of order"
        )
      }
    }
    await stream.close(within: context.timeout)
    return "\(count) messages delivered in the order published"
  }

  static let bulkPublish = Check("bulk-publish") { context in
    let topic = context.topic("bulk")
    let stream = try await liveStream(context, topic: topic)
    var request = Dapr_Proto_Components_V1_BulkPublishRequest()
    request.pubsubName = context.instance
    request.topic = topic
    request.entries = (0..<3).map { index in
      var entry = Dapr_Proto_Components_V1_BulkMessageEntry()
      entry.entryID = "e\(index)"
      entry.event = payload(context, "bulk\(index)")
      entry.contentType = "application/json"
      return entry
    }
    let response: Dapr_Proto_Components_V1_BulkPublishResponse
    do {
      response = try await Client(wrapping: context.client).bulkPublish(
        request, metadata: context.metadata, options: context.callOptions)
    } catch let error as RPCError
      where error.code == .unimplemented && !context.features.contains("BULK_PUBSUB")
    {
      await stream.close(within: context.timeout)
      throw CheckSkip(
        "BulkPublish is UNIMPLEMENTED and BULK_PUBSUB is not declared (the sidecar publishes one by one)"
      )
    } catch let error as RPCError {
      await stream.close(within: context.timeout)
      throw CheckFailure("BulkPublish failed: \(error.code): \(error.message)")
    }
    guard response.failedEntries.isEmpty else {
      await stream.close(within: context.timeout)
      throw CheckFailure(
        "BulkPublish reported failed entries: \(response.failedEntries.map { "\($0.entryID): \($0.error)" })"
      )
    }
    var received: Set<Data> = []
    for index in 0..<3 {
      let message = try await nextMessage(stream, context, awaiting: "bulk entry \(index + 1) of 3")
      stream.ack(message.id)
      received.insert(message.data)
    }
    await stream.close(within: context.timeout)
    guard received == Set(request.entries.map(\.event)) else {
      throw CheckFailure("the delivered messages differ from the 3 entries published in bulk")
    }
    return "3 entries published with BulkPublish were each delivered"
  }

  static let messageTTL = Check("message-ttl", requires: "MESSAGE_TTL") { context in
    let topic = context.topic("ttl")
    var stream = try await liveStream(context, topic: topic)
    await stream.close(within: context.timeout)
    let published = ContinuousClock.now
    try await publish(
      context, topic: topic, payload(context, "expiring"), metadata: ["ttlInSeconds": "1"])
    // The message must outlive its TTL before anyone reads it: this wait is the check.
    try await Task.sleep(until: published.advanced(by: .milliseconds(1500)))
    stream = try await liveStream(context, topic: topic)
    defer { Task { [stream] in await stream.close(within: .seconds(1)) } }
    try await publish(context, topic: topic, payload(context, "probe-marker"))
    while let message = await stream.next(within: context.timeout) {
      stream.ack(message.id)
      if message.data == payload(context, "expiring") {
        throw CheckFailure("a message published with ttlInSeconds=1 was delivered 1.5 s later")
      }
      if message.data == payload(context, "probe-marker") {
        return "a message past its ttlInSeconds was not delivered"
      }
    }
    throw CheckFailure("the marker published after the expired message did not arrive")
  }
}
