#if canImport(Glibc)
import Glibc
#endif

/// Whether a TCP port can be listened on, tried before anything starts, so that a
/// port in use is reported with the flag that chose it instead of by whichever
/// server library meets it first.
enum PortCheck {
  /// Why `host`:`port` cannot be listened on (the system's words), or nil when it
  /// can, or when `host` is not a numeric IPv4 or IPv6 address (then the server
  /// reports it).
  static func problem(host: String, port: Int) -> String? {
    var v4 = sockaddr_in()
    var v6 = sockaddr_in6()
    let family: Int32
    if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
      family = AF_INET
      v4.sin_family = sa_family_t(AF_INET)
      v4.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
    } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
      family = AF_INET6
      v6.sin6_family = sa_family_t(AF_INET6)
      v6.sin6_port = in_port_t(UInt16(clamping: port).bigEndian)
    } else {
      return nil
    }
    let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    let result: Int32
    if family == AF_INET {
      result = withUnsafePointer(to: &v4) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
    } else {
      result = withUnsafePointer(to: &v6) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
      }
    }
    return result == 0 ? nil : String(cString: strerror(errno))
  }
}
