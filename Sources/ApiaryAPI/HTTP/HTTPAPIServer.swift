import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP API as a service, on one TCP port.
public final class HTTPAPIServer: Service {
  private let application: Application<RouterResponder<BasicRequestContext>>

  public init(api: AppAPI, host: String, port: Int, logger: Logger) {
    application = Application(
      router: HTTPAPI(api: api, logger: logger).router(),
      configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "apiary"),
      logger: logger)
  }

  public func run() async throws {
    try await application.run()
  }
}
