import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The ports ``freeTCPPort()`` handed out in this process, never handed out twice.
private let handedOut = Mutex<Set<Int>>([])

/// A TCP port on 127.0.0.1 that was free a moment ago, chosen below the kernel's
/// ephemeral range (32768-60999 by default): a port the kernel picks for port 0 is
/// also what it gives outgoing connections as their local port, so a test's own
/// client could take it before the server it was meant for binds it ("Address
/// already in use"). A port is never handed out twice in one process, so tests
/// running in parallel never share one.
public func freeTCPPort() throws -> Int {
  for _ in 0..<500 {
    let candidate = Int.random(in: 20000..<32768)
    guard handedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
    if try bindable(candidate) { return candidate }
  }
  // Every try was taken: the kernel's choice, as a last resort.
  return try boundPort(requesting: 0)
}

/// Whether 127.0.0.1:`port` can be bound right now.
private func bindable(_ port: Int) throws -> Bool {
  do {
    _ = try boundPort(requesting: port)
    return true
  } catch let error as BindFailure where error.code == EADDRINUSE || error.code == EACCES {
    return false
  }
}

/// Why a bind failed.
private struct BindFailure: Error, CustomStringConvertible {
  let code: Int32
  var description: String { "bind() failed: \(String(cString: strerror(code)))" }
}

