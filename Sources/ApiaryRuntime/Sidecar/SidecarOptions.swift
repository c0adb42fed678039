import GRPCCoreCTransport

/// What `apiary run` was asked to do.
public struct SidecarOptions: Sendable {
  /// Folders of component YAML files; empty means none (the caller applies the
  /// `./components` default).
  public var resourcesPaths: [String]
  /// The sockets folder.
  public var socketsDir: String
  /// This app's id: scopes are matched against it.
  public var appID: String
  /// How long each socket may take to answer discovery.
  public var discoveryTimeout: Duration
  /// How long a PENDING component may wait for its socket.
  public var componentWait: Duration
  /// How often the sockets folder is looked at without an inotify event (and how
  /// often it is polled where inotify is unavailable).
  public var rescanInterval: Duration
  /// inotify with polling as the fallback, or polling only.
  public var watchMode: SocketFolderWatcher.Mode = .automatic
  /// How long supervised processes get between SIGTERM and SIGKILL on shutdown.
  public var shutdownGrace: Duration = .seconds(5)
  /// The environment (for envRef metadata and the env secret store).
  public var environment: [String: String]
  /// How often each component socket is heartbeated.
  public var heartbeatInterval: Duration
  /// How long one heartbeat may take.
  public var heartbeatTimeout: Duration
  /// Consecutive failed heartbeats before a component is DOWN.
  public var failureThreshold: Int
  /// The gRPC transport for component calls: `APIARY_TRANSPORT`, else the default.
  public var transport: TransportKind = TransportKind.fromEnvironment ?? .default
  /// How long one component call (other than Init, Features, Ping) may take before it
  /// fails DEADLINE_EXCEEDED (504 on HTTP).
  public var callTimeout: Duration = .seconds(30)
  /// The users whose component sockets are used (SO_PEERCRED); nil: any user.
  public var allowedComponentUIDs: Set<UInt32>? = nil

  public init(
    resourcesPaths: [String], socketsDir: String, appID: String = "apiary",
    discoveryTimeout: Duration = .seconds(2),
    componentWait: Duration = .seconds(30), rescanInterval: Duration = .seconds(1),
    environment: [String: String],
    heartbeatInterval: Duration = .seconds(2), heartbeatTimeout: Duration = .seconds(1),
    failureThreshold: Int = 3
  ) {
    self.heartbeatInterval = heartbeatInterval
    self.heartbeatTimeout = heartbeatTimeout
    self.failureThreshold = failureThreshold
    self.resourcesPaths = resourcesPaths
    self.socketsDir = socketsDir
    self.appID = appID
    self.discoveryTimeout = discoveryTimeout
    self.componentWait = componentWait
    self.rescanInterval = rescanInterval
    self.environment = environment
  }
}
