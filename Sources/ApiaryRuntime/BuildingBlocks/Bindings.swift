import Foundation

/// The result of invoking an output binding.
public struct BindingInvokeResponse: Sendable, Equatable {
  public var data: Data
  public var metadata: [String: String]
  public var contentType: String?

  public init(data: Data = Data(), metadata: [String: String] = [:], contentType: String? = nil) {
    self.data = data
    self.metadata = metadata
    self.contentType = contentType
  }
}

/// Something an app sends to an outside system: the output binding building block.
public protocol OutputBinding: Sendable {
  /// Performs `operation` (one of ``operations()``) with `data`.
  func invoke(
    operation: String, data: Data, metadata: [String: String]
  ) async throws -> BindingInvokeResponse
  /// The operations this binding supports, as the component listed them at Init.
  func operations() async throws -> [String]
}

/// An event from an outside system. Answer it exactly once with ``respond(data:)`` or
/// ``fail(_:)``.
public struct BindingEvent: Sendable {
  public var id: String
  public var data: Data
  public var contentType: String?
  public var metadata: [String: String]
  private let answer: @Sendable (_ data: Data?, _ error: String?) async throws -> Void

  public init(
    id: String, data: Data, contentType: String?, metadata: [String: String],
    answer: @escaping @Sendable (_ data: Data?, _ error: String?) async throws -> Void
  ) {
    self.id = id
    self.data = data
    self.contentType = contentType
    self.metadata = metadata
    self.answer = answer
  }

  /// The app processed the event; `data` is its answer to the outside system.
  public func respond(data: Data? = nil) async throws { try await answer(data, nil) }

  /// The app failed to process the event.
  public func fail(_ error: String) async throws { try await answer(nil, error) }
}

/// Something an outside system sends to the app: the input binding building block.
public protocol InputBinding: Sendable {
  /// The events, until the stream ends or the consuming task is cancelled.
  func read() async throws -> AsyncThrowingStream<BindingEvent, any Error>
}
