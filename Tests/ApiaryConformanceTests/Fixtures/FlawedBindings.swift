import ApiaryContracts
import ComponentKit
import Foundation
import GRPCCore

/// An output binding with `create` and `get`, unless told to break one part of the
/// contract.
struct FlawedOutputBinding: OutputBindingComponent {
  enum Flaw: String, CaseIterable, Sendable { case pingFails, noOperations, listedButUnimplemented }

  let flaws: Set<Flaw>
  init(_ flaws: Set<Flaw> = []) { self.flaws = flaws }

  func initialise(metadata: [String: String]) async throws {}
  func operations() async throws -> [String] {
    flaws.contains(.noOperations) ? [] : ["create", "get"]
  }
  func ping() async throws {
    if flaws.contains(.pingFails) { throw ComponentError.backend("the target is unreachable") }
  }
  func invoke(
    _ request: Dapr_Proto_Components_V1_InvokeRequest
  ) async throws -> OutputBindingResponse {
    if request.operation == "get", flaws.contains(.listedButUnimplemented) {
      throw ComponentError.unsupported("get is not written yet")
    }
    // `get` needs a name this generic request does not give: a refusal with a reason.
    if request.operation == "get", request.metadata["name"] == nil {
      throw ComponentError.invalidArgument("get needs metadata 'name'")
    }
    return OutputBindingResponse(data: request.data, metadata: ["operation": request.operation])
  }
}

/// An output binding written straight on the generated service, which performs any
/// operation it is asked for, listed or not: what ComponentKit prevents.
struct LaxOutputBinding: Dapr_Proto_Components_V1_OutputBinding.SimpleServiceProtocol {
  func `init`(
    request: Dapr_Proto_Components_V1_OutputBindingInitRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Components_V1_OutputBindingInitResponse { .init() }
  func invoke(
    request: Dapr_Proto_Components_V1_InvokeRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Components_V1_InvokeResponse { .init() }
  func listOperations(
    request: Dapr_Proto_Components_V1_ListOperationsRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Components_V1_ListOperationsResponse {
    var response = Dapr_Proto_Components_V1_ListOperationsResponse()
    response.operations = ["create"]
    return response
  }
  func ping(
    request: Dapr_Proto_Components_V1_PingRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Components_V1_PingResponse { .init() }
}

/// An input binding that sends one event per `Read` stream, unless told to break the
/// contract.
struct FlawedInputBinding: InputBindingComponent {
  enum Flaw: String, CaseIterable, Sendable { case pingFails, endsWithoutEvent }

  let flaws: Set<Flaw>
  init(_ flaws: Set<Flaw> = []) { self.flaws = flaws }

  func initialise(metadata: [String: String]) async throws {}
  func ping() async throws {
    if flaws.contains(.pingFails) { throw ComponentError.backend("the source is unreachable") }
  }
  func read(deliver: InputBindingDelivery) async throws {
    if flaws.contains(.endsWithoutEvent) { return }
    _ = try await deliver(InputBindingEvent(data: Data(#"{"tick":1}"#.utf8)))
    // Then hold the stream open until the sidecar ends it (which cancels this task).
    let (open, keep) = AsyncStream<Never>.makeStream()
    for await _ in open {}
    keep.finish()
  }
}

/// A secret store of two secrets, unless told to break one part of the contract.
struct FlawedSecretStore: SecretStoreComponent {
  enum Flaw: String, CaseIterable, Sendable {
    case pingFails, missingAnswersEmpty, severalPairsUndeclared, getDiffersFromBulk,
      bulkListsEmptySecret
  }

  let flaws: Set<Flaw>
  init(_ flaws: Set<Flaw> = []) { self.flaws = flaws }

  var secrets: [String: [String: String]] {
    var secrets = ["db-password": ["db-password": "s3cret"], "api-key": ["api-key": "k-123"]]
    if flaws.contains(.severalPairsUndeclared) {
      secrets["db"] = ["user": "app", "password": "pw"]
    }
    if flaws.contains(.bulkListsEmptySecret) { secrets["hollow"] = [:] }
    return secrets
  }

  func initialise(metadata: [String: String]) async throws {}
  func ping() async throws {
    if flaws.contains(.pingFails) { throw ComponentError.backend("the vault is unreachable") }
  }
  func secret(_ key: String, metadata: [String: String]) async throws -> [String: String] {
    guard var value = secrets[key] else {
      if flaws.contains(.missingAnswersEmpty) { return [:] }
      throw ComponentError.notFound("secret '\(key)' not found")
    }
    if flaws.contains(.getDiffersFromBulk) { value[key] = "something else" }
    return value
  }
  func allSecrets(metadata: [String: String]) async throws -> [String: [String: String]] { secrets }
}
