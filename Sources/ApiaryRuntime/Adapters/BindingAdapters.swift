import ApiaryContracts
import Foundation
import GRPCCore
import GRPCCoreCTransport

/// ``OutputBinding`` over a pluggable component's `OutputBinding` service.
public struct OutputBindingAdapter: OutputBinding {
  let context: AdapterContext
  private var client: Dapr_Proto_Components_V1_OutputBinding.Client<SelectedClientTransport> {
    .init(wrapping: context.channel.client)
  }

  public init(context: AdapterContext) {
    self.context = context
  }

  /// Runs `Init` with the resolved metadata, then lists the operations.
  public func initialise(metadata: [String: String], timeout: Duration) async throws -> [String] {
    var request = Dapr_Proto_Components_V1_OutputBindingInitRequest()
    request.metadata.properties = metadata
    try await context.call("Init", timeout: timeout) { [request] in
      _ = try await client.`init`(
        request, metadata: context.metadata, options: context.options(timeout: timeout))
    }
    return try await listOperations(timeout: timeout)
  }

  private func listOperations(timeout: Duration? = nil) async throws -> [String] {
    try await context.call("ListOperations", timeout: timeout) {
      try await client.listOperations(
        Dapr_Proto_Components_V1_ListOperationsRequest(), metadata: context.metadata,
        options: context.options(timeout: timeout)
      ).operations
    }
  }

  /// Answers the heartbeat.
  public func ping(timeout: Duration) async throws {
    let client = self.client
    try await context.ping(timeout: timeout) { metadata, options in
      _ = try await client.ping(.init(), metadata: metadata, options: options)
    }
  }

  public func invoke(
    operation: String, data: Data, metadata: [String: String]
  ) async throws -> BindingInvokeResponse {
    var request = Dapr_Proto_Components_V1_InvokeRequest()
    request.operation = operation
    request.data = data
    request.metadata = metadata
    let response = try await context.call("Invoke", subject: operation) { [request] in
      try await client.invoke(request, metadata: context.metadata, options: context.options())
    }
    return BindingInvokeResponse(
      data: response.data, metadata: response.metadata,
      contentType: response.contentType.isEmpty ? nil : response.contentType)
  }

  public func operations() async throws -> [String] {
    try await listOperations()
  }
}

/// ``InputBinding`` over a pluggable component's `InputBinding` service.
///
/// `Read` is one stream: the component sends events, and each request the sidecar sends
/// answers exactly one event by its `message_id`, with `response_data` or, when the app
/// failed it, `response_error`.
public struct InputBindingAdapter: InputBinding {
  let context: AdapterContext
  private var client: Dapr_Proto_Components_V1_InputBinding.Client<SelectedClientTransport> {
    .init(wrapping: context.channel.client)
  }

  public init(context: AdapterContext) {
    self.context = context
  }

  /// Runs `Init` with the resolved metadata.
  public func initialise(metadata: [String: String], timeout: Duration) async throws {
    var request = Dapr_Proto_Components_V1_InputBindingInitRequest()
    request.metadata.properties = metadata
    try await context.call("Init", timeout: timeout) { [request] in
      _ = try await client.`init`(
        request, metadata: context.metadata, options: context.options(timeout: timeout))
    }
  }

  /// Answers the heartbeat.
  public func ping(timeout: Duration) async throws {
    let client = self.client
    try await context.ping(timeout: timeout) { metadata, options in
      _ = try await client.ping(.init(), metadata: metadata, options: options)
    }
  }

  public func read() async throws -> AsyncThrowingStream<BindingEvent, any Error> {
    let (answers, answerSink) = AsyncStream<Dapr_Proto_Components_V1_ReadRequest>.makeStream()
    let (events, sink) = AsyncThrowingStream<BindingEvent, any Error>.makeStream()
    let context = self.context
    let client = self.client
    let reading = Task {
      do {
        try await client.read(
          metadata: context.metadata,
          options: context.streamOptions,
          requestProducer: { writer in
            for await answer in answers { try await writer.write(answer) }
          },
          onResponse: { response in
            for try await event in response.messages {
              sink.yield(
                BindingEvent(
                  id: event.messageID,
                  data: event.data,
                  contentType: event.contentType.isEmpty ? nil : event.contentType,
                  metadata: event.metadata,
                  answer: { data, error in
                    var answer = Dapr_Proto_Components_V1_ReadRequest()
                    answer.messageID = event.messageID
                    if let error {
                      answer.responseError.message = error
                    } else if let data {
                      answer.responseData = data
                    }
                    answerSink.yield(answer)
                  }
                ))
            }
            answerSink.finish()
          }
        )
        sink.finish()
      } catch let error as RPCError where error.code == .cancelled {
        sink.finish()
      } catch let error as RPCError {
        sink.finish(throwing: context.translate(error, what: "Read"))
      } catch {
        sink.finish(throwing: error)
      }
      answerSink.finish()
    }
    sink.onTermination = { _ in
      reading.cancel()
      answerSink.finish()
    }
    return events
  }
}
