import Foundation

/// What runs behind each configured component: the supervised process serving its
/// socket and the log source its records arrive under. The registry knows a
/// component's socket, the supervisor its processes' sockets, and the log hub its
/// sources by name; this joins the three, so that the API asks by component name
/// and never handles socket paths itself.
public struct ComponentProcesses: Sendable {
  let registry: ComponentRegistry
  let supervisor: ProcessSupervisor?
  let logHub: ComponentLogHub?

  public init(registry: ComponentRegistry, supervisor: ProcessSupervisor?, logHub: ComponentLogHub?)
  {
    self.registry = registry
    self.supervisor = supervisor
    self.logHub = logHub
  }

  /// Whether the component's records can be looked for at all: log forwarding is on
  /// and it is served from a socket (not built in, not PENDING).
  public func mayHaveLogs(_ component: ComponentStatus) -> Bool {
    logHub != nil && component.source.hasPrefix("/")
  }

  /// The log source of `name`: `name` itself when the hub has a source of that name,
  /// else the source of the configured component `name`.
  public func logSource(named name: String) async -> String? {
    if logHub?.sources[name] != nil { return name }
    guard let component = await registry.status(of: name) else { return nil }
    return await logSource(of: component)
  }

  /// The log source of `component`'s process: the one its Tail stream feeds (named
  /// after its socket), else the supervised process that serves its socket.
  public func logSource(of component: ComponentStatus) async -> String? {
    guard let logHub, mayHaveLogs(component) else { return nil }
    let byName = componentName(
      forSocketFileName: (component.source as NSString).lastPathComponent)
    if logHub.sources[byName] != nil { return byName }
    if let process = await process(of: component), logHub.sources[process.name] != nil {
      return process.name
    }
    return nil
  }

  /// The supervised process that serves `component`'s socket, if one does.
  public func process(of component: ComponentStatus) async -> ProcessSupervisor.Status? {
    guard let supervisor, component.source.hasPrefix("/") else { return nil }
    return await supervisor.all.first { $0.socket == component.source }
  }
}
