import ApiaryShared
import Foundation
import GRPCCoreCTransport
import Logging
import Synchronization

/// Finds pluggable components: every Unix socket in a folder is dialled and asked, with
/// gRPC server reflection, which services it serves.
///
/// Sockets are probed concurrently, each within its own timeout, so one that refuses,
/// hangs or speaks no gRPC is reported as skipped and never delays or fails the others.
public struct Discovery: Sendable {
  /// The folder to scan.
  public var socketsDir: String
  /// How long one socket may take to answer.
  public var timeout: Duration
  /// Component types that already exist (e.g. built-ins), with who provides them; a
  /// socket offering one of them is reported, never allowed to replace it.
  public var reservedTypes: [String: String]
  public var logger: Logger
  /// Sockets already known (e.g. from an earlier scan); they are not dialled again.
  public var excluding: Set<String>
  /// The gRPC transport the connections use.
  public var transport: TransportKind
  /// When set, a socket is used only if the process listening on it runs as one of
  /// these users (SO_PEERCRED); others are skipped with the reason.
  public var allowedPeerUIDs: Set<UInt32>?
  /// The warnings already given by earlier scans: a socket skipped for the same
  /// reason is then logged at debug level, so a rescan every second says it once.
  public var warned: WarnedOnce?

  public init(
    socketsDir: String,
    timeout: Duration = .seconds(2),
    reservedTypes: [String: String] = [:],
    logger: Logger = Logger(label: "apiary.discovery"),
    excluding: Set<String> = [],
    transport: TransportKind = TransportKind.fromEnvironment ?? .default,
    allowedPeerUIDs: Set<UInt32>? = nil
  ) {
    self.transport = transport
    self.allowedPeerUIDs = allowedPeerUIDs
    self.socketsDir = socketsDir
    self.timeout = timeout
    self.reservedTypes = reservedTypes
    self.logger = logger
    self.excluding = excluding
  }

  /// Scans the folder once.
  ///
  /// - Throws: ``DiscoveryFolderError`` when the folder is missing or unreadable.
  public func scan() async throws(DiscoveryFolderError) -> DiscoveryReport {
    let (report, channels) = try await scanKeepingChannels()
    for channel in channels.values { await channel.close(grace: .milliseconds(100)) }
    return report
  }

  /// Scans the folder once and keeps the connection of every socket that provides a
  /// component type open, by socket path, so the sidecar's adapters reuse it instead of
  /// dialling again. The caller closes them.
  ///
  /// - Throws: ``DiscoveryFolderError`` when the folder is missing or unreadable.
  public func scanKeepingChannels() async throws(DiscoveryFolderError) -> (
    DiscoveryReport, [String: ComponentChannel]
  ) {
    let sockets = try socketPaths().filter { !excluding.contains($0) }
    let probes = await withTaskGroup(of: (String, Probe).self) { group in
      for path in sockets {
        group.addTask { (path, await probe(path)) }
      }
      var all: [String: Probe] = [:]
      for await (path, outcome) in group { all[path] = outcome }
      return all
    }
    let outcomes = probes.mapValues(\.outcome)

    var components: [DiscoveredComponent] = []
    var skipped: [SkippedSocket] = []
    var owners = reservedTypes
    for path in sockets {
      switch outcomes[path] {
      case .success((let version, let services))?:
        let name = componentName(forSocketFileName: (path as NSString).lastPathComponent)
        var component = DiscoveredComponent(
          socket: path, name: name, reflection: version, services: services.sorted(), types: [])
        var collisions: [String] = []
        for block in component.buildingBlocks {
          let type = block.componentType(name: name)
          if let owner = owners[type] {
            collisions.append("\(type) is already provided by \(owner)")
          } else {
            owners[type] = path
            component.types.append(type)
          }
        }
        for unknown in component.unknownServices {
          logger.info(
            "ignoring a service Apiary does not know",
            metadata: ["socket": "\(path)", "service": "\(unknown)"])
        }
        if !collisions.isEmpty {
          let reason = collisions.joined(separator: "; ")
          log("component type collision: \(reason)", socket: path)
          if component.types.isEmpty {
            skipped.append(SkippedSocket(socket: path, reason: reason))
            continue
          }
        }
        if component.types.isEmpty {
          logger.info("socket serves no component service", metadata: ["socket": "\(path)"])
        }
        components.append(component)
      case .failure(let problem)?:
        log("skipping socket: \(problem)", socket: path)
        skipped.append(SkippedSocket(socket: path, reason: problem.description))
      case nil:
        skipped.append(SkippedSocket(socket: path, reason: "no answer was recorded"))
      }
    }
    var kept: [String: ComponentChannel] = [:]
    let providing = Set(components.filter { !$0.types.isEmpty }.map(\.socket))
    for (path, probe) in probes {
      guard let channel = probe.channel else { continue }
      if providing.contains(path) {
        kept[path] = channel
      } else {
        await channel.close(grace: .milliseconds(100))
      }
    }
    return (DiscoveryReport(socketsDir: socketsDir, components: components, skipped: skipped), kept)
  }

