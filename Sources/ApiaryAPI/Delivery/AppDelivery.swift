import ApiaryRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Delivers pub/sub events and input binding events to the application, once the
/// sidecar has started its components.
///
/// Subscriptions are the declarative ones from the resources folders plus the
/// application's programmatic ones (a topic both declare is delivered once, to the
/// declarative routes). Each subscription is one loop over its pub/sub's stream, each
/// message handled by its ``SubscriptionPipeline`` (routing, dead letters, the
/// inbound resiliency policy), batched first when bulk subscribe is on. When the
/// component's stream ends (it went DOWN, or restarted), the loop subscribes again.
public final class AppDelivery: Service {
  private let api: AppAPI
  private let channel: any AppChannel
  private let logger: Logger
  /// How long to wait for the app's subscription list at start-up.
  private let appWait: Duration
  private let reachability: AppReachability
  /// Readiness waits until the declarative subscriptions are open.
  private let subscriptionsHold: ReadinessHold

  /// - Parameter app: How log lines name the app, e.g. `the app (HTTP port 8080)`.
  public init(
    api: AppAPI, channel: any AppChannel, logger: Logger, appWait: Duration = .seconds(30),
    app: String = "the app"
  ) {
    self.api = api
    self.channel = channel
    self.logger = logger
    self.appWait = appWait
    self.reachability = AppReachability(app: app, logger: logger)
    subscriptionsHold = api.holdReadiness()
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
    // Declarative subscriptions open at once, before the app answers (or even
    // listens): their messages wait with the pub/sub, retried until the app is there.
    let declared = await api.registry.declaredSubscriptions.map {
      AppSubscription(
        pubsubName: $0.pubsubName, topic: $0.topic, routes: $0.routes, metadata: $0.metadata,
        deadLetterTopic: $0.deadLetterTopic ?? "", bulk: $0.bulkSubscribe)
    }
    let opening = CountDown(declared.count) { [subscriptionsHold] in subscriptionsHold.done() }
    await withDiscardingTaskGroup { group in
      for subscription in declared {
        group.addTask {
          await self.deliverTopic(subscription, kind: .declarative, opened: opening.one)
        }
      }
      group.addTask {
        let programmatic = await self.programmaticSubscriptions(besides: declared)
        let bindings = await self.inputBindings()
        await withDiscardingTaskGroup { group in
          for subscription in programmatic {
            group.addTask { await self.deliverTopic(subscription, kind: .programmatic) }
          }
          for binding in bindings {
            group.addTask { await self.deliverBinding(binding) }
          }
        }
      }
    }
  }

  /// The app's own subscriptions for topics `declared` does not route already.
  private func programmaticSubscriptions(
    besides declared: [AppSubscription]
  ) async -> [AppSubscription] {
    var result: [AppSubscription] = []
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: appWait)
    var delay = Duration.milliseconds(100)
    while true {
      do {
        for subscription in try await channel.programmaticSubscriptions() {
          if declared.contains(where: {
            $0.pubsubName == subscription.pubsubName && $0.topic == subscription.topic
          }) {
            logger.warning(
              "the app subscribes to topic \(subscription.topic) of \(subscription.pubsubName), which a Subscription file already routes; using the file's routes"
            )
            continue
          }
          result.append(subscription)
        }
        break
      } catch is CancellationError {
        break
      } catch {
        guard clock.now < deadline, !Task.isCancelled else {
          logger.warning(
            "could not read the app's subscriptions: \(error); delivering the declarative ones only"
          )
          break
        }
        try? await Task.sleep(for: delay)
        delay = min(delay * 2, .seconds(2))
      }
    }
    if !result.isEmpty {
      for (pubsub, subscriptions) in Dictionary(grouping: result, by: \.pubsubName) {
        logger.info(
          "app is subscribed to the following topics: [\(subscriptions.map(\.topic).joined(separator: " "))] through pubsub=\(pubsub)"
        )
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
      logger.warning(
        "could not ask the app which input bindings it wants: \(error); delivering none")
      return []
    }
  }

  // MARK: - Topics

