import ApiaryRuntime
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The HTTP port as a service: the Dapr HTTP API, the actuator and `/metrics`, each
/// present when its module is on.
public final class HTTPAPIServer: Service {
  private let application: Application<RouterResponder<BasicRequestContext>>
  private let grace: Duration

  /// - Parameters:
  ///   - daprRoutes: Whether the `/v1.0` routes are served (the httpApi module).
  ///   - actuator: The actuator routes, when the actuator module is on.
  ///   - metrics: `/metrics`, when the metrics module is on.
  ///   - grace: How long in-flight requests may take to finish on shutdown.
  ///   - idleTimeout: How long a connection may go without a byte from the client,
  ///     between requests or in the middle of one (a client that never finishes a
  ///     request), before it is closed. A request being answered is never cut.
  ///   - maxConnections: The most connections open at once; more are closed as they
  ///     arrive (``ConnectionLimit``).
  public init(
    api: AppAPI, host: String, port: Int, logger: Logger, daprRoutes: Bool = true,
    actuator: Actuator? = nil,
    metrics: MetricsEndpoint? = nil, grace: Duration = .seconds(5),
    idleTimeout: Duration = .seconds(60),
    maxConnections: Int = 512
  ) {
    self.grace = grace
    let limit = ConnectionLimit(limit: maxConnections, port: "HTTP port \(port)", logger: logger)
    application = Application(
      router: HTTPAPI(api: api, logger: logger).router(
        daprRoutes: daprRoutes, actuator: actuator, metrics: metrics),
      server: .http1(
        configuration: .init(
          additionalChannelHandlers: [limit.handler(), ConnectionLevelAnswers()],
          idleTimeout: TimeAmount(idleTimeout))),
      configuration: ApplicationConfiguration(
        address: .hostname(host, port: port), serverName: "apiary"),
      logger: logger)
  }

  public func run() async throws {
    let application = self.application
    try await serveDraining(grace: grace) { try await application.run() }
  }
}
