import ApiaryConformance
import ApiaryRuntime
import ArgumentParser
import Foundation
import GRPCCoreCTransport
import Logging

/// `apiary conformance`: the building blocks' contract checks against one live socket.
struct Conformance: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check that a component honours its building blocks' contract.",
    discussion: """
      Dials the component's socket, lists its services with reflection, initialises
      one fresh instance of each building block it serves (state, pubsub, bindings,
      secretstores; --type picks one) with the --metadata given, and runs that
      block's contract checks: values, deletes, bulk calls, etags, transactions, TTL
      and query for a state store; publish, pull, ack, nack and redelivery for a
      pub/sub; the listed operations and Read for bindings; get, bulk and a missing
      key for a secret store. A check of a feature the component does not declare
      is skipped; a feature it declares is held to its contract.

      Keys and topics carry a run id, so a run never meets another's data; what a
      run writes is left in the backend (the keys start with apiary-conformance||).

      Exits 0 when every applicable check passed, 1 when one failed, 2 when the
      socket could not be checked at all.

      Example:  apiary conformance --socket /tmp/dapr-components-sockets/redis-store.sock \\
                  --metadata redisHost=localhost:6379 --type state
      """
  )

  @Option(help: ArgumentHelp("The component's Unix socket.", valueName: "path"))
  var socket: String

  @Option(
    help: ArgumentHelp(
      "Check only this building block: state, pubsub, bindings or secretstores.", valueName: "type")
  )
  var type: String?

  @Option(
    name: .customLong("metadata"),
    help: ArgumentHelp(
      "Metadata for each block's Init, as a component file's spec.metadata gives it (repeatable).",
      valueName: "name=value"))
  var metadata: [String] = []

  @Option(
    help: ArgumentHelp("The longest any one call or wait may take, e.g. 5s.", valueName: "duration")
  )
  var timeout = DurationArgument("5s")

  @Flag(help: "The pub/sub promises per-topic order: check it.")
  var ordered = false

  @Option(
    name: .customLong("secret-key"),
    help: ArgumentHelp(
      "A secret the store holds, for the Get check (default: the first BulkGet lists).",
      valueName: "name"))
  var secretKey: String?

  @Flag(
    help:
      "Print the result as JSON: {socket, instance, services, conforms, passed, failed, skipped, results: [{block, check, result, detail, ms}]}."
  )
  var json = false

  @Flag(name: .shortAndLong, help: "Also log debug lines to stderr.")
  var verbose = false

  func validate() throws {
    if let type, ConformanceRunner.checkedBlocks.first(where: { $0.rawValue == type }) == nil {
      throw ValidationError(
        "--type '\(type)' is not one of: \(ConformanceRunner.checkedBlocks.map(\.rawValue).joined(separator: ", "))"
      )
    }
    _ = try parsedMetadata()
  }

  func parsedMetadata() throws -> [String: String] {
    var result: [String: String] = [:]
    for pair in metadata {
      guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
        throw ValidationError("--metadata '\(pair)' is not name=value")
      }
      result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return result
  }

  func run() async throws {
    let level: Logger.Level = verbose ? .debug : .warning
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let options = ConformanceOptions(
      socketPath: socket, blocks: type.flatMap(BuildingBlock.init(rawValue:)).map { [$0] },
      metadata: try parsedMetadata(), timeout: timeout.duration, ordered: ordered,
      secretKey: secretKey, transport: TransportKind.fromEnvironment ?? .default)
    let report: ConformanceReport
    do {
      report = try await ConformanceRunner.run(options, logger: Logger(label: "apiary.conformance"))
    } catch {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(2)
    }
    if json {
      print(String(decoding: report.json, as: UTF8.self))
    } else {
      print(report.table)
    }
    if !report.conforms { throw ExitCode(1) }
  }
}
