import ApiaryContracts
import ApiaryTestSupport
import ComponentKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import ServiceLifecycle
import SwiftProtobuf
import Testing

/// A minimal state store for exercising the SDK (the memstore sample has the real one).
actor DictionaryStore: StateStoreComponent {
  var values: [String: Data] = [:]
  var initialisedWith: [String: String] = [:]

  func initialise(metadata: [String: String]) async throws {
    if metadata["fail"] == "yes" { throw ComponentError.invalidArgument("told to fail") }
    initialisedWith = metadata
  }
  func features() async throws -> [StateStoreFeature] { ["ETAG"] }
  func get(
    _ request: Dapr_Proto_Components_V1_GetRequest
  ) async throws -> Dapr_Proto_Components_V1_GetResponse {
    var response = Dapr_Proto_Components_V1_GetResponse()
    if let value = values[request.key] { response.data = value }
    if request.key == "whoami" { response.data = Data((initialisedWith["id"] ?? "").utf8) }
    return response
  }
  func set(_ request: Dapr_Proto_Components_V1_SetRequest) async throws {
    values[request.key] = request.value
  }
  func delete(_ request: Dapr_Proto_Components_V1_DeleteRequest) async throws {
    values[request.key] = nil
  }
}

@Suite("component server")
struct ComponentServerTests {
  let expectedServices = [
    "dapr.proto.components.v1.StateStore",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.health.v1.Health",
    "apiary.proto.components.v1.ComponentLogs",
  ]

  private func reflect(
    _ client: GRPCClient<HTTP2ClientTransport.Posix>,
    _ configure: (inout Grpc_Reflection_V1_ServerReflectionRequest) -> Void
  ) async throws -> Grpc_Reflection_V1_ServerReflectionResponse {
    var request = Grpc_Reflection_V1_ServerReflectionRequest()
    configure(&request)
    return try await Grpc_Reflection_V1_ServerReflection.Client(wrapping: client)
      .serverReflectionInfo(
        options: testCallOptions,
        requestProducer: { [request] writer in try await writer.write(request) },
        onResponse: { response in
          for try await message in response.messages { return message }
          throw TestSupportError("no reflection answer")
        })
  }

  private func fileNames(_ response: Grpc_Reflection_V1_ServerReflectionResponse) throws -> [String]
  {
    try response.fileDescriptorResponse.fileDescriptorProto.map {
      try Google_Protobuf_FileDescriptorProto(serializedBytes: $0).name
    }
  }

  @Test("reflection v1 and v1alpha list the same services")
  func listsServices() async throws {
    try await withServedClient([.stateStore { DictionaryStore() }]) { client in
      let v1 = try await reflect(client) { $0.listServices = "" }
      #expect(v1.listServicesResponse.service.map(\.name) == expectedServices)

      var alphaRequest = Grpc_Reflection_V1alpha_ServerReflectionRequest()
      alphaRequest.listServices = ""
      alphaRequest.host = "component"
      let alpha = try await Grpc_Reflection_V1alpha_ServerReflection.Client(wrapping: client)
        .serverReflectionInfo(
          options: testCallOptions,
          requestProducer: { [alphaRequest] writer in try await writer.write(alphaRequest) },
          onResponse: { response in
            for try await message in response.messages { return message }
            throw TestSupportError("no reflection answer")
          })
      #expect(alpha.listServicesResponse.service.map(\.name) == expectedServices)
      #expect(alpha.validHost == "component")
      #expect(alpha.originalRequest == alphaRequest)
    }
  }

  @Test("reflection answers files by name and by symbol, with their dependencies")
  func answersFileRequests() async throws {
    try await withServedClient([.stateStore { DictionaryStore() }]) { client in
      let byName = try await reflect(client) {
        $0.fileByFilename = "dapr/proto/components/v1/state.proto"
      }
      let names = try fileNames(byName)
      #expect(names.first == "dapr/proto/components/v1/state.proto")
      #expect(
        Set(names) == [
          "dapr/proto/components/v1/state.proto", "dapr/proto/components/v1/common.proto",
          "google/protobuf/any.proto",
        ])

      for symbol in [
        "dapr.proto.components.v1.StateStore", "dapr.proto.components.v1.StateStore.Get",
        ".dapr.proto.components.v1.GetRequest",
        "dapr.proto.components.v1.StateOptions.StateConcurrency",
      ] {
        let bySymbol = try await reflect(client) { $0.fileContainingSymbol = symbol }
        #expect(
          try fileNames(bySymbol).first == "dapr/proto/components/v1/state.proto", "\(symbol)")
      }

      let hello = try await reflect(client) {
        $0.fileContainingSymbol = "spec.proto.pluggable.v1.hello.Hello"
      }
      #expect(try fileNames(hello).contains("spec/proto/pluggable/v1/common/common.proto"))

