internal import CGRPCCore
import GRPCCore
import GRPCNIOTransportCore

/// Metadata going to core: a C array of copied slices, released after its batch completes.
// @unchecked Sendable: the array is written once when built and then only read by core
// and freed once, after the batch that owns it completed.
struct OutboundMetadata: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<grpc_metadata>?
  let count: Int

  static let empty = OutboundMetadata(pointer: nil, count: 0)

  /// Keys core owns or rejects; they are dropped as the NIO transport's HTTP/2 layer
  /// would overwrite them. Pseudo-headers (":path") are dropped too.
  static let reserved: Set<String> = [
    "te", "content-type", "user-agent", "grpc-timeout", "grpc-previous-rpc-attempts",
    "grpc-encoding", "grpc-accept-encoding", "grpc-status", "grpc-message", "host",
  ]

  /// Lowercases keys, drops reserved ones, and refuses keys or text values that cannot go
  /// in an HTTP/2 header, naming the key.
  init(_ metadata: Metadata) throws(RPCError) {
    var entries: [(key: [UInt8], value: [UInt8])] = []
    entries.reserveCapacity(metadata.count)
    for (rawKey, value) in metadata {
      let key = rawKey.lowercased()
      if key.hasPrefix(":") || Self.reserved.contains(key) { continue }
      let keyBytes = Array(key.utf8)
      guard cgrpc_header_key_is_legal(keyBytes, keyBytes.count) != 0 else {
        throw RPCError(
          code: .internalError, message: "metadata key '\(rawKey)' is not a legal header name")
      }
      switch value {
      case .string(let text):
        let valueBytes = Array(text.utf8)
        guard cgrpc_header_value_is_legal(valueBytes, valueBytes.count) != 0 else {
          throw RPCError(
            code: .internalError,
            message: "metadata value for '\(rawKey)' is not a legal header value")
        }
        entries.append((keyBytes, valueBytes))
      case .binary(let bytes):
        entries.append((keyBytes, bytes))
      }
    }
    guard !entries.isEmpty else {
      self.init(pointer: nil, count: 0)
      return
    }
    let array = cgrpc_metadata_create(entries.count)!
    for (index, entry) in entries.enumerated() {
      entry.key.withUnsafeBytes { key in
        entry.value.withUnsafeBytes { value in
          cgrpc_metadata_set(
            array, index, key.baseAddress, key.count, value.baseAddress, value.count)
        }
      }
    }
    self.init(pointer: array, count: entries.count)
  }

  private init(pointer: UnsafeMutablePointer<grpc_metadata>?, count: Int) {
    self.pointer = pointer
    self.count = count
  }

  func release() { cgrpc_metadata_destroy(pointer, count) }
}

extension Metadata {
  /// Metadata core received: `-bin` values as bytes (core already decoded the base64).
  init(core array: UnsafePointer<grpc_metadata_array>) {
    self.init()
    let count = cgrpc_metadata_array_count(array)
    for index in 0..<count {
      let entry = cgrpc_metadata_array_at(array, index)!
      let key = String(coreSlice: entry.pointee.key)
      if key.hasSuffix("-bin") {
        self.addBinary(Array(coreSlice: entry.pointee.value), forKey: key)
      } else {
        self.addString(String(coreSlice: entry.pointee.value), forKey: key)
      }
    }
  }
}

extension String {
  init(coreSlice slice: grpc_slice) {
    var slice = slice
    let start = cgrpc_slice_start(&slice)
    let count = cgrpc_slice_length(&slice)
    guard let start, count > 0 else {
      self = ""
      return
    }
    self = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
  }
}

extension Array where Element == UInt8 {
  init(coreSlice slice: grpc_slice) {
    var slice = slice
    let start = cgrpc_slice_start(&slice)
    let count = cgrpc_slice_length(&slice)
    guard let start, count > 0 else {
      self = []
      return
    }
    self = Array(UnsafeBufferPointer(start: start, count: count))
  }
}

