import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Whether the sockets folder can be trusted: whoever can write to it can put a socket
/// there that apiary would dial and hand secrets and app data to.
public enum SocketsFolderTrust {
  /// Creates `path` (mode 0700, parents as needed) when it does not exist, then checks
  /// that it is a folder owned by this process's user and writable by no one else.
  ///
  /// - Returns: nil when the folder is safe, else the problem in words that name the
  ///   folder and what to do.
  public static func prepare(_ path: String) -> String? {
    var info = stat()
    if stat(path, &info) != 0 {
      let error = errno
      if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
        // The link exists; what it leads to does not (or loops): creating the folder
        // at the link's path is impossible, and the fix is the link's target.
        let target =
          link.hasPrefix("/")
          ? link
          : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(link)
        if error == ELOOP {
          return
            "sockets folder \(path) is a symbolic link to \(link) that loops; point it at a real folder, or give --sockets-dir the folder itself"
        }
        return
          "sockets folder \(path) is a symbolic link to \(link), which does not exist; create it (mkdir -m 700 \(target)) or give --sockets-dir an existing folder"
      }
      guard error == ENOENT else {
        return "sockets folder \(path) cannot be examined: \(String(cString: strerror(error)))"
      }
      do {
        try FileManager.default.createDirectory(
          atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      } catch {
        return "sockets folder \(path) cannot be created: \(error.localizedDescription)"
      }
      guard stat(path, &info) == 0 else {
        return "sockets folder \(path) cannot be examined: \(String(cString: strerror(errno)))"
      }
    }
    return problem(path: path, mode: info.st_mode, owner: info.st_uid, me: geteuid())
  }

  /// The same check as ``prepare(_:)`` on an existing folder, creating nothing: nil
  /// when it is safe or does not exist.
  public static func check(_ path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return problem(path: path, mode: info.st_mode, owner: info.st_uid, me: geteuid())
  }

  /// The check itself, on a folder's mode and owner.
  static func problem(path: String, mode: mode_t, owner: uid_t, me: uid_t) -> String? {
    guard mode & S_IFMT == S_IFDIR else { return "sockets folder \(path) is not a folder" }
    if owner != me {
      return
        "sockets folder \(path) is owned by uid \(owner), not by apiary's uid \(me): another user could place sockets there"
    }
    if mode & (S_IWGRP | S_IWOTH) != 0 {
      let octal = String(mode & 0o7777, radix: 8)
      return
        "sockets folder \(path) has mode \(octal): group- or world-writable, so another user could place sockets there (chmod 700 \(path))"
    }
    return nil
  }
}

/// The user of the process listening on a Unix socket, read with SO_PEERCRED on a
/// connected socket.
enum PeerCredentials {
  /// The peer's uid, or the reason it cannot be read.
  static func uid(of fd: Int32) -> Result<uid_t, PeerCredentialsError> {
    // `struct ucred` (pid, uid, gid) needs _GNU_SOURCE, which Swift's Glibc module does
    // not define: the same three 32-bit fields as a tuple, which has C layout.
    var credentials: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
    var length = socklen_t(MemoryLayout.size(ofValue: credentials))
    guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else {
      return .failure(PeerCredentialsError(reason: String(cString: strerror(errno))))
    }
    return .success(credentials.uid)
  }
}

struct PeerCredentialsError: Error {
  var reason: String
}
