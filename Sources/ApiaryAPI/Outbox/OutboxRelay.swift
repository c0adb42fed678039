import ApiaryRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The second half of the outbox (spec §3): for every state store with an outbox, it
/// consumes the internal topic directly on the component (no resiliency, no dead
/// letters, not routed to the app) and, for each message, publishes the user's event
/// once the transaction's marker is in the store, then deletes the marker and
/// acknowledges. A marker that never appears means the transaction did not commit: the
/// message is dropped (`outboxDiscardWhenMissingState`) or handed back.
///
/// Unlike daprd it does not sleep a second before each lookup (dapr#8233): the marker
/// is looked for at once, then with backoff (0.5 s, ×3, at most 3 s apart, 10 s in all).
public final class OutboxRelay: Service {
  private let api: AppAPI
  private let logger: Logger
  /// Readiness waits until every internal topic is subscribed, so no transaction's
  /// internal message is published before its relay listens.
  private let hold: ReadinessHold
  /// The marker lookups' waits.
  let waits: [Duration]

  public init(
    api: AppAPI, logger: Logger,
    waits: [Duration] = [
      .zero, .milliseconds(500), .milliseconds(1500), .seconds(3), .seconds(3), .seconds(2),
    ]
  ) {
    self.api = api
    self.logger = logger
    self.waits = waits
    hold = api.holdReadiness()
  }

  public func run() async throws {
    // A service runs until shutdown, with or without outboxes to relay.
    await cancelWhenGracefulShutdown {
      await self.relayAll()
      try? await gracefulShutdown()
    }
    hold.done()
  }

  private func relayAll() async {
    do {
      try await api.registry.waitUntilStarted()
    } catch {
      hold.done()
      return
    }
    var outboxes: [Outbox] = []
    for status in await api.registry.all where status.type.hasPrefix("state.") {
      if let component = await api.registry.component(named: status.name),
        let outbox = Outbox(component: component, appID: api.options.appID)
      {
        outboxes.append(outbox)
      }
    }
    guard !outboxes.isEmpty else {
      hold.done()
      return
    }
    let remaining = CountDown(outboxes.count) { [hold] in hold.done() }
    await withDiscardingTaskGroup { group in
      for outbox in outboxes {
        group.addTask { await self.relay(outbox, subscribed: remaining.one) }
      }
    }
  }

  private func relay(_ outbox: Outbox, subscribed: @escaping @Sendable () -> Void) async {
    var subscribed = Optional(subscribed)
    defer { subscribed?() }
    var delay = Duration.milliseconds(200)
    while !Task.isCancelled {
      do {
        let (pubsub, _) = try await api.directory.pubSub(outbox.internalPubsub)
        let stream = try await pubsub.subscribe(topic: outbox.internalTopic, metadata: [:])
        subscribed?()
        subscribed = nil
        delay = .milliseconds(200)
        for try await message in stream { await handle(message, outbox) }
      } catch is CancellationError {
        return
      } catch {
        subscribed?()
        subscribed = nil
        guard !Task.isCancelled else { return }
        logger.warning(
          "could not subscribe to internal outbox topic: outbox pubsub \(outbox.internalPubsub) not loaded: \(error)",
          metadata: ["component": "\(outbox.store)"])
      }
      try? await Task.sleep(for: delay)
      delay = min(delay * 2, .seconds(5))
    }
  }

  /// One internal message: wait for its marker, publish the user's event, delete the
  /// marker, acknowledge.
  func handle(_ message: DeliveredMessage, _ outbox: Outbox) async {
    guard case .object(var event)? = try? JSONValue(json: message.data),
      let id = event["id"]?.string,
      id.hasPrefix(Outbox.markerPrefix)
    else {
      logger.error(
        "outbox: an internal message of store \(outbox.store) is not an outbox event; discarding it"
      )
      try? await message.ack()
      return
    }
    guard
      let (store, _) = try? await api.directory.stateStore(outbox.store, appID: api.options.appID)
    else {
      try? await message.nack("state store \(outbox.store) is not UP")
      return
    }
    var found = false
    for wait in waits {
      if wait > .zero { try? await Task.sleep(for: wait) }
      if Task.isCancelled { break }
      if let value = try? await store.get(StateGetRequest(key: id)), value.data != nil {
        found = true
        break
      }
    }
    guard found else {
      if outbox.discardWhenMissingState {
        logger.error(
          "outbox: the state of event \(id) never appeared (its transaction did not commit); discarding it"
        )
        try? await message.ack()
      } else {
        try? await message.nack("the state of outbox event \(id) is not there (yet)")
      }
      return
    }
    event["topic"] = .string(outbox.publishTopic)
    event["pubsubname"] = .string(outbox.publishPubsub)
    let contentType = event["datacontenttype"]?.string ?? CloudEvent.contentType
    do {
      try await api.publishRaw(
        pubsub: outbox.publishPubsub,
        PublishRequest(
          topic: outbox.publishTopic, data: JSONValue.object(event).jsonData,
          contentType: contentType))
    } catch {
      logger.error(
        "failed to publish outbox topic to pubsub \(outbox.publishPubsub): \(error), rejecting for later processing"
      )
      try? await message.nack("\(error)")
      return
    }
    for wait in waits {
      if wait > .zero { try? await Task.sleep(for: wait) }
      if (try? await store.delete(StateDeleteRequest(key: id))) != nil { break }
    }
    try? await message.ack()
  }
}
