import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whether a process accepts connections on the Unix socket at `path` right now.
public func socketAccepts(_ path: String) -> Bool {
  var address = sockaddr_un()
  address.sun_family = sa_family_t(AF_UNIX)
  let bytes = Array(path.utf8)
  guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
  withUnsafeMutableBytes(of: &address.sun_path) { buffer in
    for (offset, byte) in bytes.enumerated() { buffer[offset] = byte }
    buffer[bytes.count] = 0
  }
  let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  let result = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
    }
  }
  return result == 0
}

/// Waits until a process accepts connections on `path`.
public func waitForSocket(_ path: String, timeout: Duration = .seconds(30)) async throws {
  guard await poll(timeout: timeout, { socketAccepts(path) }) else {
    throw TestSupportError("nothing accepted connections on \(path) within \(timeout)")
  }
}

/// Starts a process that serves a socket, and waits until the socket accepts
/// connections; a process that exits first fails with its stderr.
public func startServing(
  _ executable: String,
  _ arguments: [String],
  socket: String,
  environment: [String: String] = [:],
  timeout: Duration = .seconds(60)
) async throws -> ChildProcess {
  let child = try ChildProcess(executable, arguments, environment: environment)
  let ready = await poll(timeout: timeout) { socketAccepts(socket) || !child.isRunning }
  guard ready, child.isRunning else {
    let stderr = child.standardError
    await child.stop(grace: .milliseconds(100))
    throw TestSupportError(
      "\(child.commandLine) did not serve \(socket) within \(timeout):\n\(stderr)")
  }
  return child
}

/// Creates a socket file with no listener behind it, as a component that crashed
/// leaves behind.
public func makeStaleSocket(at path: String) throws {
  var address = sockaddr_un()
  address.sun_family = sa_family_t(AF_UNIX)
  let bytes = Array(path.utf8)
  withUnsafeMutableBytes(of: &address.sun_path) { buffer in
    for (offset, byte) in bytes.enumerated() { buffer[offset] = byte }
    buffer[bytes.count] = 0
  }
  let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  let result = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
    }
  }
  guard result == 0 else {
    throw TestSupportError("bind \(path): \(String(cString: strerror(errno)))")
  }
}
