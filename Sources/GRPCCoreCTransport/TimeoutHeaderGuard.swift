import GRPCCore
import GRPCNIOTransportCore

/// Ends a call whose `grpc-timeout` header is malformed with INVALID_ARGUMENT, before
/// GRPCCore reads it.
///
/// grpc-swift-2 2.4.3 parses the header in its server executor and stops the process on
/// a negative amount (a precondition in `Timeout`), and ignores other malformed values,
/// so the call runs without the deadline its client meant. gRPC core's HTTP/2 layer
/// vets the header itself, so only the NIO server transport needs this.
///
/// The gRPC HTTP/2 protocol allows 1 to 8 ASCII digits followed by one unit letter:
/// H, M, S, m, u or n.
enum TimeoutHeaderGuard {
  static func problem(in metadata: Metadata) -> String? {
    for value in metadata[stringValues: "grpc-timeout"] where !isWellFormed(value) {
      let shown = value.count > 32 ? String(value.prefix(32)) + "…" : value
      return
        "malformed grpc-timeout header \"\(shown)\": expected 1 to 8 digits and a unit (H, M, S, m, u or n)"
    }
    return nil
  }

  static func isWellFormed(_ value: String) -> Bool {
    let bytes = Array(value.utf8)
    guard (2...9).contains(bytes.count), let unit = bytes.last, Array("HMSmun".utf8).contains(unit)
    else {
      return false
    }
    return bytes.dropLast().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
  }

  typealias Inbound = RPCAsyncSequence<RPCRequestPart<GRPCNIOTransportBytes>, any Error>
  typealias Outbound = RPCWriter<RPCResponsePart<GRPCNIOTransportBytes>>.Closable
  typealias Handler =
    @Sendable (_ stream: RPCStream<Inbound, Outbound>, _ context: ServerContext) async -> Void

  /// `handler`, behind a look at each call's first part: a malformed timeout gets its
  /// status here; any other call goes on with its first part handed back in front.
  static func guarding(_ handler: @escaping Handler) -> Handler {
    { stream, context in
      var iterator = stream.inbound.makeAsyncIterator()
      let first: Result<RPCRequestPart<GRPCNIOTransportBytes>?, any Error>
      do {
        first = .success(try await iterator.next())
      } catch {
        first = .failure(error)
      }
      if case .success(.metadata(let metadata)?) = first, let problem = problem(in: metadata) {
        try? await stream.outbound.write(
          .status(Status(code: .invalidArgument, message: problem), [:]))
        await stream.outbound.finish()
        return
      }
      let inbound = Inbound(wrapping: Replaying(first: first, rest: RestBox(iterator)))
      await handler(
        RPCStream(descriptor: stream.descriptor, inbound: inbound, outbound: stream.outbound),
        context)
    }
  }

  /// The rest of an inbound stream whose first part was already read.
  // @unchecked Sendable: the iterator is moved here once and used by the one task that
  // iterates `Replaying`, which GRPCCore does exactly once per call.
  private final class RestBox: @unchecked Sendable {
    var iterator: Inbound.AsyncIterator
    init(_ iterator: Inbound.AsyncIterator) { self.iterator = iterator }
  }

  /// The first part (or its failure) again, then the rest.
  private struct Replaying: AsyncSequence, Sendable {
    typealias Element = RPCRequestPart<GRPCNIOTransportBytes>
    let first: Result<Element?, any Error>
    let rest: RestBox

    struct AsyncIterator: AsyncIteratorProtocol {
      var first: Result<Element?, any Error>?
      let rest: RestBox

      mutating func next() async throws -> Element? {
        if let pending = first {
          first = nil
          return try pending.get()
        }
        return try await rest.iterator.next()
      }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(first: first, rest: rest) }
  }
}
