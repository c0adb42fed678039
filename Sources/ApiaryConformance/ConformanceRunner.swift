import ApiaryRuntime
import Foundation
import GRPCCore
import GRPCCoreCTransport
import Logging

/// What `apiary conformance` was asked to do.
public struct ConformanceOptions: Sendable {
  /// The component's socket.
  public var socketPath: String
  /// The building blocks to check; nil: every one the socket serves.
  public var blocks: Set<BuildingBlock>?
  /// The metadata each block's `Init` gets (what a component file's `spec.metadata`
  /// would give it).
  public var metadata: [String: String]
  /// The longest any one call or wait may take.
  public var timeout: Duration
  /// The pub/sub promises per-topic order; check it.
  public var ordered: Bool
  /// A secret the store holds, for the secret store's `get` check; nil: the first one
  /// `BulkGet` lists.
  public var secretKey: String?
  /// How to reach the socket.
  public var transport: TransportKind
  /// A short id unique to the run, in every key and topic the checks make.
  public var runID: String

  public init(
    socketPath: String, blocks: Set<BuildingBlock>? = nil, metadata: [String: String] = [:],
    timeout: Duration = .seconds(5), ordered: Bool = false, secretKey: String? = nil,
    transport: TransportKind = .default,
    runID: String = String(UUID().uuidString.prefix(8)).lowercased()
  ) {
    self.socketPath = socketPath
    self.blocks = blocks
    self.metadata = metadata
    self.timeout = timeout
    self.ordered = ordered
    self.secretKey = secretKey
    self.transport = transport
    self.runID = runID
  }
}

/// The checks of one building block: how to initialise it, then what to check.
struct BlockSuite: Sendable {
  let block: BuildingBlock
  /// Runs `Init` (and `Features`), answering the declared features.
  let initialise: @Sendable (CheckContext) async throws -> Set<String>
  let checks: [Check]
}

/// The socket cannot be checked at all.
public struct ConformanceError: Error, Sendable, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}

/// Runs the contract checks against a live component socket.
public enum ConformanceRunner {
  /// The building blocks `apiary conformance --type` accepts.
  public static let checkedBlocks: [BuildingBlock] = [.state, .pubsub, .bindings, .secretstores]

  /// Dials the socket, lists its services, and runs every applicable check of each
  /// building block it serves (or of those `options.blocks` names).
  ///
  /// - Throws: ``ConformanceError`` when the socket cannot be reached or listed, or
  ///   serves none of the blocks asked for.
  public static func run(
    _ options: ConformanceOptions, logger: Logger
  ) async throws(ConformanceError) -> ConformanceReport {
    let channel: ComponentChannel
    do {
      channel = try ComponentChannel(socketPath: options.socketPath, transport: options.transport)
    } catch {
      throw ConformanceError("cannot dial \(options.socketPath): \(error)")
    }
    let services: [String]
    do {
      services = try await ServiceLister(channel: channel, logger: logger).listServices(
        timeout: options.timeout
      ).1
    } catch {
      await channel.close(grace: .milliseconds(100))
      throw ConformanceError("\(options.socketPath) \(error)")
    }
    let served = Set(
      services.compactMap { name -> BuildingBlock? in
        if case .primary(let block) = ServiceRole.of(name) { block } else { nil }
      })
    let wanted = (options.blocks ?? Set(checkedBlocks)).intersection(checkedBlocks)
    let blocks = checkedBlocks.filter { wanted.contains($0) && served.contains($0) }
    guard !blocks.isEmpty else {
      await channel.close(grace: .milliseconds(100))
      let asked = wanted.map(\.rawValue).sorted().joined(separator: ", ")
      throw ConformanceError(
        "\(options.socketPath) serves none of the building blocks asked for (\(asked)); it lists: \(services.joined(separator: ", "))"
      )
    }
    let instance = "apiary-conformance-\(options.runID)"
    var results: [ConformanceResult] = []
    for block in blocks {
      let suite = suite(for: block, services: Set(services))
      results += await run(suite, channel: channel, instance: instance, options: options)
    }
    await channel.close(grace: .seconds(1))
    return ConformanceReport(
      socket: options.socketPath, services: services, instance: instance, results: results)
  }

  static func suite(for block: BuildingBlock, services: Set<String>) -> BlockSuite {
    switch block {
    case .state: StateChecks.suite(services: services)
    case .pubsub: PubSubChecks.suite()
    case .bindings: BindingChecks.suite(services: services)
    case .secretstores, .hello: SecretStoreChecks.suite()
    }
  }

  /// Initialises the block, then runs each check: skipped when it needs a feature the
  /// component does not declare, failed when Init failed.
  static func run(
    _ suite: BlockSuite, channel: ComponentChannel, instance: String, options: ConformanceOptions
  ) async -> [ConformanceResult] {
    let clock = ContinuousClock()
    var context = CheckContext(
      channel: channel, instance: instance, runID: options.runID, timeout: options.timeout,
      features: [],
      options: options)
    let start = clock.now
    let features: Set<String>
    do {
      features = try await suite.initialise(context)
    } catch {
      let reason = "\(error)"
      return [
        ConformanceResult(
          block: suite.block, check: "init", outcome: .failed(reason),
          duration: start.duration(to: clock.now))
      ]
        + suite.checks.map {
          ConformanceResult(
            block: suite.block, check: $0.name, outcome: .failed("not run: Init failed"))
        }
    }
    // Bindings have no Features call.
    let declared =
      suite.block == .bindings
      ? "Init answered"
      : "Init and Features answered; "
        + (features.isEmpty
          ? "no features declared" : "features: \(features.sorted().joined(separator: ", "))")
    var results = [
      ConformanceResult(
        block: suite.block, check: "init", outcome: .passed(declared),
        duration: start.duration(to: clock.now))
    ]
    context = CheckContext(
      channel: channel, instance: instance, runID: options.runID, timeout: options.timeout,
      features: features,
      options: options)
    for check in suite.checks {
      if let feature = check.feature, !features.contains(feature) {
        results.append(
          ConformanceResult(
            block: suite.block, check: check.name,
            outcome: .skipped("the component does not declare \(feature)")))
        continue
      }
      let began = clock.now
      let outcome: ConformanceOutcome
      do {
        outcome = .passed(try await check.run(context))
      } catch let skip as CheckSkip {
        outcome = .skipped(skip.description)
      } catch let failure as CheckFailure {
        outcome = .failed(failure.description)
      } catch let error as RPCError {
        outcome = .failed("\(error.code): \(error.message)")
      } catch {
        outcome = .failed("\(error)")
      }
      results.append(
        ConformanceResult(
          block: suite.block, check: check.name, outcome: outcome,
          duration: began.duration(to: clock.now)))
    }
    return results
  }
}
