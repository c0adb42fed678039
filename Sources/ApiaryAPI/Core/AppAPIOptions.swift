import ApiaryRuntime

/// What the app API needs to know about the sidecar it fronts.
public struct AppAPIOptions: Sendable {
  /// This application's id: the default state key prefix and the CloudEvents source.
  public var appID: String
  /// The largest request body (HTTP) or message (gRPC) accepted, in bytes.
  public var maxBodySize: Int
  /// When set, every call except the health checks needs `dapr-api-token: <token>`.
  public var apiToken: String?
  /// The app's port, when the sidecar delivers events to the app.
  public var appPort: Int?
  /// `http` or `grpc`: how events are delivered to the app.
  public var appProtocol: String
  /// The most attributes the app may set with SetMetadata (`--max-metadata-entries`).
  public var maxMetadataEntries: Int = 100
  /// The most bytes (keys and values together) the app may set with SetMetadata
  /// (`--max-metadata-size`).
  public var maxMetadataBytes: Int = 64 << 10
  /// Dapr's `kind: Configuration`: secret scopes, tracing, metrics.
  public var configuration = DaprConfiguration()

  public init(
    appID: String, maxBodySize: Int = 4 << 20, apiToken: String? = nil, appPort: Int? = nil,
    appProtocol: String = "http"
  ) {
    self.appID = appID
    self.appPort = appPort
    self.appProtocol = appProtocol
    self.maxBodySize = maxBodySize
    self.apiToken = apiToken
  }
}
