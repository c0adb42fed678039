import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `--allowed-component-uids`, shared by `run` and `discover`: which users' component
/// sockets are used (checked with SO_PEERCRED).
enum ComponentUIDs {
  /// The help text of the option.
  static let help = ArgumentHelp(
    "The users whose component sockets are used (checked with SO_PEERCRED), comma-separated, or 'any'. Default: apiary's own uid.",
    valueName: "uids")

  /// nil for `any`, else the set; apiary's own uid when the option is absent.
  ///
  /// - Throws: `ValidationError` naming the part that is not a uid.
  static func parse(_ text: String?) throws -> Set<UInt32>? {
    guard let text else { return [UInt32(geteuid())] }
    if text.trimmingCharacters(in: .whitespaces) == "any" { return nil }
    var uids: Set<UInt32> = []
    for part in text.split(separator: ",") {
      guard let uid = UInt32(part.trimmingCharacters(in: .whitespaces)) else {
        throw ValidationError(
          "--allowed-component-uids '\(text)': '\(part)' is not a uid; write e.g. 1000,1001 or any")
      }
      uids.insert(uid)
    }
    guard !uids.isEmpty else {
      throw ValidationError("--allowed-component-uids is empty; write e.g. 1000 or any")
    }
    return uids
  }
}
