import ApiaryContracts
import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Testing

/// The memstore sample over its socket, as the sidecar sees it: etag semantics and the
/// exact error statuses of the component contract.
@Suite("memstore sample")
struct MemstoreSampleTests {
  private typealias Store = Dapr_Proto_Components_V1_StateStore.Client<HTTP2ClientTransport.Posix>

  private func withMemstore(
    _ body: (Store, GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Void
  ) async throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let socket = folder.file("memstore.sock")
    let process = try await startServing(
      try Locations.product("memstore"), ["--socket", socket], socket: socket)
    do {
      try await withClient(socket) { client in
        let store = Store(wrapping: client)
        _ = try await store.`init`(
          Dapr_Proto_Components_V1_InitRequest(), metadata: instance("s"), options: testCallOptions)
        try await body(store, client)
      }
    } catch {
      await process.stop()
      throw error
    }
    process.signal(SIGTERM)
    #expect(
      await process.waitForExit(timeout: .seconds(10)) == 0,
      "memstore did not exit cleanly on SIGTERM")
    #expect(!FileManager.default.fileExists(atPath: socket), "memstore left its socket behind")
    await process.stop()
  }

  private func set(
    _ store: Store, _ key: String, _ value: String, etag: String? = nil,
    concurrency: Dapr_Proto_Components_V1_StateOptions.StateConcurrency = .concurrencyUnspecified
  ) async throws {
    var request = Dapr_Proto_Components_V1_SetRequest()
    request.key = key
    request.value = Data(value.utf8)
    request.contentType = "text/plain"
    if let etag { request.etag.value = etag }
    request.options.concurrency = concurrency
    _ = try await store.set(request, metadata: instance("s"), options: testCallOptions)
  }

  private func get(
    _ store: Store, _ key: String
  ) async throws -> Dapr_Proto_Components_V1_GetResponse {
    var request = Dapr_Proto_Components_V1_GetRequest()
    request.key = key
    return try await store.get(request, metadata: instance("s"), options: testCallOptions)
  }

  /// Asserts `body` fails with `code` and exactly one google.rpc.BadRequest field
  /// violation on `etag`, as the contract requires.
  private func expectEtagError(
    _ code: RPCError.Code, _ body: () async throws -> Void,
    sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    do {
      try await body()
      Issue.record("expected \(code)", sourceLocation: sourceLocation)
    } catch let error as RPCError {
      #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
      let status = try error.unpackGoogleRPCStatus()
      #expect(status?.details.count == 1, sourceLocation: sourceLocation)
      let violations = status?.details.first?.badRequest?.violations ?? []
      #expect(violations.map(\.field) == ["etag"], sourceLocation: sourceLocation)
    }
  }

  @Test("features, etags, first-write and the contract's etag errors")
  func etagSemantics() async throws {
    try await withMemstore { store, _ in
      let features = try await store.features(
        Dapr_Proto_Components_V1_FeaturesRequest(), metadata: instance("s"),
        options: testCallOptions)
      #expect(features.features == ["ETAG", "TRANSACTIONAL", "QUERY_API"])

      // Absent: no data, no etag.
      let absent = try await get(store, "k")
      #expect(absent.data.isEmpty && !absent.hasEtag)

      try await set(store, "k", "one")
      let first = try await get(store, "k")
      #expect(String(decoding: first.data, as: UTF8.self) == "one")
      #expect(first.contentType == "text/plain")
      let etag = first.etag.value
      #expect(!etag.isEmpty)

      try await set(store, "k", "two", etag: etag)
      let second = try await get(store, "k")
      #expect(String(decoding: second.data, as: UTF8.self) == "two")
      #expect(second.etag.value != etag)

      // A stale etag is a mismatch, a malformed one invalid; neither writes.
      try await expectEtagError(.failedPrecondition) {
        try await set(store, "k", "three", etag: etag)
      }
      try await expectEtagError(.invalidArgument) {
        try await set(store, "k", "three", etag: "not-a-version")
      }
      try await expectEtagError(.failedPrecondition) { try await set(store, "new", "x", etag: "1") }
      // A huge key: the error quotes it, cut to ErrorMessage.maximumLength, so the
      // status (message, and details that repeat it) still fits in the trailers.
      let hugeKey = String(repeating: "x", count: 20_000)
      try await expectEtagError(.failedPrecondition) {
        try await set(store, hugeKey, "x", etag: "1")
      }
      #expect(String(decoding: try await get(store, "k").data, as: UTF8.self) == "two")

      // First-write without an etag only creates.
      try await expectEtagError(.failedPrecondition) {
        try await set(store, "k", "three", concurrency: .concurrencyFirstWrite)
      }
      try await set(store, "fresh", "x", concurrency: .concurrencyFirstWrite)
      // Last-write without an etag always wins.
      try await set(store, "k", "last", concurrency: .concurrencyLastWrite)
      #expect(String(decoding: try await get(store, "k").data, as: UTF8.self) == "last")

      var delete = Dapr_Proto_Components_V1_DeleteRequest()
      delete.key = "k"
      delete.etag.value = etag
      try await expectEtagError(.failedPrecondition) {
        _ = try await store.delete(delete, metadata: instance("s"), options: testCallOptions)
      }
      delete.etag.value = try await get(store, "k").etag.value
      _ = try await store.delete(delete, metadata: instance("s"), options: testCallOptions)
      #expect(try await get(store, "k").data.isEmpty)
    }
  }

  @Test("a transaction applies all its operations or none")
  func transactions() async throws {
    try await withMemstore { store, client in
      try await set(store, "a", "1")
      let transactional = Dapr_Proto_Components_V1_TransactionalStateStore.Client(wrapping: client)

      var upsert = Dapr_Proto_Components_V1_TransactionalStateOperation()
      upsert.set.key = "b"
      upsert.set.value = Data("2".utf8)
      var staleDelete = Dapr_Proto_Components_V1_TransactionalStateOperation()
      staleDelete.delete.key = "a"
      staleDelete.delete.etag.value = "999"
      var request = Dapr_Proto_Components_V1_TransactionalStateRequest()
      request.operations = [upsert, staleDelete]
      try await expectEtagError(.failedPrecondition) {
        _ = try await transactional.transact(
          request, metadata: instance("s"), options: testCallOptions)
      }
      #expect(try await get(store, "b").data.isEmpty, "the failed transaction wrote b")

      var delete = Dapr_Proto_Components_V1_TransactionalStateOperation()
      delete.delete.key = "a"
      request.operations = [upsert, delete]
      _ = try await transactional.transact(
        request, metadata: instance("s"), options: testCallOptions)
      #expect(String(decoding: try await get(store, "b").data, as: UTF8.self) == "2")
      #expect(try await get(store, "a").data.isEmpty)
    }
  }

  @Test("the hello component greets with its configured string")
  func hello() async throws {
    try await withMemstore { _, client in
      let hello = Spec_Proto_Pluggable_V1_Hello_Hello.Client(wrapping: client)
      _ = try await hello.`init`(
        Spec_Proto_Pluggable_V1_Hello_HelloConfig(), metadata: instance("plain"),
        options: testCallOptions)
      var config = Spec_Proto_Pluggable_V1_Hello_HelloConfig()
      config.helloString = "Greetings"
      _ = try await hello.`init`(config, metadata: instance("formal"), options: testCallOptions)
      var request = Spec_Proto_Pluggable_V1_Hello_HelloRequest()
      request.name = "Ada"
      #expect(
        try await hello.sayHello(request, metadata: instance("plain"), options: testCallOptions)
          .helloString == "Hello, Ada")
      #expect(
        try await hello.sayHello(request, metadata: instance("formal"), options: testCallOptions)
          .helloString == "Greetings, Ada")
    }
  }
}
