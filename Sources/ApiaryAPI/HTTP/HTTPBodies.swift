import ApiaryRuntime

/// The Dapr HTTP API's JSON bodies whose fields are fixed, as types. Bodies that carry
/// the app's own JSON (state values, binding data, bulk publish events, query
/// results) stay Foundation JSON: they must pass through as the app wrote them, which
/// `JSONEncoder` and `JSONDecoder` cannot do for an arbitrary fragment.
enum HTTPBody {
  /// `POST /v1.0/hello/{component}`.
  struct HelloRequest: Decodable, Sendable {
    var name: String
  }

  /// `POST /v1.0/hello/{component}`'s answer.
  struct HelloResponse: Encodable, Sendable {
    var hello: String
  }

  /// `POST /v1.0/state/{store}/bulk`: `keys` must be strings; a `parallelism` that is
  /// missing or not a whole number counts as 1 (as apiary read it before it was typed).
  struct BulkGetRequest: Decodable, Sendable {
    var keys: [String]
    var parallelism: Int

    private enum CodingKeys: String, CodingKey { case keys, parallelism }

    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      keys = try container.decode([String].self, forKey: .keys)
      parallelism = (try? container.decode(Int.self, forKey: .parallelism)) ?? 1
    }
  }

  /// `GET /v1.0/metadata`.
  struct Metadata: Encodable, Sendable {
    struct Component: Encodable, Sendable {
      var name: String
      var type: String
      var version: String
      var capabilities: [String]
    }

    struct Rule: Encodable, Sendable {
      var match: String
      var path: String
    }

    struct Subscription: Encodable, Sendable {
      var pubsubname: String
      var topic: String
      var metadata: [String: String]
      var rules: [Rule]
      var deadLetterTopic: String
      var type: String
    }

    struct AppConnection: Encodable, Sendable {
      var port: Int
      var `protocol`: String
      var channelAddress: String
    }

    var id: String
    var runtimeVersion: String
    var enabledFeatures: [String]
    var components: [Component]
    var subscriptions: [Subscription]
    var extended: [String: String]
    var appConnectionProperties: AppConnection?

    init(_ metadata: RuntimeMetadata) {
      id = metadata.id
      runtimeVersion = metadata.runtimeVersion
      enabledFeatures = metadata.enabledFeatures
      components = metadata.components.map {
        Component(name: $0.name, type: $0.type, version: $0.version, capabilities: $0.capabilities)
      }
      subscriptions = metadata.subscriptions.map {
        Subscription(
          pubsubname: $0.pubsubName, topic: $0.topic, metadata: $0.metadata,
          rules: $0.routes.listed.map { Rule(match: $0.match, path: $0.path) },
          deadLetterTopic: $0.deadLetterTopic, type: $0.kind.rawValue)
      }
      extended = metadata.extended
      appConnectionProperties = metadata.appPort.map {
        AppConnection(port: $0, protocol: metadata.appProtocol, channelAddress: "127.0.0.1")
      }
    }
  }
}
