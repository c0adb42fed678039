import ApiaryContracts
import GRPCCore
import GRPCProtobuf
import Logging

/// Lists the services a component serves, through gRPC server reflection: `v1` first,
/// `v1alpha` when `v1` answers UNIMPLEMENTED.
public struct ServiceLister: Sendable {
  let channel: ComponentChannel
  let logger: Logger

  /// A lister for the component on `channel`; `logger` gets the calls' debug lines.
  public init(channel: ComponentChannel, logger: Logger) {
    self.channel = channel
    self.logger = logger
  }

  /// The services listed and the reflection version that listed them.
  ///
  /// - Throws: ``DiscoveryProblem`` with the reason, in words for a `skipped` entry.
  public func listServices(
    timeout: Duration
  ) async throws(DiscoveryProblem) -> (ReflectionVersion, [String]) {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    do {
      return (.v1, try await listV1(timeout: timeout))
    } catch let error where error.code == .unimplemented {
      let remaining = clock.now.duration(to: deadline)
      do {
        return (.v1alpha, try await listV1Alpha(timeout: max(remaining, .milliseconds(1))))
      } catch let error where error.code == .unimplemented {
        throw DiscoveryProblem(
          "speaks gRPC but serves no reflection (neither grpc.reflection.v1 nor v1alpha); Apiary cannot tell which components it offers"
        )
      } catch {
        throw DiscoveryProblem(
          describing: error, timeout: timeout, connected: channel.isConnected, logger: logger)
      }
    } catch {
      throw DiscoveryProblem(
        describing: error, timeout: timeout, connected: channel.isConnected, logger: logger)
    }
  }

  private func options(_ timeout: Duration) -> CallOptions {
    var options = CallOptions.defaults
    options.timeout = timeout
    // Fail at once when the connection fails (e.g. the peer is not gRPC); while the
    // connection is still being made, wait for it up to the deadline.
    options.waitForReady = false
    return options
  }

  private func listV1(timeout: Duration) async throws(RPCError) -> [String] {
    try await list(
      method: Grpc_Reflection_V1_ServerReflection.Method.ServerReflectionInfo.descriptor,
      timeout: timeout)
  }

  private func listV1Alpha(timeout: Duration) async throws(RPCError) -> [String] {
    try await list(
      method: Grpc_Reflection_V1alpha_ServerReflection.Method.ServerReflectionInfo.descriptor,
      timeout: timeout)
  }

  /// Asks `list_services` through `method`. `v1alpha` and `v1` share their wire format,
  /// so the `v1` messages serve both methods.
  private func list(method: MethodDescriptor, timeout: Duration) async throws(RPCError) -> [String]
  {
    var request = Grpc_Reflection_V1_ServerReflectionRequest()
    request.listServices = "*"
    do {
      let reply = try await channel.client.bidirectionalStreaming(
        request: StreamingClientRequest { [request] writer in try await writer.write(request) },
        descriptor: method,
        serializer: ProtobufSerializer<Grpc_Reflection_V1_ServerReflectionRequest>(),
        deserializer: ProtobufDeserializer<Grpc_Reflection_V1_ServerReflectionResponse>(),
        options: options(timeout)
      ) { response in
        for try await message in response.messages { return message }
        throw RPCError(
          code: .internalError, message: "the reflection stream closed without an answer")
      }
      return try Self.services(from: reply.messageResponse)
    } catch let error as RPCError {
      throw error
    } catch {
      throw RPCError(code: .unknown, message: String(describing: error))
    }
  }

  private static func services(
    from response: Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse?
  ) throws(RPCError) -> [String] {
    switch response {
    case .listServicesResponse(let list):
      return list.service.map(\.name)
    case .errorResponse(let error):
      throw RPCError(
        code: RPCError.Code(Status.Code(rawValue: Int(error.errorCode)) ?? .unknown) ?? .unknown,
        message: "reflection answered an error: \(error.errorMessage)"
      )
    default:
      throw RPCError(
        code: .internalError, message: "reflection answered list_services with something else")
    }
  }
}

/// Why a socket was skipped, in words a user can act on.
public struct DiscoveryProblem: Error, Sendable, Equatable, CustomStringConvertible {
  public var description: String

  init(_ description: String) { self.description = description }

  /// - Parameter connected: Whether the connection got through its handshake, when the
  ///   transport can tell (gRPC core waits for one until the deadline; NIO gives up early).
  init(describing error: any Error, timeout: Duration, connected: Bool? = nil, logger: Logger) {
    logger.debug("reflection call failed: \(error)")
    guard let error = error as? RPCError else {
      self.init("discovery failed: \(error)")
      return
    }
    switch error.code {
    case .deadlineExceeded where connected == false:
      self.init(
        "accepted the connection but did not complete a gRPC (HTTP/2) handshake; is it a gRPC server?"
      )
    case .deadlineExceeded:
      self.init("answered no reflection within \(formatDuration(timeout)); is it a gRPC server?")
    case .unavailable:
      // The transport's own words (kept in the debug log by the caller) vary with
      // how the peer misbehaves; the user needs the conclusion.
      self.init(
        "accepted the connection but did not complete a gRPC (HTTP/2) handshake; is it a gRPC server?"
      )
    default:
      self.init("reflection failed with \(error.code): \(error.message)")
    }
  }
}
