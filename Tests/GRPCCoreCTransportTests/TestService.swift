import Foundation
import GRPCCore
import GRPCCoreCTransport

// The transport test service, `apiary.test.v1.TransportTest`, on raw bytes. The contract
// is the one Tests/Fixtures/python/transport_test_peer.py states and implements, so the
// same cases run against a Swift server, a Python server, and from a Python client:
//
// - Unary echoes; ClientStream answers the concatenation; ServerStream sends the request
//   `x-repeat` times (default 3); Bidi echoes each message as it arrives.
// - `x-fail-code: N` fails at once with N and `x-fail-message` (or the UTF-8 of
//   `x-fail-message-bin`), repeated `x-fail-message-repeat` times (default 1), before
//   any metadata: a trailers-only response.
// - `x-echo-*` request entries come back in the initial metadata; `x-sleep-ms` waits first.
// - Trailers on success: `x-trailer: done`, `x-count: <request messages received>`.

struct RawBytes: MessageSerializer, MessageDeserializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
  func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] {
    bytes.withUnsafeBytes { Array($0) }
  }
}

enum TransportTestMethod: String, CaseIterable, Sendable {
  case unary = "Unary"
  case clientStream = "ClientStream"
  case serverStream = "ServerStream"
  case bidi = "Bidi"

  static let service = "apiary.test.v1.TransportTest"

  var type: MethodDescriptor.RPCType {
    switch self {
    case .unary: .unary
    case .clientStream: .clientStreaming
    case .serverStream: .serverStreaming
    case .bidi: .bidirectionalStreaming
    }
  }

  var descriptor: MethodDescriptor {
    MethodDescriptor(fullyQualifiedService: Self.service, method: rawValue, type: type)
  }
}

/// Request metadata the service reads.
private struct Controls {
  var failure: RPCError?
  var sleep: Duration?
  /// `x-work-ms`: a wait that ignores cancellation (graceful shutdown tests).
  var work: Duration?
  var echoed = Metadata()
  var repeats = 3
  /// `x-fail-first: KEY:N`: the first N calls carrying KEY fail UNAVAILABLE (retry tests).
  var failFirst: String?

  init(_ metadata: Metadata) {
    if let text = metadata[stringValues: "x-fail-code"].first(where: { _ in true }),
      let raw = Int(text),
      let status = Status.Code(rawValue: raw), let code = RPCError.Code(status)
    {
      let message =
        metadata[stringValues: "x-fail-message"].first(where: { _ in true })
        ?? metadata[binaryValues: "x-fail-message-bin"].first(where: { _ in true }).map {
          String(decoding: $0, as: UTF8.self)
        }
        ?? ""
      let repeats =
        metadata[stringValues: "x-fail-message-repeat"].first(where: { _ in true }).flatMap {
          Int($0)
        } ?? 1
      failure = RPCError(code: code, message: String(repeating: message, count: max(1, repeats)))
    }
    if let details = metadata[binaryValues: "x-fail-details-bin"].first(where: { _ in true }),
      failure != nil
    {
      failure?.metadata.addBinary(details, forKey: "grpc-status-details-bin")
    }
    if let key = metadata[stringValues: "x-fail-first"].first(where: { _ in true }) {
      failFirst = key
    }
    if let text = metadata[stringValues: "x-sleep-ms"].first(where: { _ in true }),
      let ms = Int(text)
    {
      sleep = .milliseconds(ms)
    }
    if let text = metadata[stringValues: "x-work-ms"].first(where: { _ in true }),
      let ms = Int(text)
    {
      work = .milliseconds(ms)
    }
    if let text = metadata[stringValues: "x-repeat"].first(where: { _ in true }),
      let count = Int(text)
    {
      repeats = count
    }
    for (key, value) in metadata where key.hasPrefix("x-echo-") {
      switch value {
      case .string(let text): echoed.addString(text, forKey: key)
      case .binary(let bytes): echoed.addBinary(bytes, forKey: key)
      }
    }
  }

  /// Waits `sleep`, or until the RPC is cancelled (its deadline, or the client).
  func pause(_ context: ServerContext) async throws {
    guard let sleep else { return }
    try await withThrowingTaskGroup(of: Bool.self) { group in
      group.addTask {
        try await Task.sleep(for: sleep)
        return true
      }
      group.addTask {
        try? await context.cancellation.cancelled
        return false
      }
      let slept = try await group.next()!
      group.cancelAll()
      if !slept { throw RPCError(code: .cancelled, message: "cancelled while sleeping") }
    }
  }
}

private func trailers(count: Int) -> Metadata {
  ["x-trailer": "done", "x-count": "\(count)"]
}

/// Counts what the handler received, across the task that reads and the one that writes.
// @unchecked Sendable: its state is only touched under `lock`.
private final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var value = 0
  func increment() { lock.withLock { value += 1 } }
  var count: Int { lock.withLock { value } }
}

