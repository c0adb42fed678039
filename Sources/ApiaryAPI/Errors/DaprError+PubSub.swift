import ApiaryRuntime
import GRPCCore
import HTTPTypes

/// The publish API's errors, as daprd answers them (spec §1.3). ResourceInfo, where
/// daprd sends it, names the pub/sub and repeats the message.
extension DaprError {
  private static func pubsub(
    _ code: RPCError.Code, _ status: HTTPResponse.Status, _ errorCode: String, _ reason: String,
    _ message: String,
    pubsub: String?, metadata: [String: String] = [:]
  ) -> DaprError {
    var error = DaprError(
      code: code, status: status, errorCode: errorCode, message: message, reason: reason,
      metadata: metadata)
    if let pubsub {
      error.resource = Resource(type: "pubsub", name: pubsub, description: error.message)
    }
    return error
  }

  /// No pub/sub has that name: 404 on HTTP (with the request's metadata), INVALID_ARGUMENT on gRPC.
  static func pubsubNotFound(_ name: String, requestMetadata: [String: String]) -> DaprError {
    var error = pubsub(
      .invalidArgument, .notFound, "ERR_PUBSUB_NOT_FOUND", "DAPR_PUBSUB_NOT_FOUND",
      "pubsub \(name) is not found",
      pubsub: nil)
    error.httpMetadata = requestMetadata
    return error
  }

  /// No pub/sub is configured at all.
  static func pubsubNotConfigured(_ name: String) -> DaprError {
    pubsub(
      .failedPrecondition, .badRequest, "ERR_PUBSUB_NOT_CONFIGURED", "DAPR_PUBSUB_NOT_CONFIGURED",
      "pubsub \(name) is not configured", pubsub: nil)
  }

  /// The request names no pub/sub.
  static func pubsubEmpty(requestMetadata: [String: String]) -> DaprError {
    var error = pubsub(
      .invalidArgument, .notFound, "ERR_PUBSUB_EMPTY", "DAPR_PUBSUB_NAME_EMPTY",
      "pubsub name is empty", pubsub: "")
    error.httpMetadata = requestMetadata
    error.metadata = requestMetadata
    return error
  }

  /// The request names no topic.
  static func topicEmpty(_ name: String, requestMetadata: [String: String]) -> DaprError {
    pubsub(
      .invalidArgument, .notFound, "ERR_TOPIC_NAME_EMPTY", "DAPR_PUBSUB_TOPIC_NAME_EMPTY",
      "topic is empty in pubsub \(name)", pubsub: name, metadata: requestMetadata)
  }

  /// `rawPayload` metadata that is not a boolean.
  static func rawPayloadNotBool(
    _ value: String, pubsub name: String, requestMetadata: [String: String]
  ) -> DaprError {
    pubsub(
      .invalidArgument, .badRequest, "ERR_PUBSUB_REQUEST_METADATA",
      "DAPR_PUBSUB_METADATA_DESERIALIZATION",
      "failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is '\(value)'",
      pubsub: name, metadata: requestMetadata)
  }

  /// A body sent as `application/cloudevents+json` that is not a JSON object.
  static func cloudEventCreation(pubsub name: String, appID: String, problem: String) -> DaprError {
    pubsub(
      .invalidArgument, .internalServerError, "ERR_PUBSUB_CLOUD_EVENTS_SER",
      "DAPR_PUBSUB_CLOUD_EVENT_CREATION",
      "cannot create cloudevent", pubsub: name, metadata: ["appID": appID, "error": problem])
  }

  /// The component's Publish failed.
  static func publishFailed(pubsub name: String, topic: String, _ error: any Error) -> DaprError {
    if let passed = componentRich(error) ?? componentTransport(error, component: name) {
      return passed
    }
    let text = text(of: error)
    return pubsub(
      .internalError, .internalServerError, "ERR_PUBSUB_PUBLISH_MESSAGE",
      "DAPR_PUBSUB_PUBLISH_MESSAGE",
      "error when publishing to topic \(topic) in pubsub \(name): \(text)", pubsub: name,
      metadata: ["topic": topic, "error": text])
  }

  /// A bulk publish body that is not a JSON array of entries.
  static func bulkUnmarshal(
    pubsub name: String, topic: String, appID: String, problem: String
  ) -> DaprError {
    pubsub(
      .invalidArgument, .badRequest, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_UNMARSHAL_EVENTS",
      "error when unmarshaling the request for topic \(topic) pubsub \(name): \(problem)",
      pubsub: name,
      metadata: ["appID": appID])
  }

  /// A bulk entry without an entryId, or with one used twice.
  static func bulkEntryID(pubsub name: String, topic: String, appID: String) -> DaprError {
    let problem = "entryId is duplicated or not present for entry"
    return pubsub(
      .invalidArgument, .badRequest, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_EVENTS",
      "error marshaling events to bytes for topic \(topic) pubsub \(name). error: \(problem)",
      pubsub: name,
      metadata: ["appID": appID, "error": problem])
  }
}
