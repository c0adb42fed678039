import ApiaryContracts
import GRPCCore

/// `spec.proto.runtime.v1.Runtime/SayHello`: Layotto's greeting call, answered by the
/// hello component named in `service_name`. `data` is passed back untouched.
public struct RuntimeHelloService: Spec_Proto_Runtime_V1_Runtime.SimpleServiceProtocol {
  let api: AppAPI

  public init(api: AppAPI) {
    self.api = api
  }

  public func sayHello(
    request: Spec_Proto_Runtime_V1_SayHelloRequest, context: ServerContext
  ) async throws -> Spec_Proto_Runtime_V1_SayHelloResponse {
    var response = Spec_Proto_Runtime_V1_SayHelloResponse()
    response.hello = try await api.sayHello(component: request.serviceName, to: request.name)
    if request.hasData { response.data = request.data }
    return response
  }
}