/// Binds a socket to 127.0.0.1:`port` (0: the kernel's choice), closes it, and answers
/// the port it had.
private func boundPort(requesting port: Int) throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw TestSupportError("socket() failed: \(errno)") }
  defer { close(fd) }
  var address = loopback(port: port)
  let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  guard bound == 0 else { throw BindFailure(code: errno) }
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let named = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  guard named == 0 else { throw TestSupportError("getsockname() failed: \(errno)") }
  return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` right now.
public func tcpPortAccepts(_ port: Int) -> Bool {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var address = loopback(port: port)
  let result = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  return result == 0
}

private func loopback(port: Int) -> sockaddr_in {
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = UInt16(port).bigEndian
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  return address
}

/// A plain HTTP/1.0 GET of 127.0.0.1:`port``path`, with a 5 s receive timeout: the
/// status and the body, or nil when nothing answers. Cheap enough to poll every few
/// milliseconds (no child process).
public func httpGet(port: Int, _ path: String) async -> (status: Int, body: String)? {
  await httpRequest(port: port, "GET", path)
}

/// A plain HTTP/1.0 request of 127.0.0.1:`port``path` with `headers` and `body`, with a
/// 5 s receive timeout: the status and the body, or nil when nothing answers.
public func httpRequest(
  port: Int, _ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []
) async -> (status: Int, body: String)? {
  var head = "\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
  for (name, value) in headers { head += "\(name): \(value)\r\n" }
  if !body.isEmpty || method == "PUT" || method == "POST" {
    head += "Content-Length: \(body.count)\r\n"
  }
  let request = Array((head + "\r\n").utf8) + body
  guard let exchange = await tcpExchange(port: port, send: request, receiveTimeout: 5) else {
    return nil
  }
  let text = exchange.received
  guard let statusLine = text.split(separator: "\r\n", maxSplits: 1).first else { return nil }
  let words = statusLine.split(separator: " ")
  guard words.count >= 2, let status = Int(words[1]) else { return nil }
  let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
  return (status, body)
}

/// Sends `bytes` to 127.0.0.1:`port` and reads until the server closes the
/// connection or `receiveTimeout` seconds pass without a byte: what came back, and
/// whether the server closed (false: still open when the wait ran out). Nil when the
/// connection fails.
private func blockingTCPExchange(
  port: Int, send bytes: [UInt8], receiveTimeout: Int
) -> (received: String, closedByServer: Bool)? {
  guard let fd = connectAndSend(port: port, bytes, receiveTimeout: receiveTimeout) else {
    return nil
  }
  defer { close(fd) }
  var response: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  var closed = false
  while true {
    let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count == 0 { closed = true }
    if count <= 0 {
      if count < 0, errno == ECONNRESET { closed = true }
      break
    }
    response += chunk[..<count]
  }
  return (String(decoding: response, as: UTF8.self), closed)
}

/// Opens `count` TCP connections to 127.0.0.1:`port` and leaves them open (idle): their
/// descriptors, to check with ``closedByPeer(_:)`` and close with `close`.
private func blockingOpenIdleConnections(port: Int, count: Int) -> [Int32] {
  var opened: [Int32] = []
  for _ in 0..<count {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { break }
    var address = loopback(port: port)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else {
      close(fd)
      continue
    }
    opened.append(fd)
  }
  return opened
}

/// Whether the peer closed (or reset) the connection `fd`: a read would end now.
public func closedByPeer(_ fd: Int32) -> Bool {
  var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
  guard poll(&entry, 1, 0) > 0 else { return false }
  if entry.revents & Int16(POLLHUP | POLLERR) != 0 { return true }
  var byte: UInt8 = 0
  let count = recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
  return count == 0 || (count < 0 && errno == ECONNRESET)
}

/// The resident memory of process `pid` in bytes, from `/proc/PID/statm`.
public func residentBytes(pid: Int32) -> Int? {
  guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else {
    return nil
  }
  let fields = text.split(separator: " ")
  guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
  return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Sends an HTTP/2 client preface to 127.0.0.1:`port` and reads what the server sends
/// until it closes the connection or sends a GOAWAY frame: true when either happened
/// before `seconds` passed without a byte. A server that ends an idle connection
/// gracefully sends GOAWAY first and may wait for the client before it closes.
private func blockingHTTP2ServerEndsConnection(
  port: Int, preface: [UInt8], within seconds: Int
) -> Bool {
  guard let fd = connectAndSend(port: port, preface, receiveTimeout: seconds) else {
    return false
  }
  defer { close(fd) }
  var received: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count == 0 || (count < 0 && errno == ECONNRESET) { return true }
    if count < 0 { return false }
    received += chunk[..<count]
    // Walk the complete frames: 3 bytes length, 1 byte type (GOAWAY is 7), 1 byte
    // flags, 4 bytes stream id, then the payload.
    var offset = 0
    while received.count - offset >= 9 {
      let length =
        Int(received[offset]) << 16 | Int(received[offset + 1]) << 8 | Int(received[offset + 2])
      if received[offset + 3] == 7 { return true }
      offset += 9 + length
    }
  }
}

/// Runs blocking socket work on a thread of its own. The tests' async code shares a
/// cooperative pool of one thread per core (two here); a recv that waits seconds on one
/// of them stalls every other test's in-process servers and clients.
private func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
  _ = brokenPipesIgnored
  return await withCheckedContinuation { continuation in
    Thread.detachNewThread { continuation.resume(returning: work()) }
  }
}

/// Sends `bytes` to 127.0.0.1:`port` and reads until the server closes the connection
/// or `receiveTimeout` seconds pass without a byte: what came back, and whether the
/// server closed (false: still open when the wait ran out). Nil when the connection
/// fails. Waits on a thread of its own.
public func tcpExchange(
  port: Int, send bytes: [UInt8], receiveTimeout: Int
) async -> (received: String, closedByServer: Bool)? {
  await offThePool { blockingTCPExchange(port: port, send: bytes, receiveTimeout: receiveTimeout) }
}

/// Opens `count` TCP connections to 127.0.0.1:`port` and leaves them open (idle): their
/// descriptors, to check with ``closedByPeer(_:)`` and close with `close`.
public func openIdleConnections(port: Int, count: Int) async -> [Int32] {
  await offThePool { blockingOpenIdleConnections(port: port, count: count) }
}

/// Whether the server ends an HTTP/2 connection that sent only its preface (closes it,
/// or sends GOAWAY) before `seconds` pass without a byte.
public func http2ServerEndsConnection(
  port: Int, preface: [UInt8], within seconds: Int
) async -> Bool {
  await offThePool {
    blockingHTTP2ServerEndsConnection(port: port, preface: preface, within: seconds)
  }
}

/// A TCP connection to 127.0.0.1:`port` whose reads give up after `receiveTimeout`
/// seconds without a byte, with `bytes` sent; nil when it cannot connect or send. The
/// caller closes it.
private func connectAndSend(port: Int, _ bytes: [UInt8], receiveTimeout: Int) -> Int32? {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return nil }
  var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  var address = loopback(port: port)
  let connected = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  // MSG_NOSIGNAL: a server that closed at once (a full port) must not SIGPIPE the tests.
  guard connected == 0,
    bytes.isEmpty
      || bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) })
        == bytes.count
  else {
    close(fd)
    return nil
  }
  return fd
}

/// SIGPIPE ignored in the test process, once: a write to a peer that went away (a
/// component or a port that closed first) fails with EPIPE instead of killing every
/// test. Touched by the helpers that write to sockets and pipes.
let brokenPipesIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()
