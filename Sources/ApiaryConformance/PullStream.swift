import ApiaryContracts
import Foundation
import GRPCCore
import GRPCCoreCTransport
import Synchronization

/// The sidecar's side of one `PullMessages` stream, as a check drives it: subscribe to
/// a topic, take messages one at a time with a deadline, acknowledge or refuse each.
final class PullStream: Sendable {
  typealias Message = Dapr_Proto_Components_V1_PullMessagesResponse

  private struct State {
    var buffer: [Message] = []
    var ended: String?
    var waiter: CheckedContinuation<Message?, Never>?
    /// The wait in progress (each ``next(within:)`` has its own), and whether its
    /// timer fired before it began waiting.
    var wait = 0
    var expired = false
  }
  /// The state, in a box of its own so the stream's tasks can share it.
  private final class Inbox: Sendable {
    let state = Mutex(State())
  }
  private let inbox = Inbox()
  private let acks: AsyncStream<Dapr_Proto_Components_V1_PullMessagesRequest>.Continuation
  private let task: Task<Void, Never>

  /// Opens the stream and sends the topic.
  init(_ context: CheckContext, topic: String, metadata: [String: String] = [:]) {
    let (acks, sink) = AsyncStream<Dapr_Proto_Components_V1_PullMessagesRequest>.makeStream()
    self.acks = sink
    var first = Dapr_Proto_Components_V1_PullMessagesRequest()
    first.topic.name = topic
    first.topic.metadata = metadata
    let client = Dapr_Proto_Components_V1_PubSub.Client(wrapping: context.client)
    let inbox = self.inbox
    task = Task { [first] in
      var ending = "the component ended the stream"
      do {
        try await client.pullMessages(
          metadata: context.metadata, options: context.streamOptions,
          requestProducer: { writer in
            try await writer.write(first)
            for await ack in acks { try await writer.write(ack) }
          },
          onResponse: { response in
            for try await message in response.messages { PullStream.deliver(message, to: inbox) }
          })
      } catch let error as RPCError {
        ending = "the stream failed: \(error.code): \(error.message)"
      } catch {
        ending = "the stream failed: \(error)"
      }
      let waiter = inbox.state.withLock { state in
        state.ended = ending
        defer { state.waiter = nil }
        return state.waiter
      }
      waiter?.resume(returning: nil)
    }
  }

  private static func deliver(_ message: Message, to inbox: Inbox) {
    let waiter = inbox.state.withLock { state -> CheckedContinuation<Message?, Never>? in
      if let waiter = state.waiter {
        state.waiter = nil
        return waiter
      }
      state.buffer.append(message)
      return nil
    }
    waiter?.resume(returning: message)
  }

  /// The next message, or nil when none came within `timeout` (or the stream ended).
  /// One caller at a time.
  func next(within timeout: Duration) async -> Message? {
    let wait = inbox.state.withLock { state in
      state.wait += 1
      state.expired = false
      return state.wait
    }
    let timer = Task { [inbox] in
      try? await Task.sleep(for: timeout)
      let waiter = inbox.state.withLock { state -> CheckedContinuation<Message?, Never>? in
        guard state.wait == wait else { return nil }
        guard let waiter = state.waiter else {
          state.expired = true  // fired before the wait began
          return nil
        }
        state.waiter = nil
        return waiter
      }
      waiter?.resume(returning: nil)
    }
    defer { timer.cancel() }
    return await withCheckedContinuation { continuation in
      let ready = inbox.state.withLock { state -> Message?? in
        if !state.buffer.isEmpty { return .some(state.buffer.removeFirst()) }
        if state.ended != nil || state.expired { return .some(nil) }
        state.waiter = continuation
        return nil
      }
      if let ready { continuation.resume(returning: ready) }
    }
  }

  /// Puts `messages` back in front of the ones not yet taken, in their order.
  func unread(_ messages: [Message]) {
    guard !messages.isEmpty else { return }
    inbox.state.withLock { $0.buffer.insert(contentsOf: messages, at: 0) }
  }

  /// Why the stream ended, if it did.
  var ended: String? { inbox.state.withLock { $0.ended } }

  /// Acknowledges message `id` as processed.
  func ack(_ id: String) {
    var request = Dapr_Proto_Components_V1_PullMessagesRequest()
    request.ackMessageID = id
    acks.yield(request)
  }

  /// Refuses message `id`: the application failed it.
  func nack(_ id: String, _ reason: String = "refused by apiary conformance") {
    var request = Dapr_Proto_Components_V1_PullMessagesRequest()
    request.ackMessageID = id
    request.ackError.message = reason
    acks.yield(request)
  }

  /// Closes the stream from the sidecar's side, as the sidecar does: ends its half
  /// (after the acknowledgements already given are sent) and waits for the component
  /// to end its own, cancelling the call if that takes longer than `timeout`.
  func close(within timeout: Duration) async {
    acks.finish()
    let task = self.task
    let deadline = Task {
      try? await Task.sleep(for: timeout)
      task.cancel()
    }
    await task.value
    deadline.cancel()
  }
}