  /// - Parameter opened: Called once, when the first subscription attempt ended
  ///   (opened, or failed because the pub/sub is not UP).
  private func deliverTopic(
    _ subscription: AppSubscription, kind: SubscriptionTable.Kind,
    opened: @escaping @Sendable () -> Void = {}
  ) async {
    var opened = Optional(opened)
    defer { opened?() }
    let handle = await api.subscriptions.add(
      SubscriptionTable.Entry(
        pubsubName: subscription.pubsubName, topic: subscription.topic, routes: subscription.routes,
        metadata: subscription.metadata, deadLetterTopic: subscription.deadLetterTopic, kind: kind))
    defer { Task { [api] in await api.subscriptions.remove(handle) } }
    let metadata: Logger.Metadata = [
      "component": "\(subscription.pubsubName)", "topic": "\(subscription.topic)",
    ]
    let pipeline = SubscriptionPipeline(
      api: api, subscription: subscription, channel: channel, reachability: reachability,
      logger: logger)
    var reconnectDelay = Duration.milliseconds(200)
    while !Task.isCancelled {
      do {
        let stream: AsyncThrowingStream<DeliveredMessage, any Error>
        do {
          let (pubsub, _) = try await api.directory.pubSub(subscription.pubsubName)
          stream = try await pubsub.subscribe(
            topic: subscription.topic, metadata: subscription.metadata)
        } catch {
          opened?()
          opened = nil
          throw error
        }
        opened?()
        opened = nil
        logger.info("delivering topic to the app", metadata: metadata)
        reconnectDelay = .milliseconds(200)
        if let bulk = subscription.bulk {
          try await BulkBatcher(options: bulk).run(stream, pipeline: pipeline)
        } else {
          for try await message in stream { await pipeline.handle(message) }
        }
        guard !Task.isCancelled else { return }
        logger.warning("the pub/sub ended the subscription; subscribing again", metadata: metadata)
      } catch is CancellationError {
        return
      } catch {
        guard !Task.isCancelled else { return }
        logger.error(
          "Failed to start subscription for pubsub \(subscription.pubsubName), topic \(subscription.topic): \(error); trying again in \(reconnectDelay)",
          metadata: metadata)
      }
      try? await Task.sleep(for: reconnectDelay)
      reconnectDelay = min(reconnectDelay * 2, .seconds(5))
    }
  }

  // MARK: - Input bindings

  private func deliverBinding(_ name: String) async {
    let metadata: Logger.Metadata = ["component": "\(name)"]
    var reconnectDelay = Duration.milliseconds(200)
    var failures = 0
    while !Task.isCancelled {
      do {
        guard let component = await api.registry.component(named: name),
          case .bindings(let input?, _) = component.kind
        else {
          throw DaprError(
            .unavailable, "ERR_COMPONENT_NOT_READY", "input binding \(name) is not UP")
        }
        let stream = try await input.read()
        logger.info("delivering input binding events to the app", metadata: metadata)
        reconnectDelay = .milliseconds(200)
        for try await event in stream {
          let verdict = await deliverBindingEvent(event, binding: name)
          switch verdict {
          case .success:
            failures = 0
            try? await event.respond()
          case .drop(let reason), .discard(let reason):
            failures = 0
            logger.warning("dropping binding event \(event.id): \(reason)", metadata: metadata)
            try? await event.respond()
          case .retry, .unreachable, .abandoned:
            failures += 1
            try? await Task.sleep(for: Self.backoff(failures))
            try? await event.fail(verdict.reason)
          }
        }
        guard !Task.isCancelled else { return }
        logger.warning("the input binding ended its stream; reading again", metadata: metadata)
      } catch is CancellationError {
        return
      } catch {
        guard !Task.isCancelled else { return }
        logger.warning(
          "cannot read the input binding: \(error); trying again in \(reconnectDelay)",
          metadata: metadata)
      }
      try? await Task.sleep(for: reconnectDelay)
      reconnectDelay = min(reconnectDelay * 2, .seconds(5))
    }
  }

  /// One binding event, inside the binding's inbound policy.
  private func deliverBindingEvent(_ event: BindingEvent, binding: String) async -> AppVerdict {
    let channel = self.channel
    let reachability = self.reachability
    let tracer = api.observability.tracer
    let parent = DeliveryTracing.context(ofBindingMetadata: event.metadata)
    // daprd's input binding span attributes (ConstructInputBindingSpanAttributes).
    let callee =
      channel is GRPCAppChannel
      ? "/dapr.proto.runtime.v1.AppCallback/OnBindingEvent" : "POST /\(binding)"
    return await api.policies.deliverInbound(to: binding) {
      let verdict = await DeliveryTracing.attempt(
        tracer: tracer, name: "bindings/\(binding)", parent: parent,
        attributes: [
          (SpanAttributeNames.dbName, binding), (SpanAttributeNames.rpcService, "Dapr"),
          (SpanAttributeNames.dbSystem, "bindings"),
          (SpanAttributeNames.dbConnectionString, callee),
        ]
      ) {
        await channel.deliver(bindingEvent: event, binding: binding)
      }
      reachability.record(verdict, component: binding)
      return verdict
    }
  }

  /// The wait before handing back an event the app failed `failures` times in a row.
  static func backoff(_ failures: Int) -> Duration {
    let milliseconds = 200 * (1 << min(max(failures - 1, 0), 5))
    return .milliseconds(min(milliseconds, 5000))
  }
}
