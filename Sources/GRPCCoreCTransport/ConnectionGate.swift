internal import CGRPCCore
import Foundation
import Logging
import Synchronization

/// Accepts a core server's TCP connections itself, so that their number is bounded:
/// gRPC core 1.51 has no limit of its own (its `grpc.max_allowed_incoming_connections`
/// came later), and every idle connection it holds costs memory.
///
/// One thread polls the listening socket and, for each connection handed to core, a
/// duplicate of its descriptor: when the peer or core closes the connection the
/// duplicate reports a hang-up, is closed, and the connection no longer counts. A
/// connection over the limit is closed at once (the client sees the connection reset:
/// UNAVAILABLE). Connections go to core with `grpc_server_add_channel_from_fd`, so
/// they get the server's channel arguments (message limits, idle timeout).
// @unchecked Sendable: the descriptors and counters are only touched by the gate's
// thread, except `stop`, which only writes to the wake-up pipe.
final class ConnectionGate: @unchecked Sendable {
  /// What the gate bound, with the real port when 0 was asked for.
  let port: Int
  private let listener: Int32
  private let wake: (read: Int32, write: Int32)
  private let limit: Int
  private let logger: Logger
  private let open = Atomic<Int>(0)
  private let stopped = Atomic<Bool>(false)
  /// When a refusal was last logged: at most one line per 10 s.
  private var lastRefusalLog: ContinuousClock.Instant?
  private var refusedSinceLog = 0
  private var closedSinceTrim = 0

  /// The connections open now.
  var openConnections: Int { open.load(ordering: .relaxed) }

  /// Binds and listens on `host`:`port` (IPv4 or IPv6).
  ///
  /// - Throws: ``ListenError`` naming the address and the system's reason, e.g.
  ///   "Address already in use".
  init(host: String, port: Int, ipv6: Bool, limit: Int, logger: Logger) throws(ListenError) {
    self.limit = limit
    self.logger = logger
    let family = ipv6 ? AF_INET6 : AF_INET
    let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw ListenError(host: host, port: port, errno: errno) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    let bound: Int32
    if ipv6 {
      var address = sockaddr_in6()
      address.sin6_family = sa_family_t(AF_INET6)
      address.sin6_port = in_port_t(UInt16(port).bigEndian)
      guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
        close(fd)
        throw ListenError(host: host, port: port, message: "'\(host)' is not an IPv6 address")
      }
      bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
      }
    } else {
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = in_port_t(UInt16(port).bigEndian)
      guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
        close(fd)
        throw ListenError(host: host, port: port, message: "'\(host)' is not an IPv4 address")
      }
      bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
    }
    // Non-blocking: the thread accepts until the queue is empty, then polls again.
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    guard bound == 0, listen(fd, 1024) == 0 else {
      let error = errno
      close(fd)
      throw ListenError(host: host, port: port, errno: error)
    }
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    let boundPort = withUnsafePointer(to: &storage) { pointer -> UInt16 in
      ipv6
        ? pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
        : pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
    }
    var pipeEnds: [Int32] = [0, 0]
    guard cgrpc_pipe_cloexec_nonblock(&pipeEnds) == 0 else {
      let error = errno
      close(fd)
      throw ListenError(host: host, port: port, errno: error)
    }
    self.listener = fd
    self.wake = (pipeEnds[0], pipeEnds[1])
    self.port = Int(UInt16(bigEndian: boundPort))
  }

  /// Starts the accepting thread; each admitted connection's descriptor goes to
  /// `handOff`, which owns it from then on.
  func start(handOff: @escaping @Sendable (Int32) -> Void) {
    let thread = Thread { [self] in self.loop(handOff) }
    thread.name = "grpc-core-accept"
    thread.stackSize = 256 << 10
    thread.start()
  }

  /// Stops accepting: the listening socket closes (the port is free again). Open
  /// connections stay with core, which closes them on its shutdown.
  func stop() {
    guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
    var byte: UInt8 = 1
    _ = write(wake.write, &byte, 1)
  }

  private func loop(_ handOff: @Sendable (Int32) -> Void) {
    var watched: [pollfd] = [
      pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
      pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
    ]
    while !stopped.load(ordering: .acquiring) {
      let ready = poll(&watched, nfds_t(watched.count), -1)
      if ready < 0 {
        if errno == EINTR { continue }
        logger.error(
          "gRPC API: polling its connections failed: \(String(cString: strerror(errno)))")
        break
      }
      if watched[0].revents != 0 { break }
      // Hang-ups first, so a connection that closed frees its place for a new one.
      var index = 2
      while index < watched.count {
        if watched[index].revents != 0 {
          close(watched[index].fd)
          watched.remove(at: index)
          connectionClosed()
        } else {
          watched[index].revents = 0
          index += 1
        }
      }
      if watched[1].revents & Int16(POLLIN) != 0 {
        watched[1].revents = 0
        while let fd = acceptOne() {
          if let tracker = admit(fd) {
            watched.append(pollfd(fd: tracker, events: Int16(cgrpc_pollrdhup), revents: 0))
            handOff(fd)
          }
        }
      }
    }
    close(listener)
    close(wake.read)
    close(wake.write)
    for entry in watched.dropFirst(2) { close(entry.fd) }
  }

  /// The next pending connection, non-blocking, or nil when none is waiting.
  private func acceptOne() -> Int32? {
    while true {
      let fd = cgrpc_accept_cloexec_nonblock(listener)
      if fd >= 0 { return fd }
      if errno == EINTR { continue }
      if errno == EMFILE || errno == ENFILE {
        logger.warning("gRPC API: cannot accept a connection: \(String(cString: strerror(errno)))")
      }
      return nil
    }
  }

  /// Counts `fd` in, or closes it when the limit is reached; the duplicate that
  /// tracks its hang-up when admitted.
  private func admit(_ fd: Int32) -> Int32? {
    guard open.load(ordering: .relaxed) < limit else {
      close(fd)
      refused()
      return nil
    }
    let tracker = dup(fd)
    guard tracker >= 0 else {
      close(fd)
      return nil
    }
    _ = fcntl(tracker, F_SETFD, FD_CLOEXEC)
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    open.add(1, ordering: .relaxed)
    return tracker
  }

  private func refused() {
    refusedSinceLog += 1
    let now = ContinuousClock.now
    if let last = lastRefusalLog, now - last < .seconds(10) { return }
    lastRefusalLog = now
    logger.warning(
      "gRPC API: refused \(refusedSinceLog) connection(s): \(limit) are open, the limit (--max-connections)"
    )
    refusedSinceLog = 0
  }

  /// After many connections closed, or the last one, hands freed memory back.
  private func connectionClosed() {
    let remaining = open.subtract(1, ordering: .relaxed).newValue
    closedSinceTrim += 1
    if closedSinceTrim >= 64 || (remaining == 0 && closedSinceTrim >= 16) {
      closedSinceTrim = 0
      ProcessMemory.returnFreedSoon()
    }
  }
}

/// A server could not listen: the address, and why.
public struct ListenError: Error, Sendable, CustomStringConvertible {
  public var host: String
  public var port: Int
  public var message: String

  init(host: String, port: Int, errno: Int32) {
    self.init(host: host, port: port, message: String(cString: strerror(errno)))
  }

  init(host: String, port: Int, message: String) {
    self.host = host
    self.port = port
    self.message = message
  }

  public var description: String { "cannot listen on \(host):\(port): \(message)" }
}
