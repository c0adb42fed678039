import ApiaryContracts

/// A request message that adds attributes to its call's span, as daprd's request
/// types do (`AppendSpanAttributes`): OpenTelemetry's `db.*` for state, secrets and
/// bindings, `messaging.*` for publishing, and `rpc.service` `Dapr`.
protocol SpanDescribing {
  /// The attributes for a call of `method` (the full gRPC method path).
  func spanAttributes(method: String) -> [(String, String)]
}

enum SpanAttributeNames {
  static let dbSystem = "db.system"
  static let dbName = "db.name"
  static let dbStatement = "db.statement"
  static let dbConnectionString = "db.connection_string"
  static let messagingSystem = "messaging.system"
  static let messagingDestination = "messaging.destination.name"
  static let rpcService = "rpc.service"

  /// `db.*` for one store or binding: daprd names the building block as the system
  /// and the connection string, and the call as the statement.
  static func db(_ block: String, name: String, statement: String) -> [(String, String)] {
    [(dbSystem, block), (dbConnectionString, block), (dbStatement, statement), (dbName, name)]
  }

  /// `messaging.*` for one topic.
  static func messaging(topic: String) -> [(String, String)] {
    [(messagingSystem, "pubsub"), (messagingDestination, topic)]
  }
}

extension Dapr_Proto_Runtime_V1_GetStateRequest: SpanDescribing {
  func spanAttributes(method: String) -> [(String, String)] {
    [(SpanAttributeNames.rpcService, "Dapr")]
      + SpanAttributeNames.db("state", name: storeName, statement: method)
  }
}

extension Dapr_Proto_Runtime_V1_SaveStateRequest: SpanDescribing {
  func spanAttributes(method: String) -> [(String, String)] {
    [(SpanAttributeNames.rpcService, "Dapr")]
      + SpanAttributeNames.db("state", name: storeName, statement: method)
  }
}

extension Dapr_Proto_Runtime_V1_DeleteStateRequest: SpanDescribing {
  func spanAttributes(method: String) -> [(String, String)] {
    [(SpanAttributeNames.rpcService, "Dapr")]
      + SpanAttributeNames.db("state", name: storeName, statement: method)
  }
}

extension Dapr_Proto_Runtime_V1_GetSecretRequest: SpanDescribing {
  func spanAttributes(method: String) -> [(String, String)] {
    [(SpanAttributeNames.rpcService, "Dapr")]
      + SpanAttributeNames.db("secrets", name: storeName, statement: method)
  }
}

extension Dapr_Proto_Runtime_V1_InvokeBindingRequest: SpanDescribing {
  func spanAttributes(method: String) -> [(String, String)] {
    [(SpanAttributeNames.rpcService, "Dapr")]
      + SpanAttributeNames.db("bindings", name: name, statement: method)
  }
}

extension Dapr_Proto_Runtime_V1_PublishEventRequest: SpanDescribing {
  func spanAttributes(method: String) -> [(String, String)] {
    [(SpanAttributeNames.rpcService, "Dapr")] + SpanAttributeNames.messaging(topic: topic)
  }
}

extension Dapr_Proto_Runtime_V1_BulkPublishRequest: SpanDescribing {
  func spanAttributes(method: String) -> [(String, String)] {
    [(SpanAttributeNames.rpcService, "Dapr")] + SpanAttributeNames.messaging(topic: topic)
  }
}
