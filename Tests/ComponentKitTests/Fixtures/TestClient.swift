import ApiaryTestSupport
import ComponentKit
import GRPCCore
import GRPCNIOTransportHTTP2

/// Runs `body` with a gRPC client connected to the Unix socket at `path`.
func withClient<Result: Sendable>(
  _ path: String,
  _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
) async throws -> Result {
  let transport = try HTTP2ClientTransport.Posix(
    target: .unixDomainSocket(path: path),
    transportSecurity: .plaintext
  )
  return try await withGRPCClient(transport: transport) { client in
    try await body(client)
  }
}

/// Call options with a deadline, so a broken server fails a test instead of hanging it.
let testCallOptions: CallOptions = {
  var options = CallOptions.defaults
  options.timeout = .seconds(10)
  return options
}()

/// Metadata naming the component instance a call is for.
func instance(_ name: String) -> Metadata {
  var metadata = Metadata()
  metadata.addString(name, forKey: "x-component-instance")
  return metadata
}

/// Serves `components` on a socket in a fresh folder (``withComponentServer``) and runs
/// `body` with a client connected to it.
func withServedClient(
  _ components: [ComponentRegistration], logStore: ComponentLogStore = ComponentLogStore(),
  _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Void
) async throws {
  try await withComponentServer(components: components, logStore: logStore) { socket in
    try await withClient(socket) { client in try await body(client) }
  }
}
