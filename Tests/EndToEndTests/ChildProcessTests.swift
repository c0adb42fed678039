import ApiaryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The tests' child processes keep their output private and leave nothing behind.
@Suite("test child processes")
struct ChildProcessTests {
  @Test("output files live in a folder of mode 0700, are mode 0600, and are gone after stop")
  func privateOutput() async throws {
    let child = try ChildProcess("/bin/sh", ["-c", "echo out; echo err >&2"])
    #expect(await child.waitForExit(timeout: .seconds(10)) == 0)
    var info = stat()
    #expect(stat(child.outputPath, &info) == 0 && info.st_mode & 0o777 == 0o700)
    #expect(stat(child.outputPath + "/stdout", &info) == 0 && info.st_mode & 0o777 == 0o600)
    #expect(child.standardOutput == "out\n" && child.standardError == "err\n")
    let folder = child.outputPath
    await child.stop()
    #expect(!FileManager.default.fileExists(atPath: folder))
  }
}
