import ApiaryShared

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The longest path a `sockaddr_un` can hold on Linux (108 bytes including the NUL).
public let maximumUnixSocketPathLength = 107

/// Errors raised while preparing the file system for a component socket.
public struct SocketPathError: Error, CustomStringConvertible, Sendable {
  /// What went wrong, in words a component author can act on.
  public var description: String

  init(_ description: String) { self.description = description }
}

/// Prepares `path` so a server can bind a Unix socket there.
///
/// Creates the parent folder with mode 0700 when it is missing, removes a stale socket
/// file left by an earlier run, and refuses a path that exists and is not a socket
/// (a regular file there is someone else's data; it is never deleted).
public func prepareSocketPath(_ path: String) throws(SocketPathError) {
  guard !path.isEmpty else { throw SocketPathError("the socket path is empty") }
  guard path.utf8.count <= maximumUnixSocketPathLength else {
    throw SocketPathError(
      "socket path \(path) is \(path.utf8.count) bytes long; Unix sockets allow at most \(maximumUnixSocketPathLength)"
    )
  }
  let folder = parentFolder(of: path)
  try createFolder(folder)
  switch FileKind.of(path) {
  case .missing:
    return
  case .socket:
    guard unlink(path) == 0 else {
      throw SocketPathError("cannot remove the stale socket \(path): \(errnoDescription())")
    }
  case .directory:
    throw SocketPathError("\(path) is a directory, not a socket; choose another socket path")
  case .other(let what):
    throw SocketPathError("\(path) exists and is \(what), not a socket; refusing to replace it")
  }
}

/// Creates `folder` and its missing parents; the folders created get mode 0700.
func createFolder(_ folder: String) throws(SocketPathError) {
  switch FileKind.of(folder) {
  case .directory:
    return
  case .missing:
    let parent = parentFolder(of: folder)
    if parent != folder { try createFolder(parent) }
    if mkdir(folder, 0o700) != 0 && errno != EEXIST {
      throw SocketPathError("cannot create the sockets folder \(folder): \(errnoDescription())")
    }
  case .socket, .other:
    throw SocketPathError("\(folder) exists and is not a folder")
  }
}

/// The folder part of `path` ("." for a bare file name, "/" for a root entry).
public func parentFolder(of path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return "." }
  if slash == path.startIndex { return "/" }
  return String(path[..<slash])
}

/// `strerror(errno)` as a Swift string.
func errnoDescription(_ code: Int32 = errno) -> String {
  String(cString: strerror(code))
}
