import ApiaryRuntime
import Foundation

/// The JSON shapes of the HTTP state API, read field by field so that every problem
/// names its place (`[2].etag must be a string`).
enum StateJSON {
  private static func malformed(_ message: String) -> DaprError {
    DaprError(.invalidArgument, "ERR_MALFORMED_REQUEST", message)
  }

  /// One `{key, value, etag?, metadata?, options?}` of a save request. The value is
  /// stored as its JSON text (a JSON string "a" is stored as `"a"`), as Dapr does.
  static func setRequest(_ item: Any, at place: String) throws(DaprError) -> StateSetRequest {
    guard let object = item as? [String: Any] else {
      throw malformed("\(place) must be an object with key and value")
    }
    guard let key = object["key"] as? String, !key.isEmpty else {
      guard object["key"] == nil || object["key"] is String else {
        throw malformed("\(place).key must be a string")
      }
      throw DaprError.emptyKeyOnSave()
    }
    var value = Data()
    if let written = object["value"], !(written is NSNull) {
      value =
        (try? JSONSerialization.data(withJSONObject: written, options: .fragmentsAllowed)) ?? Data()
    }
    let metadata = try stringMap(object["metadata"], at: "\(place).metadata")
    return StateSetRequest(
      key: key, value: value, etag: try etag(object["etag"], at: "\(place).etag"),
      metadata: metadata,
      options: try options(object["options"], at: "\(place).options"),
      contentType: metadata["contentType"] ?? "application/json")
  }

  /// One `{operation: upsert|delete, request: {key, value?, etag?}}` of a transaction.
  static func operation(_ item: Any, at place: String) throws(DaprError) -> StateOperation {
    guard let object = item as? [String: Any], let kind = object["operation"] as? String else {
      throw malformed("\(place) must be an object with operation (upsert or delete) and request")
    }
    guard let request = object["request"] else { throw malformed("\(place).request is missing") }
    switch kind.lowercased() {
    case "upsert":
      return .set(try setRequest(request, at: "\(place).request"))
    case "delete":
      guard let fields = request as? [String: Any], let key = fields["key"] as? String, !key.isEmpty
      else {
        throw malformed("\(place).request.key is missing or not a string")
      }
      return .delete(
        StateDeleteRequest(
          key: key, etag: try etag(fields["etag"], at: "\(place).request.etag"),
          metadata: try stringMap(fields["metadata"], at: "\(place).request.metadata"),
          options: try options(fields["options"], at: "\(place).request.options")))
    default:
      throw DaprError.unsupportedOperation(kind)
    }
  }

  /// A bulk get answer item.
  static func bulkItem(_ item: BulkStateItem) -> [String: Any] {
    var json: [String: Any] = ["key": item.key]
    if let data = item.data, !data.isEmpty { json["data"] = HTTPResponses.embedded(data) }
    if let etag = item.etag, !etag.isEmpty { json["etag"] = etag }
    if !item.metadata.isEmpty { json["metadata"] = item.metadata }
    if let error = item.error, !error.isEmpty { json["error"] = error }
    return json
  }

  static func stringMap(_ value: Any?, at place: String) throws(DaprError) -> [String: String] {
    guard let value, !(value is NSNull) else { return [:] }
    guard let object = value as? [String: Any] else {
      throw malformed("\(place) must be an object of strings")
    }
    var map: [String: String] = [:]
    for (key, entry) in object {
      guard let text = entry as? String else { throw malformed("\(place).\(key) must be a string") }
      map[key] = text
    }
    return map
  }

  private static func etag(_ value: Any?, at place: String) throws(DaprError) -> String? {
    guard let value, !(value is NSNull) else { return nil }
    guard let text = value as? String else { throw malformed("\(place) must be a string") }
    return text.isEmpty ? nil : text
  }

  private static func options(_ value: Any?, at place: String) throws(DaprError) -> StateOptions {
    guard let value, !(value is NSNull) else { return StateOptions() }
    guard let object = value as? [String: Any] else {
      throw malformed("\(place) must be an object")
    }
    return StateOptions(
      concurrency: try concurrency(object["concurrency"] as? String, at: "\(place).concurrency"),
      consistency: consistency(object["consistency"] as? String))
  }

  static func concurrency(
    _ text: String?, at place: String
  ) throws(DaprError) -> StateOptions.Concurrency {
    switch text?.lowercased() {
    case nil, "": return .unspecified
    case "first-write": return .firstWrite
    case "last-write": return .lastWrite
    case let other?: throw malformed("\(place) '\(other)' is not first-write or last-write")
    }
  }

  static func consistency(_ text: String?) -> StateOptions.Consistency {
    switch text?.lowercased() {
    case "strong": .strong
    case "eventual": .eventual
    default: .unspecified
    }
  }
}
