#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a path in the file system is, as far as serving or dialling a Unix socket cares.
///
/// Hand-written over `lstat(2)`: Foundation's `FileManager` reports sockets only as
/// "unknown" file types, and neither SwiftNIO nor swift-system says "is this a socket".
package enum FileKind: Sendable, Equatable {
  /// Nothing exists at the path.
  case missing
  /// A Unix domain socket file.
  case socket
  /// A directory.
  case directory
  /// A regular file, symbolic link, FIFO or device: anything that is not a socket.
  case other(String)

  /// Inspects `path` without following a final symbolic link.
  package static func of(_ path: String) -> FileKind {
    var info = stat()
    guard lstat(path, &info) == 0 else { return .missing }
    switch info.st_mode & S_IFMT {
    case S_IFSOCK: return .socket
    case S_IFDIR: return .directory
    case S_IFREG: return .other("a regular file")
    case S_IFLNK: return .other("a symbolic link")
    case S_IFIFO: return .other("a FIFO")
    default: return .other("a device or special file")
    }
  }
}
