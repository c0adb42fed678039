import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCCoreCTransport
import SwiftProtobuf

/// Delivers to a gRPC application (`--app-protocol grpc`) through its
/// `dapr.proto.runtime.v1.AppCallback` service on `127.0.0.1:<app port>`.
///
/// Verdicts: OnTopicEvent's SUCCESS / RETRY / DROP as answered; a failed call is a
/// retry, except UNIMPLEMENTED and NOT_FOUND (the app does not handle it), which
/// drop. A binding event the app accepts (any answer) is a success.
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
        transport, target: .ipv4(host: host, port: port), backoff: (.milliseconds(100), .seconds(2))))
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
      answer = try await callback.listTopicSubscriptions(Google_Protobuf_Empty(), options: options(.seconds(10)))
    } catch let error as RPCError where error.code == .unimplemented {
      return []
    }
    return answer.subscriptions.map { subscription in
      AppSubscription(
        pubsubName: subscription.pubsubName, topic: subscription.topic,
        route: subscription.routes.default.isEmpty ? "" : subscription.routes.default, metadata: subscription.metadata,
        deadLetterTopic: subscription.deadLetterTopic)
    }
  }

  public func inputBindings(configured: [String]) async throws -> [String] {
    do {
      let wanted = try await callback.listInputBindings(Google_Protobuf_Empty(), options: options(.seconds(10))).bindings
      return configured.filter { wanted.contains($0) }
    } catch let error as RPCError where error.code == .unimplemented {
      return []
    }
  }

  public func deliver(event: CloudEvent, route: String) async -> AppVerdict {
    let request = Dapr_Proto_Runtime_V1_TopicEventRequest(event: event, id: event.id, path: route)
    do {
      let answer = try await callback.onTopicEvent(request, options: options(timeout))
      switch answer.status {
      case .success: return .success
      case .retry: return .retry("the app answered RETRY for event \(event.id)")
      case .drop: return .drop("the app answered DROP for event \(event.id)")
      case .UNRECOGNIZED(let value): return .retry("the app answered an unknown status \(value) for event \(event.id)")
      }
    } catch let error as RPCError where error.code == .unimplemented || error.code == .notFound {
      return .drop("the app does not handle event \(event.id): \(error.message)")
    } catch let error as RPCError where error.code == .unavailable {
      return .unreachable("OnTopicEvent for event \(event.id): \(error.message)")
    } catch {
      return .retry("OnTopicEvent failed for event \(event.id): \(error)")
    }
  }

  public func deliver(bindingEvent event: BindingEvent, binding: String) async -> AppVerdict {
    var request = Dapr_Proto_Runtime_V1_BindingEventRequest()
    request.name = binding
    request.data = event.data
    request.metadata = event.metadata
    do {
      _ = try await callback.onBindingEvent(request, options: options(timeout))
      return .success
    } catch let error as RPCError where error.code == .unimplemented || error.code == .notFound {
      return .drop("the app does not handle events of binding \(binding): \(error.message)")
    } catch let error as RPCError where error.code == .unavailable {
      return .unreachable("OnBindingEvent for binding \(binding): \(error.message)")
    } catch {
      return .retry("OnBindingEvent failed for binding \(binding): \(error)")
    }
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
