import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fresh folder under /tmp (short, so socket paths stay under the 107-byte limit),
/// mode 0700, removed with everything in it by ``remove()``.
public struct TemporaryFolder: Sendable {
  /// The folder's path.
  public let path: String

  /// Creates the folder.
  public init(prefix: String = "apiary-test") throws {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else {
      throw TestSupportError("mkdtemp failed: \(String(cString: strerror(errno)))")
    }
    path = String(cString: made)
  }

  /// The path of `name` inside the folder.
  public func file(_ name: String) -> String { "\(path)/\(name)" }

  /// Deletes the folder and its contents.
  public func remove() {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// A failure of the test harness itself (not of the code under test).
public struct TestSupportError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