      let missing = try await reflect(client) { $0.fileContainingSymbol = "no.such.Symbol" }
      #expect(missing.errorResponse.errorCode == 5)
      #expect(missing.errorResponse.errorMessage == "symbol not found: no.such.Symbol")

      let missingFile = try await reflect(client) { $0.fileByFilename = "nope.proto" }
      #expect(missingFile.errorResponse.errorCode == 5)

      let extensions = try await reflect(client) {
        $0.allExtensionNumbersOfType = "dapr.proto.components.v1.GetRequest"
      }
      #expect(
        extensions.allExtensionNumbersResponse.baseTypeName
          == "dapr.proto.components.v1.GetRequest")
      #expect(extensions.allExtensionNumbersResponse.extensionNumber.isEmpty)
    }
  }

  @Test("grpc.health.v1 reports SERVING for the server and its services, NOT_FOUND otherwise")
  func health() async throws {
    try await withServedClient([.stateStore { DictionaryStore() }]) { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      for service in ["", "dapr.proto.components.v1.StateStore"] {
        var request = Grpc_Health_V1_HealthCheckRequest()
        request.service = service
        #expect(try await health.check(request, options: testCallOptions).status == .serving)
      }
      var unknown = Grpc_Health_V1_HealthCheckRequest()
      unknown.service = "dapr.proto.components.v1.PubSub"
      await #expect(throws: RPCError.self) {
        _ = try await health.check(unknown, options: testCallOptions)
      }
      do {
        _ = try await health.check(unknown, options: testCallOptions)
      } catch let error as RPCError {
        #expect(error.code == .notFound)
      }
    }
  }

  @Test("x-component-instance keeps instances apart; Init makes a fresh one")
  func instancesAreKeptApart() async throws {
    try await withServedClient([.stateStore { DictionaryStore() }]) { client in
      let store = Dapr_Proto_Components_V1_StateStore.Client(wrapping: client)
      for name in ["orders", "carts"] {
        var initRequest = Dapr_Proto_Components_V1_InitRequest()
        initRequest.metadata.properties = ["id": name]
        _ = try await store.`init`(
          initRequest, metadata: instance(name), options: testCallOptions)
      }
      var set = Dapr_Proto_Components_V1_SetRequest()
      set.key = "k"
      set.value = Data("v".utf8)
      _ = try await store.set(set, metadata: instance("orders"), options: testCallOptions)

      var get = Dapr_Proto_Components_V1_GetRequest()
      get.key = "k"
      #expect(
        try await store.get(get, metadata: instance("orders"), options: testCallOptions).data
          == Data("v".utf8))
      #expect(
        try await store.get(get, metadata: instance("carts"), options: testCallOptions).data
          .isEmpty)
      get.key = "whoami"
      #expect(
        try await store.get(get, metadata: instance("carts"), options: testCallOptions).data
          == Data("carts".utf8))

      // Re-initialising "orders" replaces it with a fresh instance.
      _ = try await store.`init`(
        Dapr_Proto_Components_V1_InitRequest(), metadata: instance("orders"),
        options: testCallOptions)
      get.key = "k"
      #expect(
        try await store.get(get, metadata: instance("orders"), options: testCallOptions).data
          .isEmpty)

      // A failed Init leaves the instance uninitialised and says why.
      var failing = Dapr_Proto_Components_V1_InitRequest()
      failing.metadata.properties = ["fail": "yes"]
      do {
        _ = try await store.`init`(
          failing, metadata: instance("broken"), options: testCallOptions)
        Issue.record("Init should have failed")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.message == "told to fail")
      }
      do {
        _ = try await store.get(get, metadata: instance("broken"), options: testCallOptions)
        Issue.record("a call to an uninitialised instance should fail")
      } catch let error as RPCError {
        #expect(error.code == .failedPrecondition)
        #expect(error.message == "instance 'broken' is not initialised; call Init first")
      }
    }
  }

  @Test("ComponentLogs/Tail streams the records of the SDK's log handler")
  func tailsLogs() async throws {
    let logs = ComponentLogStore()
    let logger = Logger(label: "tail-test") { label in
      ComponentLogHandler(label: label, store: logs)
    }
    logger.info("before tail")
    logger.debug("filtered out")
    try await withServedClient([.stateStore { DictionaryStore() }], logStore: logs) { client in
      var request = Apiary_Proto_Components_V1_TailLogsRequest()
      request.minLevel = .info
      let messages = try await Apiary_Proto_Components_V1_ComponentLogs.Client(wrapping: client)
        .tail(
          request, options: testCallOptions
        ) { response in
          var received: [String] = []
          for try await record in response.messages {
            received.append(record.message)
            if received.count == 1 { logger.warning("during tail") }
            if received.count == 2 { break }
          }
          return received
        }
      #expect(messages == ["before tail", "during tail"])
    }
  }
}
