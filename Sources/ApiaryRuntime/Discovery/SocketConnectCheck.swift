#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a plain `connect(2)` to a Unix socket says, before any gRPC is spoken.
///
/// Hand-written over the socket API because it tells apart, at once and with the
/// precise reason, what the gRPC client reports only as "unavailable" after its
/// retries: a stale socket file (no one listening) and a socket we may not use.
enum SocketConnectCheck: Equatable {
  /// Someone accepted, or will accept (the listen backlog is full).
  case accepting
  /// The problem, in words for a `skipped` entry.
  case failed(String)

  /// - Parameter allowedUIDs: When set, the listening process's user (SO_PEERCRED) must
  ///   be one of these.
  static func check(_ path: String, allowedUIDs: Set<UInt32>? = nil) -> SocketConnectCheck {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard path.utf8.count < capacity else {
      return .failed(
        "the socket path is longer than the \(capacity - 1) bytes a Unix socket address holds")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      for (offset, byte) in path.utf8.enumerated() { buffer[offset] = byte }
      buffer[path.utf8.count] = 0
    }
    #if canImport(Glibc)
    let fd = socket(
      AF_UNIX,
      Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    #else
    let fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    #endif
    guard fd >= 0 else {
      return .failed("cannot create a socket: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    let result = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    let connectError = errno
    if result == 0 || connectError == EAGAIN || connectError == EINPROGRESS {
      guard let allowedUIDs else { return .accepting }
      switch PeerCredentials.uid(of: fd) {
      case .success(let uid) where allowedUIDs.contains(uid):
        return .accepting
      case .success(let uid):
        let allowed = allowedUIDs.sorted().map(String.init).joined(separator: ", ")
        return .failed(
          "refused: the process listening on it runs as uid \(uid), not an allowed component uid (\(allowed); see --allowed-component-uids)"
        )
      case .failure(let error):
        return .failed(
          "refused: the listening process's user cannot be read (SO_PEERCRED: \(error.reason))")
      }
    }
    switch connectError {
    case ECONNREFUSED:
      return .failed(
        "no process is listening on it (a stale socket file left by a component that exited?)")
    case EACCES, EPERM:
      return .failed("permission denied: apiary may not connect to this socket")
    case let code:
      return .failed("cannot connect: \(String(cString: strerror(code)))")
    }
  }
}
