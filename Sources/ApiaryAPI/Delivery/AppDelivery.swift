import ApiaryRuntime
import Foundation
import Logging
import ServiceLifecycle

/// Delivers pub/sub events and input binding events to the application, once the
/// sidecar has started its components.
///
/// Subscriptions are the declarative ones from the resources folders plus the
/// application's programmatic ones (a topic both declare is delivered once, to the
/// declarative route). Each subscription and each input binding is one delivery
/// loop: events go to the app one at a time; a RETRY verdict waits (200 ms, doubling
/// to 5 s while the app keeps failing) and then hands the event back to the component
/// to deliver again. When the component's stream ends (it went DOWN, or restarted),
/// the loop subscribes again, so delivery resumes after recovery.
public final class AppDelivery: Service {
  private let api: AppAPI
  private let channel: any AppChannel
  private let logger: Logger
  /// How long to wait for the app's subscription list at start-up.
  private let appWait: Duration

  public init(api: AppAPI, channel: any AppChannel, logger: Logger, appWait: Duration = .seconds(30)) {
    self.api = api
    self.channel = channel
    self.logger = logger
    self.appWait = appWait
  }

  public func run() async throws {
    // Graceful shutdown cancels the delivery loops; unanswered events stay with the
    // component, which delivers them again.
    await cancelWhenGracefulShutdown { await self.deliverAll() }
    await channel.close()
  }

  private func deliverAll() async {
    do {
      try await api.registry.waitUntilStarted()
    } catch {
      return
    }
    let subscriptions = await collectSubscriptions()
    let bindings = await inputBindings()
    await withDiscardingTaskGroup { group in
      for subscription in subscriptions {
        group.addTask { await self.deliverTopic(subscription.0, kind: subscription.1) }
      }
      for binding in bindings {
        group.addTask { await self.deliverBinding(binding) }
      }
    }
  }

  /// Declarative subscriptions, then the programmatic ones for topics not declared.
  private func collectSubscriptions() async -> [(AppSubscription, SubscriptionTable.Kind)] {
    var result: [(AppSubscription, SubscriptionTable.Kind)] = []
    for declared in await api.registry.declaredSubscriptions {
      result.append(
        (
          AppSubscription(
            pubsubName: declared.pubsubName, topic: declared.topic, route: declared.route, metadata: declared.metadata,
            deadLetterTopic: declared.deadLetterTopic ?? ""), .declarative
        ))
    }
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: appWait)
    var delay = Duration.milliseconds(100)
    while true {
      do {
        for subscription in try await channel.programmaticSubscriptions() {
          if result.contains(where: { $0.0.pubsubName == subscription.pubsubName && $0.0.topic == subscription.topic }) {
            logger.warning(
              "the app subscribes to topic \(subscription.topic) of \(subscription.pubsubName), which a Subscription file already routes; using the file's route")
            continue
          }
          result.append((subscription, .programmatic))
        }
        break
      } catch is CancellationError {
        break
      } catch {
        guard clock.now < deadline, !Task.isCancelled else {
          logger.warning("could not read the app's subscriptions: \(error); delivering the declarative ones only")
          break
        }
        try? await Task.sleep(for: delay)
        delay = min(delay * 2, .seconds(2))
      }
    }
    return result
  }

  private func inputBindings() async -> [String] {
    var configured: [String] = []
    for status in await api.registry.all where status.type.hasPrefix("bindings.") {
      if case .bindings(_?, _)? = await api.registry.component(named: status.name)?.kind {
        configured.append(status.name)
      }
    }
    guard !configured.isEmpty else { return [] }
    do {
      return try await channel.inputBindings(configured: configured)
    } catch {
      logger.warning("could not ask the app which input bindings it wants: \(error); delivering none")
      return []
    }
  }

  // MARK: - Topics

  private func deliverTopic(_ subscription: AppSubscription, kind: SubscriptionTable.Kind) async {
    let handle = await api.subscriptions.add(
      SubscriptionTable.Entry(
        pubsubName: subscription.pubsubName, topic: subscription.topic, route: subscription.route,
        metadata: subscription.metadata, deadLetterTopic: subscription.deadLetterTopic, kind: kind))
    defer { Task { [api] in await api.subscriptions.remove(handle) } }
    let metadata: Logger.Metadata = [
      "component": "\(subscription.pubsubName)", "topic": "\(subscription.topic)", "route": "\(subscription.route)",
    ]
    var reconnectDelay = Duration.milliseconds(200)
    while !Task.isCancelled {
      do {
        let pubsub = try await api.directory.pubSub(subscription.pubsubName)
        let stream = try await pubsub.subscribe(topic: subscription.topic, metadata: subscription.metadata)
        logger.info("delivering topic to the app", metadata: metadata)
        reconnectDelay = .milliseconds(200)
        var failures = 0
        for try await message in stream {
          let event = CloudEvent.read(
            delivered: message.data, contentType: message.contentType, topic: subscription.topic,
            pubsubName: subscription.pubsubName, messageID: message.id)
          let verdict = await channel.deliver(event: event, route: subscription.route)
          if case .retry(let reason) = verdict {
            failures += 1
            logger.debug("app asked to retry: \(reason)", metadata: metadata)
            try? await Task.sleep(for: Self.backoff(failures))
          } else {
            failures = 0
          }
          await PendingAcknowledgements.settle(message, verdict, logger: logger)
        }
        guard !Task.isCancelled else { return }
        logger.warning("the pub/sub ended the subscription; subscribing again", metadata: metadata)
      } catch is CancellationError {
        return
      } catch {
        guard !Task.isCancelled else { return }
        logger.warning("cannot deliver topic: \(error); trying again in \(reconnectDelay)", metadata: metadata)
      }
      try? await Task.sleep(for: reconnectDelay)
      reconnectDelay = min(reconnectDelay * 2, .seconds(5))
    }
  }

  // MARK: - Input bindings

  private func deliverBinding(_ name: String) async {
    let metadata: Logger.Metadata = ["component": "\(name)"]
    var reconnectDelay = Duration.milliseconds(200)
    while !Task.isCancelled {
      do {
        let component = try await api.directory.component(name, of: .bindings)
        guard case .bindings(let input?, _) = component.kind else { return }
        let stream = try await input.read()
        logger.info("delivering input binding events to the app", metadata: metadata)
        reconnectDelay = .milliseconds(200)
        var failures = 0
        for try await event in stream {
          switch await channel.deliver(bindingEvent: event, binding: name) {
          case .success:
            failures = 0
            try? await event.respond()
          case .drop(let reason):
            failures = 0
            logger.warning("dropping binding event \(event.id): \(reason)", metadata: metadata)
            try? await event.respond()
          case .retry(let reason):
            failures += 1
            try? await Task.sleep(for: Self.backoff(failures))
            try? await event.fail(reason)
          }
        }
        guard !Task.isCancelled else { return }
        logger.warning("the input binding ended its stream; reading again", metadata: metadata)
      } catch is CancellationError {
        return
      } catch {
        guard !Task.isCancelled else { return }
        logger.warning("cannot read the input binding: \(error); trying again in \(reconnectDelay)", metadata: metadata)
      }
      try? await Task.sleep(for: reconnectDelay)
      reconnectDelay = min(reconnectDelay * 2, .seconds(5))
    }
  }

  /// The wait before handing back an event the app failed `failures` times in a row.
  static func backoff(_ failures: Int) -> Duration {
    let milliseconds = 200 * (1 << min(max(failures - 1, 0), 5))
    return .milliseconds(min(milliseconds, 5000))
  }
}
