import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCCoreCTransport
import SwiftProtobuf

/// Delivers to a gRPC application (`--app-protocol grpc`) through its
/// `dapr.proto.runtime.v1.AppCallback` service on `127.0.0.1:<app port>` (spec §6.3).
///
/// Verdicts: OnTopicEvent's SUCCESS / RETRY / DROP as answered; a failed call is a
/// retry (unreachable when the app is not there), except UNIMPLEMENTED, which
/// discards the event (acknowledged, no dead letter). Batches go to
/// `OnBulkTopicEvent`, else `AppCallbackAlpha.OnBulkTopicEventAlpha1`.
public final class GRPCAppChannel: AppChannel {
  private let client: GRPCClient<SelectedClientTransport>
  private let connections: Task<Void, Never>
  private let timeout: Duration

  public init(
    port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(60),
    transport: TransportKind = TransportKind.fromEnvironment ?? .default
  ) throws {
    let client = GRPCClient(
      transport: try SelectedClientTransport(
        transport, target: .ipv4(host: host, port: port), backoff: (.milliseconds(100), .seconds(2))
      ))
    self.client = client
    self.timeout = timeout
    connections = Task { try? await client.runConnections() }
  }

  private var callback: Dapr_Proto_Runtime_V1_AppCallback.Client<SelectedClientTransport> {
    Dapr_Proto_Runtime_V1_AppCallback.Client(wrapping: client)
  }

  private func options(_ timeout: Duration) -> CallOptions {
    var options = CallOptions.defaults
    options.timeout = timeout
    return options
  }

  public func programmaticSubscriptions() async throws -> [AppSubscription] {
    let answer: Dapr_Proto_Runtime_V1_ListTopicSubscriptionsResponse
    do {
      answer = try await callback.listTopicSubscriptions(
        Google_Protobuf_Empty(), options: options(.seconds(10)))
    } catch let error as RPCError where error.code == .unimplemented {
      return []
    }
    var subscriptions: [AppSubscription] = []
    for subscription in answer.subscriptions {
      var routes = SubscriptionRoutes()
      for rule in subscription.routes.rules {
        do {
          routes.rules.append(try SubscriptionRoutes.Rule(match: rule.match, path: rule.path))
        } catch {
          throw AppChannelError(
            "ListTopicSubscriptions: topic \(subscription.topic): the rule '\(rule.match)' does not parse at \(error)"
          )
        }
      }
      // Missing routes: path "", as daprd delivers them.
      routes.defaultPath = subscription.routes.default
      var bulk: BulkSubscribeOptions?
      if subscription.bulkSubscribe.enabled {
        var options = BulkSubscribeOptions()
        if subscription.bulkSubscribe.maxMessagesCount > 0 {
          options.maxMessagesCount = Int(subscription.bulkSubscribe.maxMessagesCount)
        }
        if subscription.bulkSubscribe.maxAwaitDurationMs > 0 {
          options.maxAwaitDuration = .milliseconds(
            Int(subscription.bulkSubscribe.maxAwaitDurationMs))
        }
        bulk = options
      }
      subscriptions.append(
        AppSubscription(
          pubsubName: subscription.pubsubName, topic: subscription.topic, routes: routes,
          metadata: subscription.metadata, deadLetterTopic: subscription.deadLetterTopic, bulk: bulk
        ))
    }
    return subscriptions
  }

  public func inputBindings(configured: [String]) async throws -> [String] {
    do {
      let wanted = try await callback.listInputBindings(
        Google_Protobuf_Empty(), options: options(.seconds(10))
      ).bindings
      return configured.filter { wanted.contains($0) }
    } catch let error as RPCError where error.code == .unimplemented {
      return []
    }
  }

  public func deliver(
    event: CloudEvent, topic: String, route: String, metadata: [String: String]
  ) async -> AppVerdict {
    let request = Dapr_Proto_Runtime_V1_TopicEventRequest(
      event: event, id: event.id, path: route, topic: topic)
    do {
      var callMetadata = Self.metadata(metadata)
      Self.addTrace(TraceContext.current, to: &callMetadata)
      let answer = try await callback.onTopicEvent(
        request, metadata: callMetadata, options: options(timeout))
      return Self.verdict(answer.status, eventID: event.id)
    } catch let error as RPCError {
      return Self.verdict(error, what: "pub/sub event \(event.id)")
    } catch {
      return .retry(AppFailure("OnTopicEvent failed for event \(event.id): \(error)"))
    }
  }

