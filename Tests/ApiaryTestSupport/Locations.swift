import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where tests find the package's built products and fixtures.
public enum Locations {
  /// The package root, derived from this file's path.
  public static let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  /// The folder holding the built executables (`apiary`, `memstore`): the folder of
  /// the test bundle, or `APIARY_BUILD_DIR` when set.
  public static let productsFolder: String = {
    if let explicit = ProcessInfo.processInfo.environment["APIARY_BUILD_DIR"], !explicit.isEmpty {
      return explicit
    }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    // .build/<triple>/debug/apiaryPackageTests.xctest (a file on Linux)
    url.deleteLastPathComponent()
    return url.path
  }()

  /// The path of a built executable of this package.
  public static func product(_ name: String) throws -> String {
    let path = "\(productsFolder)/\(name)"
    guard FileManager.default.isExecutableFile(atPath: path) else {
      throw TestSupportError(
        "\(path) is missing: build it first (swift build) or set APIARY_BUILD_DIR")
    }
    return path
  }

  /// The Python interpreter for fixtures: `PYTHON` when set, else `python3` on PATH.
  public static let python: String = {
    if let explicit = ProcessInfo.processInfo.environment["PYTHON"], !explicit.isEmpty {
      return explicit
    }
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
    {
      let candidate = "\(folder)/python3"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return "/usr/bin/python3"
  }()

  /// The path of a Python fixture script in Tests/Fixtures/python.
  public static func pythonFixture(_ script: String) -> String {
    "\(packageRoot)/Tests/Fixtures/python/\(script)"
  }
}
