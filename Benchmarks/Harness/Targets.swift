import ApiaryContracts
import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCCoreCTransport
import NIOCore

/// The payload of every call: 1 KiB.
let payload = Data((0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })

/// One operation against one path: what a worker calls in a loop.
typealias Call = @Sendable () async throws -> Void

/// The two operations the benchmark measures.
enum Operation: String, CaseIterable, Codable, Sendable {
  case get
  case publish
}

/// The ways to reach the component.
enum Path: String, CaseIterable, Codable, Sendable {
  /// (a) a gRPC client straight to the component's socket.
  case direct
  /// (b) through the sidecar's gRPC API.
  case grpc
  /// (c) through the sidecar's HTTP API.
  case http
}

let componentKey = "bench||k"
/// The instances the sidecar initialised on the benchmark component; direct calls name
/// the same ones (ComponentKit refuses calls for an instance never initialised).
let stateInstance = "statestore"
let pubsubInstance = "pubsub"

func callOptions() -> CallOptions {
  var options = CallOptions.defaults
  options.timeout = .seconds(10)
  return options
}

/// (a): `StateStore/Get` and `PubSub/Publish` on the component's socket.
func directCall(_ operation: Operation, client: GRPCClient<SelectedClientTransport>) -> Call {
  var metadata = Metadata()
  metadata.addString(
    operation == .get ? stateInstance : pubsubInstance, forKey: "x-component-instance")
  let options = callOptions()
  switch operation {
  case .get:
    let store = Dapr_Proto_Components_V1_StateStore.Client(wrapping: client)
    var request = Dapr_Proto_Components_V1_GetRequest()
    request.key = componentKey
    return { [metadata, request] in
      let response = try await store.get(request, metadata: metadata, options: options)
      guard response.data.count == payload.count else {
        throw BenchError("direct Get answered \(response.data.count) bytes")
      }
    }
  case .publish:
    let pubsub = Dapr_Proto_Components_V1_PubSub.Client(wrapping: client)
    var request = Dapr_Proto_Components_V1_PublishRequest()
    request.pubsubName = "pubsub"
    request.topic = "bench"
    request.data = payload
    request.contentType = "application/octet-stream"
    return { [metadata, request] in
      _ = try await pubsub.publish(request, metadata: metadata, options: options)
    }
  }
}

/// (b): `Dapr/GetState` and `Dapr/PublishEvent` on the sidecar's gRPC port.
func grpcAPICall(_ operation: Operation, client: GRPCClient<SelectedClientTransport>) -> Call {
  let dapr = Dapr_Proto_Runtime_V1_Dapr.Client(wrapping: client)
  let options = callOptions()
  switch operation {
  case .get:
    var request = Dapr_Proto_Runtime_V1_GetStateRequest()
    request.storeName = "statestore"
    request.key = "k"
    return { [request] in
      let response = try await dapr.getState(request, options: options)
      guard response.data.count == payload.count else {
        throw BenchError("GetState answered \(response.data.count) bytes")
      }
    }
  case .publish:
    var request = Dapr_Proto_Runtime_V1_PublishEventRequest()
    request.pubsubName = "pubsub"
    request.topic = "bench"
    request.data = payload
    request.dataContentType = "application/octet-stream"
    return { [request] in _ = try await dapr.publishEvent(request, options: options) }
  }
}

/// (c): `GET /v1.0/state/statestore/k` and `POST /v1.0/publish/pubsub/bench`.
func httpAPICall(_ operation: Operation, client: HTTPClient, port: Int) -> Call {
  switch operation {
  case .get:
    let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1.0/state/statestore/k")
    return { [request] in
      let response = try await client.execute(request, timeout: .seconds(10))
      let body = try await response.body.collect(upTo: 1 << 20)
      guard response.status == .ok, body.readableBytes == payload.count else {
        throw BenchError("GET state answered \(response.status), \(body.readableBytes) bytes")
      }
    }
  case .publish:
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1.0/publish/pubsub/bench")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/octet-stream")
    let body = ByteBuffer(bytes: payload)
    return { [request] in
      var request = request
      request.body = .bytes(body)
      let response = try await client.execute(request, timeout: .seconds(10))
      _ = try await response.body.collect(upTo: 1 << 20)
      guard response.status == .noContent || response.status == .ok else {
        throw BenchError("publish answered \(response.status)")
      }
    }
  }
}

struct BenchError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