  public func deliver(
    bulk events: [BulkEvent], route: String, subscription: AppSubscription
  ) async -> [String: AppVerdict] {
    var request = Dapr_Proto_Runtime_V1_TopicEventBulkRequest()
    request.id = UUID().uuidString.lowercased()
    request.topic = subscription.topic
    request.pubsubName = subscription.pubsubName
    request.type = "com.dapr.event.sent.bulk"
    request.path = route
    request.entries = events.map { event in
      var entry = Dapr_Proto_Runtime_V1_TopicEventBulkRequestEntry()
      entry.entryID = event.entryID
      entry.metadata = event.metadata
      if event.raw {
        entry.bytes = event.bytes
        entry.contentType = "application/octet-stream"
      } else {
        entry.cloudEvent = Dapr_Proto_Runtime_V1_TopicEventCERequest(event: event.event)
        entry.contentType = CloudEvent.contentType
      }
      return entry
    }
    let all: (AppVerdict) -> [String: AppVerdict] = { verdict in
      Dictionary(uniqueKeysWithValues: events.map { ($0.entryID, verdict) })
    }
    let answer: Dapr_Proto_Runtime_V1_TopicEventBulkResponse
    do {
      do {
        answer = try await callback.onBulkTopicEvent(request, options: options(timeout))
      } catch let error as RPCError where error.code == .unimplemented {
        let alpha = Dapr_Proto_Runtime_V1_AppCallbackAlpha.Client(wrapping: client)
        answer = try await alpha.onBulkTopicEventAlpha1(request, options: options(timeout))
      }
    } catch let error as RPCError where error.code == .unimplemented {
      return all(
        .drop(
          "the app implements neither OnBulkTopicEvent nor OnBulkTopicEventAlpha1: \(error.message)"
        ))
    } catch let error as RPCError {
      return all(Self.verdict(error, what: "a batch of \(events.count) pub/sub events"))
    } catch {
      return all(.retry(AppFailure("OnBulkTopicEvent failed: \(error)")))
    }
    var verdicts: [String: AppVerdict] = [:]
    for status in answer.statuses {
      verdicts[status.entryID] = Self.verdict(status.status, eventID: status.entryID)
    }
    return verdicts
  }

  public func deliver(bindingEvent event: BindingEvent, binding: String) async -> AppVerdict {
    var request = Dapr_Proto_Runtime_V1_BindingEventRequest()
    request.name = binding
    request.data = event.data
    request.metadata = event.metadata
    var metadata = Metadata()
    Self.addTrace(TraceContext.current, to: &metadata)
    do {
      _ = try await callback.onBindingEvent(request, metadata: metadata, options: options(timeout))
      return .success
    } catch let error as RPCError where error.code == .unimplemented || error.code == .notFound {
      return .discard("the app does not handle events of binding \(binding): \(error.message)")
    } catch let error as RPCError where error.code == .unavailable {
      return .unreachable("OnBindingEvent for binding \(binding): \(error.message)")
    } catch {
      return .retry(AppFailure("OnBindingEvent failed for binding \(binding): \(error)"))
    }
  }

  /// The verdict of an answered status.
  static func verdict(
    _ status: Dapr_Proto_Runtime_V1_TopicEventResponse.TopicEventResponseStatus, eventID: String
  ) -> AppVerdict {
    switch status {
    case .success: .success
    case .retry: .retry(AppFailure("<nil>"))
    case .drop: .drop("DROP status returned from app while processing pub/sub event \(eventID)")
    case .UNRECOGNIZED(let value):
      .retry(AppFailure("unknown status \(value) returned from app for pub/sub event \(eventID)"))
    }
  }

  /// The verdict of a failed call: UNIMPLEMENTED discards, UNAVAILABLE is an absent
  /// app, anything else a retry carrying the code.
  static func verdict(_ error: RPCError, what: String) -> AppVerdict {
    switch error.code {
    case .unimplemented:
      .discard(
        "non-retriable error returned from app while processing \(what): \(error.code.goName): \(error.message)"
      )
    case .unavailable:
      .unreachable("the app could not be reached for \(what): \(error.message)")
    default:
      .retry(
        AppFailure(
          "rpc error: code = \(error.code.goName) desc = \(error.message)",
          grpcCode: error.code.rawValue))
    }
  }

  /// The delivery's trace context as daprd sends it to a gRPC app: `traceparent`
  /// (with `tracestate`) and `grpc-trace-bin`.
  static func addTrace(_ trace: TraceContext?, to metadata: inout Metadata) {
    guard let trace else { return }
    metadata.removeAllValues(forKey: "traceparent")
    metadata.removeAllValues(forKey: "tracestate")
    metadata.addString(trace.traceparent, forKey: "traceparent")
    if !trace.tracestate.isEmpty { metadata.addString(trace.tracestate, forKey: "tracestate") }
    metadata.addBinary(GRPCTraceBin.encode(trace), forKey: GRPCTraceBin.key)
  }

  /// The message's metadata as call metadata (text keys only).
  static func metadata(_ values: [String: String]) -> Metadata {
    var metadata = Metadata()
    for (key, value) in values
    where !key.isEmpty && !key.hasSuffix("-bin") && !key.hasPrefix("grpc-") {
      let name = key.lowercased()
      guard
        name.unicodeScalars.allSatisfy({
          ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)
        })
      else { continue }
      metadata.addString(value, forKey: name)
    }
    return metadata
  }

  public func close() async {
    client.beginGracefulShutdown()
    let connections = self.connections
    let deadline = Task {
      try? await Task.sleep(for: .seconds(1))
      connections.cancel()
    }
    await connections.value
    deadline.cancel()
  }
}

extension Dapr_Proto_Runtime_V1_TopicEventCERequest {
  /// A batch entry's CloudEvent attributes.
  init(event: CloudEvent) {
    self.init()
    id = event.id
    source = event.source
    type = event.type
    specVersion = event.specVersion
    dataContentType = event.dataContentType
    data = event.data
    if let text = String(data: event.extensionsJSON, encoding: .utf8),
      let extensions = try? Google_Protobuf_Struct(jsonString: text)
    {
      self.extensions = extensions
    }
  }
}