typealias ByteBufferPointer = UnsafeMutablePointer<grpc_byte_buffer>

/// Messages: the transport's bytes are the NIO transport's type, so both transports can sit
/// behind one client type in Apiary without converting messages.
enum CoreBytes {
  static func byteBuffer(from bytes: GRPCNIOTransportBytes) -> ByteBufferPointer {
    bytes.withUnsafeBytes { cgrpc_byte_buffer_from($0.baseAddress, $0.count) }
  }

  /// Copies a received message out and destroys core's buffer.
  static func take(_ buffer: ByteBufferPointer) -> GRPCNIOTransportBytes {
    defer { grpc_byte_buffer_destroy(buffer) }
    let length = grpc_byte_buffer_length(buffer)
    var bytes = GRPCNIOTransportBytes(repeating: 0, count: length)
    if length > 0 {
      _ = bytes.withUnsafeMutableBytes { destination in
        cgrpc_byte_buffer_copy(
          buffer, destination.baseAddress!.assumingMemoryBound(to: UInt8.self), length)
      }
    }
    return bytes
  }
}

/// `grpc-timeout` values: at most 8 digits and a unit (H M S m u n).
enum GRPCTimeout {
  static func parse(_ value: String) -> Duration? {
    guard let unit = value.last, value.count >= 2, value.count <= 9,
      let amount = Int64(value.dropLast()), amount >= 0
    else { return nil }
    switch unit {
    case "H": return .seconds(amount * 3600)
    case "M": return .seconds(amount * 60)
    case "S": return .seconds(amount)
    case "m": return .milliseconds(amount)
    case "u": return .microseconds(amount)
    case "n": return .nanoseconds(amount)
    default: return nil
    }
  }

  static func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    if seconds >= Int64.max / 1_000_000_000 { return Int64.max }
    return max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
  }
}

extension Status.Code {
  init(core code: grpc_status_code) {
    self = Status.Code(rawValue: Int(code.rawValue)) ?? .unknown
  }
}

extension grpc_status_code {
  init(_ code: Status.Code) {
    self.init(rawValue: numericCast(code.rawValue))
  }
}

/// Starts one batch on `call`. On failure the tag is taken back and the error returned;
/// the caller still owns what the ops point at.
func startBatch(
  _ call: OpaquePointer, _ ops: [grpc_op], _ completion: Completion
) -> grpc_call_error {
  let tag = CompletionQueue.tag(completion)
  let error = ops.withUnsafeBufferPointer {
    grpc_call_start_batch(call, $0.baseAddress, $0.count, tag, nil)
  }
  if error != GRPC_CALL_OK { CompletionQueue.dropTag(tag) }
  return error
}

func describe(_ error: grpc_call_error) -> String {
  String(cString: grpc_call_error_to_string(error))
}

/// Starts one streamed message, with the initial metadata when that has not gone out yet,
/// and returns at once; `completed` runs on the poller with the batch's success, after
/// the metadata and message are freed. When core refuses the batch they are freed and
/// the error thrown.
func startMessageBatch(
  _ call: OpaquePointer, metadata: OutboundMetadata?, flags: UInt32, message: ByteBufferPointer,
  completed: @escaping (_ success: Bool) -> Void
) throws(RPCError) {
  var ops: [grpc_op] = []
  if let metadata {
    ops.append(cgrpc_op_send_initial_metadata(metadata.pointer, metadata.count, flags))
  }
  ops.append(cgrpc_op_send_message(message, 0))
  let release = {
    metadata?.release()
    grpc_byte_buffer_destroy(message)
  }
  let error = startBatch(
    call, ops,
    Completion { success in
      release()
      completed(success)
    })
  guard error == GRPC_CALL_OK else {
    release()
    throw RPCError(code: .internalError, message: "gRPC core refused a message: \(describe(error))")
  }
}
