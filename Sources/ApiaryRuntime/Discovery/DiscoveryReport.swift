import Foundation

/// What one scan of the sockets folder found. Its JSON form is what
/// `apiary discover --json` prints.
public struct DiscoveryReport: Sendable, Equatable {
  /// The folder scanned.
  public var socketsDir: String
  /// The sockets that answered reflection, sorted by socket path.
  public var components: [DiscoveredComponent]
  /// The sockets that could not be used, with the reason, sorted by socket path.
  public var skipped: [SkippedSocket]

  public init(socketsDir: String, components: [DiscoveredComponent], skipped: [SkippedSocket]) {
    self.socketsDir = socketsDir
    self.components = components
    self.skipped = skipped
  }

  /// The report as one line of JSON with its keys in the documented order
  /// (`socketsDir`, `components`, `skipped`; `socket`, `name`, `reflection`, `services`,
  /// `types`; `socket`, `reason`), so the output reads the same on every run.
  /// Foundation's `JSONEncoder` keeps no key order on Linux, hence this writer.
  public var json: String {
    func string(_ value: String) -> String { JSONText.quoted(value) }
    func strings(_ values: [String]) -> String {
      "[" + values.map(string).joined(separator: ",") + "]"
    }
    let components = components.map { component in
      "{\"socket\":\(string(component.socket)),\"name\":\(string(component.name)),"
        + "\"reflection\":\(string(component.reflection.rawValue)),\"services\":\(strings(component.services)),"
        + "\"types\":\(strings(component.types))}"
    }
    let skipped = skipped.map {
      "{\"socket\":\(string($0.socket)),\"reason\":\(string($0.reason))}"
    }
    return
      "{\"socketsDir\":\(string(socketsDir)),\"components\":[\(components.joined(separator: ","))],"
      + "\"skipped\":[\(skipped.joined(separator: ","))]}"
  }
}

/// A component socket that answered reflection.
public struct DiscoveredComponent: Sendable, Equatable {
  /// The socket's path.
  public var socket: String
  /// The component name: the file name minus its last extension, lower-cased.
  public var name: String
  /// The reflection version that answered.
  public var reflection: ReflectionVersion
  /// Every service reflection listed, sorted.
  public var services: [String]
  /// The component types this socket provides (`state.<name>`, …), in building-block
  /// order; a type another socket or a built-in already provides is left out.
  public var types: [String]

  public init(
    socket: String, name: String, reflection: ReflectionVersion, services: [String], types: [String]
  ) {
    self.socket = socket
    self.name = name
    self.reflection = reflection
    self.services = services
    self.types = types
  }

  /// The building blocks this socket's services implement, with whether input and
  /// output bindings were found.
  public var buildingBlocks: [BuildingBlock] {
    var blocks: [BuildingBlock] = []
    for service in services {
      if case .primary(let block) = ServiceRole.of(service), !blocks.contains(block) {
        blocks.append(block)
      }
    }
    return blocks.sorted()
  }

  /// The services the sidecar does not know, listed and ignored.
  public var unknownServices: [String] {
    services.filter { ServiceRole.of($0) == .unknown }
  }
}

/// A socket that could not be used.
public struct SkippedSocket: Sendable, Equatable {
  /// The socket's path.
  public var socket: String
  /// Why, in words a user can act on.
  public var reason: String

  public init(socket: String, reason: String) {
    self.socket = socket
    self.reason = reason
  }
}
