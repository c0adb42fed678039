import ApiaryContracts
import ApiaryRuntime
import Foundation
import GRPCCore
import Logging
import SwiftProtobuf

/// `dapr.proto.runtime.v1.Dapr`, the gRPC API every Dapr SDK speaks, over ``AppAPI``.
///
/// Methods throw ``DaprError``, which becomes its gRPC status (with
/// `grpc-status-details-bin` for daprd's rich errors) through `RPCErrorConvertible`; a
/// method of Dapr's API that is not declared in `Proto/` answers UNIMPLEMENTED.
public struct DaprService: Dapr_Proto_Runtime_V1_Dapr.SimpleServiceProtocol {
  let api: AppAPI
  let logger: Logger

  public init(api: AppAPI, logger: Logger) {
    self.api = api
    self.logger = logger
  }

  // MARK: - State

  public func getState(
    request: Dapr_Proto_Runtime_V1_GetStateRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_GetStateResponse {
    let found = try await api.getState(
      store: request.storeName,
      StateGetRequest(
        key: request.key, metadata: request.metadata, consistency: .init(request.consistency)))
    var response = Dapr_Proto_Runtime_V1_GetStateResponse()
    response.data = found.data ?? Data()
    response.etag = found.etag ?? ""
    response.metadata = found.metadata
    return response
  }

  public func getBulkState(
    request: Dapr_Proto_Runtime_V1_GetBulkStateRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_GetBulkStateResponse {
    let items = try await api.getBulkState(
      store: request.storeName,
      request.keys.map { StateGetRequest(key: $0, metadata: request.metadata) },
      parallelism: Int(request.parallelism))
    var response = Dapr_Proto_Runtime_V1_GetBulkStateResponse()
    response.items = items.map { item in
      var out = Dapr_Proto_Runtime_V1_BulkStateItem()
      out.key = item.key
      out.data = item.data ?? Data()
      out.etag = item.etag ?? ""
      out.error = item.error ?? ""
      out.metadata = item.metadata
      return out
    }
    return response
  }

  public func saveState(
    request: Dapr_Proto_Runtime_V1_SaveStateRequest, context: ServerContext
  ) async throws -> Google_Protobuf_Empty {
    try await api.saveState(store: request.storeName, request.states.map(StateSetRequest.init))
    return Google_Protobuf_Empty()
  }

  public func queryStateAlpha1(
    request: Dapr_Proto_Runtime_V1_QueryStateRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_QueryStateResponse {
    let result = try await api.queryState(
      store: request.storeName, query: Data(request.query.utf8), metadata: request.metadata)
    var response = Dapr_Proto_Runtime_V1_QueryStateResponse()
    // daprd answers an empty result with an empty response (token and metadata dropped).
    guard !result.items.isEmpty else { return response }
    response.results = result.items.map { item in
      var out = Dapr_Proto_Runtime_V1_QueryStateItem()
      out.key = item.key
      out.data = item.data
      out.etag = item.etag ?? ""
      out.error = item.error ?? ""
      return out
    }
    response.token = result.token
    response.metadata = result.metadata
    return response
  }

  public func deleteState(
    request: Dapr_Proto_Runtime_V1_DeleteStateRequest, context: ServerContext
  ) async throws -> Google_Protobuf_Empty {
    let delete = StateDeleteRequest(
      key: request.key,
      etag: request.hasEtag && !request.etag.value.isEmpty ? request.etag.value : nil,
      metadata: request.metadata,
      options: StateOptions(request.hasOptions ? request.options : nil))
    try await api.deleteState(store: request.storeName, [delete])
    return Google_Protobuf_Empty()
  }

  public func deleteBulkState(
    request: Dapr_Proto_Runtime_V1_DeleteBulkStateRequest, context: ServerContext
  ) async throws -> Google_Protobuf_Empty {
    try await api.deleteState(store: request.storeName, request.states.map(StateDeleteRequest.init))
    return Google_Protobuf_Empty()
  }

  public func executeStateTransaction(
    request: Dapr_Proto_Runtime_V1_ExecuteStateTransactionRequest, context: ServerContext
  ) async throws -> Google_Protobuf_Empty {
    var operations: [StateOperation] = []
    for operation in request.operations {
      switch operation.operationType.lowercased() {
      case "upsert": operations.append(.set(StateSetRequest(operation.request)))
      case "delete": operations.append(.delete(StateDeleteRequest(operation.request)))
      default:
        throw DaprError.unsupportedOperation(operation.operationType)
      }
    }
    try await api.transact(
      store: request.storeName, operations, metadata: request.metadata, trace: TraceContext.current)
    return Google_Protobuf_Empty()
  }

  // MARK: - Pub/sub

  public func publishEvent(
    request: Dapr_Proto_Runtime_V1_PublishEventRequest, context: ServerContext
  ) async throws -> Google_Protobuf_Empty {
    try await api.publish(
      pubsub: request.pubsubName, topic: request.topic, payload: request.data,
      contentType: request.dataContentType.isEmpty ? "text/plain" : request.dataContentType,
      metadata: request.metadata, trace: TraceContext.current)
    return Google_Protobuf_Empty()
  }

  public func bulkPublishEventAlpha1(
    request: Dapr_Proto_Runtime_V1_BulkPublishRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_BulkPublishResponse {
    try await bulkPublishEvent(request: request, context: context)
  }

  public func bulkPublishEvent(
    request: Dapr_Proto_Runtime_V1_BulkPublishRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_BulkPublishResponse {
    let failures = try await api.bulkPublish(
      pubsub: request.pubsubName, topic: request.topic,
      entries: request.entries.map {
        BulkPublishEntry(
          entryID: $0.entryID, data: $0.event,
          contentType: $0.contentType.isEmpty ? nil : $0.contentType,
          metadata: $0.metadata)
      },
      metadata: request.metadata, trace: TraceContext.current)
    var response = Dapr_Proto_Runtime_V1_BulkPublishResponse()
    response.failedEntries = failures.map {
      var entry = Dapr_Proto_Runtime_V1_BulkPublishResponseFailedEntry()
      entry.entryID = $0.entryID
      entry.error = $0.error
      return entry
    }
    return response
  }

  public func subscribeTopicEventsAlpha1(
    request: RPCAsyncSequence<Dapr_Proto_Runtime_V1_SubscribeTopicEventsRequestAlpha1, any Error>,
    response: RPCWriter<Dapr_Proto_Runtime_V1_SubscribeTopicEventsResponseAlpha1>,
    context: ServerContext
  ) async throws {
    try await StreamingSubscription(api: api, logger: logger).run(
      requests: request, responses: response)
  }

  // MARK: - Bindings

  public func invokeBinding(
    request: Dapr_Proto_Runtime_V1_InvokeBindingRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_InvokeBindingResponse {
    let result = try await api.invokeBinding(
      name: request.name, operation: request.operation, data: request.data,
      metadata: request.metadata)
    var response = Dapr_Proto_Runtime_V1_InvokeBindingResponse()
    response.data = result.data
    response.metadata = result.metadata
    return response
  }

  // MARK: - Secrets

  public func getSecret(
    request: Dapr_Proto_Runtime_V1_GetSecretRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_GetSecretResponse {
    var response = Dapr_Proto_Runtime_V1_GetSecretResponse()
    response.data = try await api.secret(
      store: request.storeName, key: request.key, metadata: request.metadata)
    return response
  }

  public func getBulkSecret(
    request: Dapr_Proto_Runtime_V1_GetBulkSecretRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_GetBulkSecretResponse {
    let secrets = try await api.bulkSecrets(store: request.storeName, metadata: request.metadata)
    var response = Dapr_Proto_Runtime_V1_GetBulkSecretResponse()
    response.data = secrets.mapValues { values in
      var secret = Dapr_Proto_Runtime_V1_SecretResponse()
      secret.secrets = values
      return secret
    }
    return response
  }

  // MARK: - Metadata and shutdown

  public func getMetadata(
    request: Dapr_Proto_Runtime_V1_GetMetadataRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Runtime_V1_GetMetadataResponse {
    let metadata = await api.metadata()
    var response = Dapr_Proto_Runtime_V1_GetMetadataResponse()
    response.id = metadata.id
    response.runtimeVersion = metadata.runtimeVersion
    response.extendedMetadata = metadata.extended
    response.enabledFeatures = metadata.enabledFeatures
    response.registeredComponents = metadata.components.map {
      var component = Dapr_Proto_Runtime_V1_RegisteredComponents()
      component.name = $0.name
      component.type = $0.type
      component.version = $0.version
      component.capabilities = $0.capabilities
      return component
    }
    response.subscriptions = metadata.subscriptions.map { entry in
      var subscription = Dapr_Proto_Runtime_V1_PubsubSubscription()
      subscription.pubsubName = entry.pubsubName
      subscription.topic = entry.topic
      subscription.metadata = entry.metadata
      subscription.deadLetterTopic = entry.deadLetterTopic
      subscription.rules.rules = entry.routes.listed.map { listed in
        var rule = Dapr_Proto_Runtime_V1_PubsubSubscriptionRule()
        rule.match = listed.match
        rule.path = listed.path
        return rule
      }
      subscription.type =
        switch entry.kind {
        case .declarative: .declarative
        case .programmatic: .programmatic
        case .streaming: .streaming
        }
      return subscription
    }
    if let port = metadata.appPort {
      var connection = Dapr_Proto_Runtime_V1_AppConnectionProperties()
      connection.port = Int32(port)
      connection.protocol = metadata.appProtocol
      connection.channelAddress = "127.0.0.1"
      response.appConnectionProperties = connection
    }
    return response
  }

  public func setMetadata(
    request: Dapr_Proto_Runtime_V1_SetMetadataRequest, context: ServerContext
  ) async throws -> Google_Protobuf_Empty {
    try api.setExtendedMetadata(key: request.key, value: request.value)
    return Google_Protobuf_Empty()
  }

  public func shutdown(
    request: Dapr_Proto_Runtime_V1_ShutdownRequest, context: ServerContext
  ) async throws -> Google_Protobuf_Empty {
    logger.notice("shutdown requested through the API")
    api.shutdown()
    return Google_Protobuf_Empty()
  }
}

// MARK: - Message conversions

extension StateOptions.Consistency {
  init(_ consistency: Dapr_Proto_Common_V1_StateOptions.StateConsistency) {
    switch consistency {
    case .consistencyEventual: self = .eventual
    case .consistencyStrong: self = .strong
    default: self = .unspecified
    }
  }
}

extension StateOptions {
  init(_ options: Dapr_Proto_Common_V1_StateOptions?) {
    guard let options else {
      self.init()
      return
    }
    let concurrency: Concurrency =
      switch options.concurrency {
      case .concurrencyFirstWrite: .firstWrite
      case .concurrencyLastWrite: .lastWrite
      default: .unspecified
      }
    self.init(concurrency: concurrency, consistency: Consistency(options.consistency))
  }
}

extension StateSetRequest {
  init(_ item: Dapr_Proto_Common_V1_StateItem) {
    self.init(
      key: item.key, value: item.value,
      etag: item.hasEtag && !item.etag.value.isEmpty ? item.etag.value : nil,
      metadata: item.metadata,
      options: StateOptions(item.hasOptions ? item.options : nil),
      contentType: item.metadata["contentType"])
  }
}

extension StateDeleteRequest {
  init(_ item: Dapr_Proto_Common_V1_StateItem) {
    self.init(
      key: item.key, etag: item.hasEtag && !item.etag.value.isEmpty ? item.etag.value : nil,
      metadata: item.metadata,
      options: StateOptions(item.hasOptions ? item.options : nil))
  }
}
