import ApiaryAPI
import ApiaryContracts
import Foundation
import GRPCCore
import GRPCInProcessTransport
import GRPCProtobuf
import Logging
import Testing

/// `dapr.proto.runtime.v1.Dapr` (``DaprService``) served and called over grpc-swift-2's
/// in-process transport, over the built-in state store: values, etags and daprd's
/// status codes and details.
@Suite("gRPC Dapr service over the built-in components")
struct DaprServiceTests {
  typealias Dapr = Dapr_Proto_Runtime_V1_Dapr.Client<InProcessTransport.Client>

  /// Runs `body` with a client of a ``DaprService`` over the built-in components.
  func withDapr(_ body: (Dapr) async throws -> Void) async throws {
    let components = try await BuiltInComponents()
    let transport = InProcessTransport()
    let service = DaprService(api: components.api, logger: Logger(label: "test"))
    try await withGRPCServer(transport: transport.server, services: [service]) { _ in
      try await withGRPCClient(transport: transport.client) { client in
        try await body(Dapr(wrapping: client))
      }
    }
  }

  func getRequest(
    store: String = "statestore", _ key: String
  ) -> Dapr_Proto_Runtime_V1_GetStateRequest {
    var request = Dapr_Proto_Runtime_V1_GetStateRequest()
    request.storeName = store
    request.key = key
    return request
  }

  func saveRequest(
    store: String = "statestore", _ key: String, _ value: String, etag: String? = nil
  ) -> Dapr_Proto_Runtime_V1_SaveStateRequest {
    var item = Dapr_Proto_Common_V1_StateItem()
    item.key = key
    item.value = Data(value.utf8)
    if let etag { item.etag.value = etag }
    var request = Dapr_Proto_Runtime_V1_SaveStateRequest()
    request.storeName = store
    request.states = [item]
    return request
  }

  @Test(
    "SaveState then GetState: the value and its etag; a stale etag ABORTED; DeleteState empties")
  func saveGetDelete() async throws {
    try await withDapr { dapr in
      _ = try await dapr.saveState(saveRequest("hive", "bees"))
      let first = try await dapr.getState(getRequest("hive"))
      #expect(first.data == Data("bees".utf8))
      #expect(first.etag == "1")

      _ = try await dapr.saveState(saveRequest("hive", "more bees", etag: "1"))
      let second = try await dapr.getState(getRequest("hive"))
      #expect(second.data == Data("more bees".utf8))
      #expect(second.etag == "2")

      await #expect {
        _ = try await dapr.saveState(saveRequest("hive", "lost", etag: "1"))
      } throws: { error in
        let error = error as? RPCError
        return error?.code == .aborted
          && error?.message.hasPrefix(
            "failed saving state in state store statestore: possible etag mismatch") == true
      }

      var delete = Dapr_Proto_Runtime_V1_DeleteStateRequest()
      delete.storeName = "statestore"
      delete.key = "hive"
      _ = try await dapr.deleteState(delete)
      let gone = try await dapr.getState(getRequest("hive"))
      #expect(gone.data.isEmpty)
      #expect(gone.etag.isEmpty)
    }
  }

  @Test("an unknown store: INVALID_ARGUMENT, daprd's message and ErrorInfo without metadata")
  func unknownStore() async throws {
    try await withDapr { dapr in
      for call in ["GetState", "SaveState"] {
        let error = await #expect(throws: RPCError.self) {
          if call == "GetState" {
            _ = try await dapr.getState(getRequest(store: "nope", "k"))
          } else {
            _ = try await dapr.saveState(saveRequest(store: "nope", "k", "v"))
          }
        }
        #expect(error?.code == .invalidArgument, "\(call)")
        #expect(error?.message == "state store nope is not found", "\(call)")
        let status = try error?.unpackGoogleRPCStatus()
        let info = status?.details.compactMap(\.errorInfo).first
        #expect(info?.reason == "DAPR_STATE_NOT_FOUND", "\(call)")
        #expect(info?.domain == "dapr.io", "\(call)")
        #expect(info?.metadata.isEmpty == true, "\(call)")
      }
    }
  }
}
