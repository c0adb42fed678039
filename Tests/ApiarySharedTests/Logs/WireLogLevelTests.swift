import ApiaryContracts
import ApiaryShared
import Logging
import Testing

/// The log level a component sends over ComponentLogs and swift-log's level map one to
/// one; a level from a newer component is shown, not dropped.
@Suite("wire log levels")
struct WireLogLevelTests {
  typealias WireLevel = Apiary_Proto_Components_V1_LogLevel

  @Test(
    "each swift-log level has its wire level and comes back unchanged",
    arguments: [
      (Logger.Level.trace, WireLevel.trace), (.debug, .debug), (.info, .info),
      (.notice, .notice), (.warning, .warning), (.error, .error), (.critical, .critical),
    ])
  func roundTrip(level: Logger.Level, wire: WireLevel) {
    #expect(WireLevel(level) == wire)
    #expect(Logger.Level(wire) == level)
  }

  @Test("an unrecognised wire level is logged as critical")
  func unrecognised() {
    #expect(Logger.Level(WireLevel.UNRECOGNIZED(99)) == .critical)
  }
}
