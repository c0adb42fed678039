import ApiaryContracts
import Foundation
import GRPCCore

/// One event an input binding hands to the application.
public struct InputBindingEvent: Sendable, Equatable {
  /// The payload, delivered to the application as the request body.
  public var data: Data
  /// Metadata delivered with it (HTTP headers or gRPC metadata at the application).
  public var metadata: [String: String]
  /// The payload's content type; empty means the sidecar's default.
  public var contentType: String

  /// An event with `data`, delivered with `metadata`; an empty `contentType` leaves
  /// the choice to the sidecar.
  public init(data: Data, metadata: [String: String] = [:], contentType: String = "") {
    self.data = data
    self.metadata = metadata
    self.contentType = contentType
  }
}

/// What the application answered to one ``InputBindingEvent``.
public enum InputBindingReply: Sendable, Equatable {
  /// The application handled it; its response body (often empty).
  case handled(Data)
  /// The application failed it; the sidecar's error message.
  case failed(String)
}

/// An input binding (`dapr.proto.components.v1.InputBinding`) written with ComponentKit.
/// One value is created per configured instance (`x-component-instance`).
public protocol InputBindingComponent: Sendable {
  /// Prepares the instance with its resolved component metadata.
  func initialise(metadata: [String: String]) async throws
  /// Produces events for as long as the sidecar reads: each call of `deliver` sends one
  /// event and returns the application's reply. `deliver` may be called from several
  /// tasks at once. Return (or throw) to end the stream; when the sidecar goes away,
  /// `deliver` throws and the task is cancelled.
  func read(deliver: InputBindingDelivery) async throws
  /// Answers the sidecar's heartbeat; throw when the source is unreachable.
  func ping() async throws
}

extension InputBindingComponent {
  /// Answers every heartbeat; implement it to report an unreachable source.
  public func ping() async throws {}
}

/// Sends events to the sidecar on one `Read` stream and waits for each one's reply.
public struct InputBindingDelivery: Sendable {
  fileprivate let outgoing: AsyncStream<Dapr_Proto_Components_V1_ReadResponse>.Continuation
  fileprivate let replies: PendingReplies<InputBindingReply>

  /// Sends `event` and returns the application's reply.
  ///
  /// - Throws: ``InputBindingStreamClosed`` when the stream ended before the reply came,
  ///   or `CancellationError` when the calling task was cancelled.
  public func callAsFunction(_ event: InputBindingEvent) async throws -> InputBindingReply {
    var message = Dapr_Proto_Components_V1_ReadResponse()
    message.data = event.data
    message.metadata = event.metadata
    message.contentType = event.contentType
    message.messageID = replies.nextID()
    let outgoing = self.outgoing
    return try await replies.wait(for: message.messageID) { [message] in outgoing.yield(message) }
  }
}

/// The `Read` stream ended (the sidecar stopped reading, or the component returned)
/// while an event still waited for its reply.
public struct InputBindingStreamClosed: Error, Sendable, CustomStringConvertible {
  /// What happened, in one sentence.
  public var description: String {
    "the sidecar's Read stream closed before the event was answered"
  }
}

extension InputBindingReply {
  /// The reply a `ReadRequest` from the sidecar carries.
  init(_ answer: Dapr_Proto_Components_V1_ReadRequest) {
    self =
      answer.hasResponseError
      ? .failed(answer.responseError.message) : .handled(answer.responseData)
  }
}

/// Serves `dapr.proto.components.v1.InputBinding` over instances made by a factory.
struct InputBindingService<Binding: InputBindingComponent>: Dapr_Proto_Components_V1_InputBinding
    .ServiceProtocol
{
  let instances: InstanceRegistry<Binding>

  func `init`(
    request: ServerRequest<Dapr_Proto_Components_V1_InputBindingInitRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_InputBindingInitResponse> {
    try await instances.initCall(request) { binding, message in
      try await binding.initialise(metadata: message.metadata.properties)
    }
  }

  func read(
    request: StreamingServerRequest<Dapr_Proto_Components_V1_ReadRequest>,
    context: ServerContext
  ) async throws -> StreamingServerResponse<Dapr_Proto_Components_V1_ReadResponse> {
    let binding = try instances.instance(for: request.metadata)
    return StreamingServerResponse { writer in
      let replies = PendingReplies<InputBindingReply>(closedError: { InputBindingStreamClosed() })
      try await serveAnsweredStream(
        messages: request.messages, writer: writer, replies: replies,
        receive: { answer in replies.resolve(answer.messageID, with: InputBindingReply(answer)) },
        produce: { sink in
          try await binding.read(deliver: InputBindingDelivery(outgoing: sink, replies: replies))
        })
      return [:]
    }
  }

  func ping(
    request: ServerRequest<Dapr_Proto_Components_V1_PingRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Dapr_Proto_Components_V1_PingResponse> {
    try await instances.perform(request) { binding, _ in try await binding.ping() }
  }
}

extension ComponentRegistration {
  /// An input binding (`dapr.proto.components.v1.InputBinding`). `make` runs once per
  /// `Init`.
  public static func inputBinding<Binding: InputBindingComponent>(
    _ make: @escaping @Sendable () -> Binding
  ) -> Self {
    Self(
      InputBindingService(instances: InstanceRegistry(make: make)),
      named: Dapr_Proto_Components_V1_InputBinding.descriptor)
  }
}
