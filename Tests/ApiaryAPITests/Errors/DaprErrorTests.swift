import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCProtobuf
import Testing

@testable import ApiaryAPI

/// daprd's errors (spec §1): codes, reasons, messages and details, the same on both
/// surfaces.
@Suite("Dapr errors")
struct DaprErrorTests {
  /// The JSON body of `error`, as the HTTP API sends it.
  func body(_ error: DaprError) throws -> [String: Any] {
    let data = try JSONSerialization.data(withJSONObject: error.httpBody)
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  /// The `google.rpc.Status` in `grpc-status-details-bin`.
  func status(_ error: DaprError) throws -> GoogleRPCStatus? {
    guard
      case .binary(let bytes)? = error.rpcErrorMetadata["grpc-status-details-bin"].first(where: {
        _ in true
      })
    else {
      return nil
    }
    return try GoogleRPCStatus(serializedBytes: bytes)
  }

  @Test(
    "an unknown state store: 400 / INVALID_ARGUMENT, ERR_STATE_STORE_NOT_FOUND, DAPR_STATE_NOT_FOUND with appID on HTTP only"
  )
  func stateNotFound() throws {
    let error = DaprError.stateNotFound("nope", appID: "orders")
    #expect(error.status.code == 400 && error.code == .invalidArgument)
    let json = try body(error)
    #expect(json["errorCode"] as? String == "ERR_STATE_STORE_NOT_FOUND")
    #expect(json["message"] as? String == "state store nope is not found")
    let details = try #require(json["details"] as? [[String: Any]])
    #expect(details.count == 1)
    #expect(details[0]["@type"] as? String == "type.googleapis.com/google.rpc.ErrorInfo")
    #expect(
      details[0]["reason"] as? String == "DAPR_STATE_NOT_FOUND"
        && details[0]["domain"] as? String == "dapr.io")
    #expect(details[0]["metadata"] as? [String: String] == ["appID": "orders"])
    let rpc = try #require(try status(error))
    #expect(rpc.code == .invalidArgument && rpc.message == error.message)
    #expect(rpc.details.count == 1 && rpc.details[0].errorInfo?.reason == "DAPR_STATE_NOT_FOUND")
    #expect(rpc.details[0].errorInfo?.metadata.isEmpty == true)
  }

