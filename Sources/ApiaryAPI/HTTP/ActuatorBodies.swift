import ApiaryRuntime

/// The actuator's JSON bodies as types (keys and nulls exactly as they are on the
/// wire; ``HTTPResponses/json(encoding:status:)`` writes them with sorted keys).
enum ActuatorBody {
  /// An optional that is written as JSON `null` rather than left out.
  struct Nullable<Value: Encodable & Sendable>: Encodable, Sendable {
    var value: Value?

    init(_ value: Value?) { self.value = value }

    func encode(to encoder: any Encoder) throws {
      var container = encoder.singleValueContainer()
      try container.encode(value)
    }
  }

  /// A probe's answer: the status, with its per-component details when shown.
  struct Probe<Detail: Encodable & Sendable>: Encodable, Sendable {
    var status: String
    var components: [String: Detail]?
  }

  /// Liveness: the sidecar process itself.
  struct Process: Encodable, Sendable {
    struct Details: Encodable, Sendable {
      var pid: Int
      var uptimeSeconds: Int
    }
    var status: String
    var details: Details
  }

  /// Readiness: one configured component.
  struct Component: Encodable, Sendable {
    struct Details: Encodable, Sendable {
      var type: String
      var socket: String
      var consecutiveFailures: Int
      var lastHeartbeat: Nullable<String>
      var reason: Nullable<String>
    }
    var status: String
    var details: Details
  }

  /// `/actuator/info`.
  struct Info: Encodable, Sendable {
    struct App: Encodable, Sendable {
      var name: String
      var version: String
      var compiled: Nullable<String>
    }
    var app: App
  }

  /// One entry of `/actuator/components`.
  struct ComponentEntry: Encodable, Sendable {
    /// Where the component's logs are: a source, or "none" when it has none.
    enum Logs: Encodable, Sendable {
      case source(name: String, level: String, dropped: Int)
      case none

      private enum CodingKeys: String, CodingKey { case source, level, dropped }

      func encode(to encoder: any Encoder) throws {
        switch self {
        case .none:
          var container = encoder.singleValueContainer()
          try container.encode("none")
        case .source(let name, let level, let dropped):
          var container = encoder.container(keyedBy: CodingKeys.self)
          try container.encode(name, forKey: .source)
          try container.encode(level, forKey: .level)
          try container.encode(dropped, forKey: .dropped)
        }
      }
    }

    /// The supervised process behind the component's socket.
    struct Process: Encodable, Sendable {
      var state: String
      var restarts: Int
      var pid: Nullable<Int>
      var lastExit: Nullable<String>
    }

    var name: String
    var type: String
    var version: String
    var state: String
    var socket: String
    var capabilities: [String]
    var ignoreErrors: Bool
    var since: String
    var consecutiveFailures: Int
    var reason: Nullable<String>
    var lastHeartbeat: Nullable<String>
    var metadata: [String: String]
    var logs: Logs?
    var process: Process?
  }

  /// One record of `/actuator/logs` and `/actuator/logs/stream`.
  struct Record: Encodable, Sendable {
    var time: String
    var level: String
    var msg: String
    var fields: [String: String]

    init(_ record: ForwardedLogRecord) {
      time = Timestamp.string(record.time)
      level = record.level.rawValue
      msg = record.message
      fields = record.fields
    }
  }

  /// `/actuator/logs`.
  struct Records: Encodable, Sendable {
    var component: String
    var records: [Record]
  }

  /// `POST /actuator/logger`'s answer.
  struct Level: Encodable, Sendable {
    var component: String
    var level: String
  }

  /// `POST /actuator/logger`'s body: `level` must be text; a `component` that is not
  /// text counts as none (the sidecar itself).
  struct LevelChange: Decodable, Sendable {
    var component: String
    var level: String

    private enum CodingKeys: String, CodingKey { case component, level }

    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      level = try container.decode(String.self, forKey: .level)
      component = (try? container.decode(String.self, forKey: .component)) ?? ""
    }
  }
}
