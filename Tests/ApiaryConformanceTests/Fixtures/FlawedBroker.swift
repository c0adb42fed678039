import ApiaryContracts
import ComponentKit
import Foundation

/// An in-memory pub/sub that keeps the whole contract (durable topics, redelivery of
/// what is refused or never answered), unless told to break one part of it.
struct FlawedBroker: PubSubComponent {
  enum Flaw: String, CaseIterable, Sendable {
    case pingFails, corruptsData, ignoresTopic, acksIgnored, nackDrops, dropsUnanswered, reorders
    case bulkDeclaredButMissing, ttlIgnored
  }

  let flaws: Set<Flaw>
  let queues = Queues()

  init(_ flaws: Set<Flaw> = []) { self.flaws = flaws }

  func initialise(metadata: [String: String]) async throws {}
  func features() async throws -> [PubSubFeature] {
    [.messageTTL] + (flaws.contains(.bulkDeclaredButMissing) ? [.bulkPublish] : [])
  }

  func ping() async throws {
    if flaws.contains(.pingFails) { throw ComponentError.backend("the broker is unreachable") }
  }

  func publish(_ request: Dapr_Proto_Components_V1_PublishRequest) async throws {
    var data = request.data
    if flaws.contains(.corruptsData) { data.append(0x20) }
    let expires = request.metadata["ttlInSeconds"].flatMap(Int.init).map {
      ContinuousClock.now.advanced(by: .seconds($0))
    }
    await queues.push(
      Queues.Item(message: PubSubMessage(data: data, topic: request.topic), expires: expires))
  }

  func bulkPublish(
    _ request: Dapr_Proto_Components_V1_BulkPublishRequest
  ) async throws -> Dapr_Proto_Components_V1_BulkPublishResponse {
    if flaws.contains(.bulkDeclaredButMissing) {
      throw ComponentError.unsupported("no bulk publish")
    }
    for entry in request.entries {
      await queues.push(
        Queues.Item(message: PubSubMessage(data: entry.event, topic: request.topic), expires: nil))
    }
    return .init()
  }

  func subscribe(_ subscription: PubSubSubscription, deliver: PubSubDelivery) async throws {
    let topic = flaws.contains(.ignoresTopic) ? nil : subscription.topic
    // With acksIgnored, acknowledged messages are only held, and go back to the queue
    // when the stream ends, as a broker that never records acks would redeliver them.
    var held: [Queues.Item] = []
    do {
      while true {
        let item = try await queues.take(
          topic: topic, newest: flaws.contains(.reorders), honourTTL: !flaws.contains(.ttlIgnored))
        let answer: PubSubAck
        do {
          answer = try await deliver(item.message)
        } catch {
          if !flaws.contains(.dropsUnanswered) { await queues.pushFront(item) }
          throw error
        }
        switch answer {
        case .ack where flaws.contains(.acksIgnored): held.append(item)
        case .nack where !flaws.contains(.nackDrops): await queues.pushFront(item)
        case .ack, .nack: break
        }
      }
    } catch {
      for item in held.reversed() { await queues.pushFront(item) }
      throw error
    }
  }
}

/// The broker's messages waiting for delivery, and the subscribers waiting for them.
actor Queues {
  struct Item: Sendable {
    var message: PubSubMessage
    var expires: ContinuousClock.Instant?
  }

  private var items: [Item] = []
  private var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]

  func push(_ item: Item) {
    items.append(item)
    wake()
  }

  func pushFront(_ item: Item) {
    items.insert(item, at: 0)
    wake()
  }

  private func wake() {
    let woken = waiters.values
    waiters = [:]
    for waiter in woken { waiter.resume() }
  }

  /// The oldest (or newest) live message of `topic` (any topic when nil), waiting until
  /// there is one; throws `CancellationError` when the subscription ends first.
  func take(topic: String?, newest: Bool, honourTTL: Bool) async throws -> Item {
    while true {
      try Task.checkCancellation()
      if honourTTL { items.removeAll { $0.expires.map { $0 <= .now } ?? false } }
      let matching = items.indices.filter { topic == nil || items[$0].message.topic == topic }
      if let index = newest ? matching.last : matching.first {
        return items.remove(at: index)
      }
      let id = UUID()
      await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
          if Task.isCancelled { continuation.resume() } else { waiters[id] = continuation }
        }
      } onCancel: {
        Task { await self.cancel(id) }
      }
    }
  }

  private func cancel(_ id: UUID) {
    waiters.removeValue(forKey: id)?.resume()
  }
}