  @Test(
    "an illegal key: BadRequest on the key and ResourceInfo, ErrorInfo last, metadata null on HTTP")
  func illegalKey() throws {
    let error = DaprError.illegalKey("a||b", store: "store")
    let json = try body(error)
    #expect(json["errorCode"] as? String == "ERR_MALFORMED_REQUEST")
    // daprd's HTTP message carries the Go status string's prefix; gRPC's does not.
    #expect(
      json["message"] as? String
        == "api error: code = InvalidArgument desc = input key/keyPrefix 'a||b' can't contain '||'")
    #expect(error.rpcErrorMessage == "input key/keyPrefix 'a||b' can't contain '||'")
    let details = try #require(json["details"] as? [[String: Any]])
    #expect(
      details.map { $0["@type"] as? String } == [
        "type.googleapis.com/google.rpc.BadRequest", "type.googleapis.com/google.rpc.ResourceInfo",
        "type.googleapis.com/google.rpc.ErrorInfo",
      ])
    let violations = try #require(details[0]["field_violations"] as? [[String: String]])
    #expect(
      violations == [
        ["field": "a||b", "description": "input key/keyPrefix 'a||b' can't contain '||'"]
      ])
    #expect(
      details[1]["resource_type"] as? String == "state"
        && details[1]["resource_name"] as? String == "store")
    #expect(details[2]["metadata"] is NSNull)
    let rpc = try #require(try status(error))
    #expect(rpc.details.compactMap { $0.badRequest }.first?.violations.first?.field == "a||b")
    #expect(rpc.details.compactMap { $0.resourceInfo }.first?.name == "store")
  }

  @Test(
    "etag errors keep their status: mismatch 409 / ABORTED, invalid 400 / INVALID_ARGUMENT; daprd's words"
  )
  func etags() throws {
    let mismatch = DaprError.stateSave(store: "s", StateStoreError.etagMismatch("1 != 2"))
    #expect(
      mismatch.status.code == 409 && mismatch.code == .aborted
        && mismatch.errorCode == "ERR_STATE_SAVE")
    #expect(
      mismatch.message
        == "failed saving state in state store s: possible etag mismatch. error from state store: 1 != 2"
    )
    let invalid = DaprError.stateSave(store: "s", StateStoreError.etagInvalid("x"))
    #expect(invalid.status.code == 400 && invalid.code == .invalidArgument)
    #expect(invalid.message == "failed saving state in state store s: invalid etag value: x")
    let delete = DaprError.stateDelete(key: "k", store: "s", StateStoreError.etagMismatch("m"))
    #expect(
      delete.status.code == 409 && delete.errorCode == "ERR_STATE_DELETE"
        && delete.reason == "ERR_STATE_DELETE")
  }

  @Test("a component's status is embedded as Go's gRPC error text")
  func componentText() {
    let failed = ComponentCallError(
      .failed, "component 's' Get failed", status: .init(code: .unknown, message: "boom"))
    let error = DaprError.stateGet(key: "k", store: "s", failed)
    #expect(
      error.message == "fail to get k from state store s: rpc error: code = Unknown desc = boom")
    #expect(
      error.status.code == 500 && error.code == .internalError && error.reason == "ERR_STATE_GET")
  }

  @Test(
    "a component's rich error (ErrorInfo with kit_error) reaches the app as the component wrote it")
  func componentRich() throws {
    let details = GoogleRPCStatus(
      code: .failedPrecondition, message: "too hot",
      details: [
        .errorInfo(
          reason: "MY_REASON", domain: "dapr.io",
          metadata: ["kit_error": "true", "http_code": "418", "tag": "ERR_TEAPOT", "x": "y"])
      ])
    let failed = ComponentCallError(
      .failed, "…", status: .init(code: .failedPrecondition, message: "too hot", details: details))
    let error = DaprError.stateTransaction(store: "s", failed)
    #expect(
      error.code == .failedPrecondition && error.status.code == 418
        && error.errorCode == "ERR_TEAPOT")
    #expect(
      error.message == "too hot" && error.reason == "MY_REASON" && error.metadata == ["x": "y"])
  }

  @Test(
    "legacy errors have no details; an unknown secret store is 401 on HTTP and INVALID_ARGUMENT on gRPC"
  )
  func legacy() throws {
    let error = DaprError.secretStoreNotFound("vault")
    #expect(error.status.code == 401 && error.code == .invalidArgument)
    #expect(try body(error).keys.sorted() == ["errorCode", "message"])
    #expect(try status(error) == nil)
    #expect(error.message == "failed finding secret store with key vault")
    let denied = DaprError.secretDenied(key: "db\"pw", store: "vault")
    #expect(denied.status.code == 403 && denied.code == .permissionDenied)
    #expect(denied.message == #"access denied by policy to get "db\"pw" from "vault""#)
  }

  @Test("an output binding error is rich on gRPC and legacy on HTTP")
  func binding() throws {
    let error = DaprError.invokeBinding("files", problem: "couldn't find output binding files")
    #expect(
      error.status.code == 500
        && error.message
          == "error invoking output binding files: couldn't find output binding files"
    )
    #expect(try body(error).keys.sorted() == ["errorCode", "message"])
    #expect(try status(error)?.details.first?.errorInfo?.reason == "ERR_INVOKE_OUTPUT_BINDING")
  }

  @Test(
    "an unknown pub/sub: 404 with the request's metadata on HTTP, INVALID_ARGUMENT without on gRPC")
  func pubsubNotFound() throws {
    let error = DaprError.pubsubNotFound("bus", requestMetadata: ["rawPayload": "true"])
    #expect(
      error.status.code == 404 && error.code == .invalidArgument
        && error.errorCode == "ERR_PUBSUB_NOT_FOUND")
    let details = try #require(try body(error)["details"] as? [[String: Any]])
    #expect(details.last?["metadata"] as? [String: String] == ["rawPayload": "true"])
    #expect(try status(error)?.details.first?.errorInfo?.metadata.isEmpty == true)
  }

  @Test(
    "a message longer than 1024 characters keeps its start and end and says how much was left out")
  func boundedMessage() {
    let key = String(repeating: "k", count: 100_000)
    let long = DaprError.illegalKey(key, store: "s")
    #expect(long.message.count < 1100)
    #expect(long.message.hasPrefix("input key/keyPrefix 'kkk"))
    #expect(long.message.hasSuffix("kkk' can't contain '||'"))
    #expect(long.message.contains("characters left out"))
  }

  @Test("apiary's own errors keep their status and code pairs")
  func apiaryKinds() {
    for (kind, http, grpc) in [
      (DaprError.Kind.invalidArgument, 400, RPCError.Code.invalidArgument),
      (.unauthenticated, 401, .unauthenticated),
      (.notFound, 404, .notFound), (.tooLarge, 413, .resourceExhausted),
      (.failed, 500, .internalError),
      (.unimplemented, 501, .unimplemented), (.unavailable, 503, .unavailable),
      (.timeout, 504, .deadlineExceeded),
    ] {
      let error = DaprError(kind, "ERR_X", "m")
      #expect(error.status.code == http && error.code == grpc)
      #expect(
        error.rpcErrorMetadata[stringValues: "error-code"].first(where: { _ in true }) == "ERR_X")
    }
  }
}
