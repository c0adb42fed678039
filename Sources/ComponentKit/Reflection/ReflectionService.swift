import ApiaryContracts
import Foundation
import GRPCCore
import SwiftProtobuf

/// gRPC server reflection (`grpc.reflection.v1.ServerReflection`), answering from a
/// ``DescriptorIndex``: `list_services`, `file_by_filename`, `file_containing_symbol`
/// and `all_extension_numbers_of_type`.
///
/// Dapr's sidecar only speaks `v1alpha`; newer clients prefer `v1`. Register both
/// (``ReflectionService/v1alpha``) so either finds the services.
public struct ReflectionService: Grpc_Reflection_V1_ServerReflection.SimpleServiceProtocol {
  let responder: ReflectionResponder

  /// Creates a reflection service listing `services` and answering file and symbol
  /// requests from `index`.
  public init(services: [String], index: DescriptorIndex) {
    self.responder = ReflectionResponder(index: index, serviceNames: services)
  }

  /// The same reflection behaviour under the `grpc.reflection.v1alpha` package.
  public var v1alpha: ReflectionServiceV1Alpha { ReflectionServiceV1Alpha(base: self) }

  /// Answers each reflection request of the stream, in order.
  public func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1_ServerReflectionResponse>,
    context: ServerContext
  ) async throws {
    for try await message in request {
      try await response.write(respond(to: message))
    }
  }

  /// The answer to one reflection request; each request gets exactly one response.
  func respond(
    to request: Grpc_Reflection_V1_ServerReflectionRequest
  ) -> Grpc_Reflection_V1_ServerReflectionResponse {
    let query: ReflectionResponder.Query
    switch request.messageRequest {
    case .listServices: query = .listServices
    case .fileByFilename(let name): query = .fileByFilename(name)
    case .fileContainingSymbol(let symbol): query = .fileContainingSymbol(symbol)
    case .fileContainingExtension(let ext):
      query = .fileContainingExtension(type: ext.containingType, number: ext.extensionNumber)
    case .allExtensionNumbersOfType(let type): query = .allExtensionNumbersOfType(type)
    case nil: query = .unset
    }
    var reply = Grpc_Reflection_V1_ServerReflectionResponse()
    reply.validHost = request.host
    reply.originalRequest = request
    switch responder.answer(query) {
    case .services(let names):
      reply.listServicesResponse.service = names.map { name in
        var service = Grpc_Reflection_V1_ServiceResponse()
        service.name = name
        return service
      }
    case .files(let files):
      reply.fileDescriptorResponse.fileDescriptorProto = files
    case .extensionNumbers(let baseType, let numbers):
      reply.allExtensionNumbersResponse.baseTypeName = baseType
      reply.allExtensionNumbersResponse.extensionNumber = numbers
    case .error(let code, let message):
      reply.errorResponse.errorCode = code
      reply.errorResponse.errorMessage = message
    }
    return reply
  }
}

/// ``ReflectionService`` under the `grpc.reflection.v1alpha` package name.
///
/// The two packages define the same messages with the same field numbers, so each
/// request is re-read as its `v1` twin from its own bytes and each answer written back
/// the same way: one behaviour, two names.
public struct ReflectionServiceV1Alpha: Grpc_Reflection_V1alpha_ServerReflection
    .SimpleServiceProtocol
{
  let base: ReflectionService

  /// Answers each `v1alpha` reflection request of the stream, in order.
  public func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1alpha_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>,
    context: ServerContext
  ) async throws {
    for try await message in request {
      let v1 = try Grpc_Reflection_V1_ServerReflectionRequest(
        serializedBytes: message.serializedBytes() as [UInt8])
      let answer = base.respond(to: v1)
      try await response.write(
        Grpc_Reflection_V1alpha_ServerReflectionResponse(
          serializedBytes: answer.serializedBytes() as [UInt8])
      )
    }
  }
}