struct TransportTestService: RegistrableRPCService {
  /// What the handlers saw of cancellation, for the tests that cancel.
  let cancellations = CancellationLog()
  /// Handlers that reached their response body.
  let started = CancellationLog()
  /// Attempts seen per `x-fail-first` key.
  let attempts = AttemptLog()

  /// The C++ floor's echo (Benchmarks/floor/echo.proto): the request's bytes back.
  static let floorEcho = MethodDescriptor(
    fullyQualifiedService: "apiary.bench.v1.Echo", method: "Echo", type: .unary)

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerHandler(
      forMethod: Self.floorEcho, deserializer: RawBytes(), serializer: RawBytes()
    ) { request, _ in
      var last: [UInt8] = []
      for try await message in request.messages { last = message }
      return StreamingServerResponse(single: ServerResponse(message: last))
    }
    for method in TransportTestMethod.allCases {
      let log = cancellations
      let attempts = self.attempts
      let started = self.started
      router.registerHandler(
        forMethod: method.descriptor, deserializer: RawBytes(), serializer: RawBytes()
      ) { request, context in
        let controls = Controls(request.metadata)
        if let failure = controls.failure { throw failure }
        if let failFirst = controls.failFirst, attempts.failThisAttempt(failFirst) {
          throw RPCError(code: .unavailable, message: "failing attempt of \(failFirst)")
        }
        return StreamingServerResponse(metadata: controls.echoed) { writer in
          let counter = Counter()
          started.record()
          do {
            // Work that ignores cancellation, as most handlers do.
            if let work = controls.work { try? await Task.sleep(for: work) }
            try await controls.pause(context)
            switch method {
            case .unary:
              var last: [UInt8] = []
              for try await message in request.messages {
                counter.increment()
                last = message
              }
              try await writer.write(last)
            case .clientStream:
              var all: [UInt8] = []
              for try await message in request.messages {
                counter.increment()
                all += message
              }
              try await writer.write(all)
            case .serverStream:
              var last: [UInt8] = []
              for try await message in request.messages {
                counter.increment()
                last = message
              }
              for _ in 0..<controls.repeats { try await writer.write(last) }
            case .bidi:
              for try await message in request.messages {
                counter.increment()
                try await writer.write(message)
              }
            }
          } catch {
            // The RPC's handle (deadline, client gone, server stopping) or the task.
            if context.cancellation.isCancelled || Task.isCancelled || error is CancellationError {
              log.record()
            }
            throw error
          }
          return trailers(count: counter.count)
        }
      }
    }
  }
}

// @unchecked Sendable: its state is only touched under `lock`.
final class AttemptLog: @unchecked Sendable {
  private let lock = NSLock()
  private var seen: [String: Int] = [:]

  /// Counts an attempt for "KEY:N" and says whether it is one of the first N.
  func failThisAttempt(_ spec: String) -> Bool {
    let parts = spec.split(separator: ":")
    let limit = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
    return lock.withLock {
      seen[spec, default: 0] += 1
      return seen[spec]! <= limit
    }
  }

  func count(_ spec: String) -> Int { lock.withLock { seen[spec] ?? 0 } }
}

/// A count shared between handlers and the test.
// @unchecked Sendable: its state is only touched under `lock`.
final class CancellationLog: @unchecked Sendable {
  private let lock = NSLock()
  private var seen = 0
  func record() { lock.withLock { seen += 1 } }
  var count: Int { lock.withLock { seen } }
}

/// Client-side calls of the test service through any transport.
struct TransportTestClient: Sendable {
  let client: GRPCClient<SelectedClientTransport>

  struct Answer: Sendable {
    var messages: [[UInt8]] = []
    var initial = Metadata()
    var trailers = Metadata()
  }

  func call(
    _ method: TransportTestMethod,
    _ messages: [[UInt8]],
    metadata: Metadata = [:],
    timeout: Duration? = .seconds(20),
    waitForReady: Bool? = nil
  ) async throws -> Answer {
    var options = CallOptions.defaults
    options.timeout = timeout
    options.waitForReady = waitForReady
    let request = StreamingClientRequest<[UInt8]>(metadata: metadata) { writer in
      for message in messages { try await writer.write(message) }
    }
    return try await client.bidirectionalStreaming(
      request: request, descriptor: method.descriptor, serializer: RawBytes(),
      deserializer: RawBytes(),
      options: options
    ) { response in
      var answer = Answer()
      answer.initial = response.metadata
      switch response.accepted {
      case .success(let contents):
        for try await part in contents.bodyParts {
          switch part {
          case .message(let message): answer.messages.append(message)
          case .trailingMetadata(let trailers): answer.trailers = trailers
          }
        }
      case .failure(let error):
        throw error
      }
      return answer
    }
  }
}
