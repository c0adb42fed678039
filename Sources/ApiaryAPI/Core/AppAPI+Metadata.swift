import ApiaryRuntime

/// What the metadata API (GET /v1.0/metadata, GetMetadata) reports.
public struct RuntimeMetadata: Sendable, Equatable {
  /// One configured component.
  public struct Component: Sendable, Equatable {
    public var name: String
    public var type: String
    public var version: String
    /// Its features (state, pub/sub, secret stores) or operations (output bindings).
    public var capabilities: [String]
  }

  public var id: String
  public var runtimeVersion: String
  public var components: [Component]
  public var subscriptions: [SubscriptionTable.Entry]
  /// Apiary's own facts (`apiary.component.<name>.state`, `.socket`, `.reason`) and
  /// the attributes set with SetMetadata.
  public var extended: [String: String]
  public var appPort: Int?
  public var appProtocol: String
  /// The Configuration's enabled features.
  public var enabledFeatures: [String] = []
}

extension AppAPI {
  /// The sidecar's metadata: every configured component with its capabilities and
  /// health, and the subscriptions.
  public func metadata() async -> RuntimeMetadata {
    var extended = customMetadata
    var components: [RuntimeMetadata.Component] = []
    for status in await registry.all {
      components.append(
        RuntimeMetadata.Component(
          name: status.name, type: status.type, version: status.version,
          capabilities: status.capabilities))
      extended["apiary.component.\(status.name).state"] = status.state.rawValue
      extended["apiary.component.\(status.name).source"] = status.source
      if let reason = status.reason { extended["apiary.component.\(status.name).reason"] = reason }
    }
    extended["apiary.ready"] = await registry.isStarted ? "true" : "false"
    return RuntimeMetadata(
      id: options.appID, runtimeVersion: "apiary-\(ApiaryVersion.current)", components: components,
      subscriptions: await subscriptions.all, extended: extended, appPort: options.appPort,
      appProtocol: options.appProtocol, enabledFeatures: options.configuration.enabledFeatures)
  }
}
