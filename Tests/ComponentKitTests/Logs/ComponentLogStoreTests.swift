import ApiaryContracts
import ComponentKit
import Logging
import Testing

@Suite("component log store")
struct ComponentLogStoreTests {
  private func record(
    _ message: String, _ level: Logger.Level
  ) -> Apiary_Proto_Components_V1_LogRecord {
    var record = Apiary_Proto_Components_V1_LogRecord()
    record.message = message
    record.level = .init(level)
    return record
  }

  @Test("untailed records wait in a bounded ring; the oldest give way")
  func boundedRing() {
    let store = ComponentLogStore(capacity: 3)
    for index in 1...5 { store.append(record("m\(index)", .info)) }
    #expect(store.pending.map(\.message) == ["m3", "m4", "m5"])
    #expect(store.droppedCount == 2)
  }

  @Test("a tail first receives the waiting records at its level, which then leave the ring")
  func tailDrainsWaitingRecords() async {
    let store = ComponentLogStore(capacity: 10)
    store.append(record("debug-1", .debug))
    store.append(record("info-1", .info))
    store.append(record("error-1", .error))
    var iterator = store.tail(minimum: .info).makeAsyncIterator()
    #expect(await iterator.next()?.message == "info-1")
    #expect(await iterator.next()?.message == "error-1")
    // Below the tail's level: kept for a later tail that asks for it.
    #expect(store.pending.map(\.message) == ["debug-1"])

    store.append(record("warning-live", .warning))
    store.append(record("trace-live", .trace))
    #expect(await iterator.next()?.message == "warning-live")
    #expect(store.pending.map(\.message) == ["debug-1", "trace-live"])
  }

  @Test("the level components log at follows the lowest level tailed")
  func minimumLevelFollowsTailers() {
    let store = ComponentLogStore(defaultLevel: .notice)
    #expect(store.minimumLevel == .notice)
    let tail = store.tail(minimum: .debug)
    #expect(store.minimumLevel == .debug)
    store.finishAll()
    #expect(store.minimumLevel == .notice)
    _ = tail
  }

  @Test("the log handler turns log calls into records with level, logger and fields")
  func handlerBuildsRecords() async {
    let store = ComponentLogStore()
    var logger = Logger(label: "sample") { label in ComponentLogHandler(label: label, store: store)
    }
    logger[metadataKey: "component"] = "memstore"
    logger.warning("disk almost full", metadata: ["free": "3%"])
    logger.debug("not kept: below the default level")
    let records = store.pending
    #expect(records.count == 1)
    #expect(records.first?.message == "disk almost full")
    #expect(records.first?.level == .warning)
    #expect(records.first?.logger == "sample")
    #expect(records.first?.fields == ["component": "memstore", "free": "3%"])
    #expect(records.first?.hasTime == true)
  }
}