  /// Logs a warning about `socket`, or a debug line when ``warned`` has seen it.
  private func log(_ message: String, socket: String) {
    if warned?.first(socket: socket, message: message) ?? true {
      logger.warning("\(message)", metadata: ["socket": "\(socket)"])
    } else {
      logger.debug("\(message) (as before)", metadata: ["socket": "\(socket)"])
    }
  }

  /// The Unix sockets in the folder, sorted; other entries are skipped with a debug line.
  func socketPaths() throws(DiscoveryFolderError) -> [String] {
    switch FileKind.of(socketsDir) {
    case .directory: break
    case .missing: throw .missing(socketsDir)
    case .socket, .other: throw .notAFolder(socketsDir)
    }
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: socketsDir)
    } catch {
      throw .unreadable(socketsDir, String(describing: error))
    }
    var sockets: [String] = []
    for name in names.sorted() {
      let path = socketsDir.hasSuffix("/") ? socketsDir + name : socketsDir + "/" + name
      switch FileKind.of(path) {
      case .socket:
        sockets.append(path)
      case .directory:
        logger.debug("not a socket: a folder", metadata: ["socket": "\(path)"])
      case .other(let what):
        logger.debug("not a socket: \(what)", metadata: ["socket": "\(path)"])
      case .missing:
        continue
      }
    }
    return sockets
  }

  /// What probing one socket found, and its still open connection when it answered.
  struct Probe: Sendable {
    var outcome: Result<(ReflectionVersion, [String]), DiscoveryProblem>
    var channel: ComponentChannel?
  }

  /// Connects to one socket and lists its services, within ``timeout``. The connection
  /// of a socket that answered stays open; any other is closed.
  func probe(_ path: String) async -> Probe {
    if case .failed(let reason) = SocketConnectCheck.check(path, allowedUIDs: allowedPeerUIDs) {
      return Probe(outcome: .failure(DiscoveryProblem(reason)))
    }
    let channel: ComponentChannel
    do {
      channel = try ComponentChannel(socketPath: path, transport: transport)
    } catch {
      return Probe(outcome: .failure(DiscoveryProblem("cannot dial it: \(error)")))
    }
    do {
      let listed = try await ServiceLister(channel: channel, logger: logger.with(socket: path))
        .listServices(timeout: timeout)
      return Probe(outcome: .success(listed), channel: channel)
    } catch {
      // No call is in flight any more; a short grace is enough.
      await channel.close(grace: .milliseconds(100))
      return Probe(outcome: .failure(error))
    }
  }
}

/// The sockets folder cannot be scanned.
public enum DiscoveryFolderError: Error, Sendable, Equatable, CustomStringConvertible {
  case missing(String)
  case notAFolder(String)
  case unreadable(String, String)

  public var description: String {
    switch self {
    case .missing(let path):
      "sockets folder \(path) does not exist (set --sockets-dir, APIARY_SOCKETS_DIR or DAPR_COMPONENTS_SOCKETS_FOLDER)"
    case .notAFolder(let path):
      "sockets folder \(path) is not a folder"
    case .unreadable(let path, let reason):
      "sockets folder \(path) cannot be read: \(reason)"
    }
  }
}

extension Logger {
  /// A copy of this logger that tags every line with `socket`.
  func with(socket: String) -> Logger {
    var copy = self
    copy[metadataKey: "socket"] = "\(socket)"
    return copy
  }
}

/// Which warnings about sockets were already given, by socket and message.
public final class WarnedOnce: Sendable {
  private let seen = Mutex<Set<String>>([])

  public init() {}

  /// True the first time `message` is given for `socket`.
  public func first(socket: String, message: String) -> Bool {
    seen.withLock { $0.insert(socket + "\u{0}" + message).inserted }
  }

  /// Forgets `socket`'s warnings (it was removed or now works), so a new problem with
  /// it is said again.
  public func forget(socket: String) {
    seen.withLock { $0 = $0.filter { !$0.hasPrefix(socket + "\u{0}") } }
  }
}
