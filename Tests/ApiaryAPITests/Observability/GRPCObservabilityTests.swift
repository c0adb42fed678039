import ApiaryRuntime
import GRPCCore
import HTTPTypes
import Testing

@testable import ApiaryAPI

@Suite("gRPC API observability: the caller's trace context, status names, error categories")
struct GRPCObservabilityTests {
  let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

  @Test("grpc-trace-bin is read before traceparent; traceparent with tracestate otherwise")
  func incoming() throws {
    let other = try #require(
      TraceContext(traceparent: "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-00"))
    var metadata = Metadata()
    metadata.addString(traceparent, forKey: "traceparent")
    metadata.addString("k=v", forKey: "tracestate")
    #expect(
      GRPCObservabilityInterceptor.incomingContext(metadata)
        == TraceContext(traceparent: traceparent, tracestate: "k=v"))
    metadata.addBinary(GRPCTraceBin.encode(other), forKey: "grpc-trace-bin")
    #expect(GRPCObservabilityInterceptor.incomingContext(metadata) == other)
    #expect(GRPCObservabilityInterceptor.incomingContext(Metadata()) == nil)
  }

  @Test("status labels are the canonical code names")
  func statusNames() {
    #expect(APIMetrics.statusName(0) == "OK")
    #expect(APIMetrics.statusName(5) == "NOT_FOUND")
    #expect(APIMetrics.statusName(16) == "UNAUTHENTICATED")
    #expect(APIMetrics.statusName(99) == "UNKNOWN")
  }

  @Test("error categories are daprd's; a component's own codes are pluggable-component")
  func categories() {
    #expect(ErrorCodeCategory.of(code: "ERR_STATE_STORE_NOT_FOUND", reason: nil) == ("state", true))
    #expect(ErrorCodeCategory.of(code: "ERR_PUBSUB_NOT_FOUND", reason: nil) == ("pubsub", true))
    #expect(ErrorCodeCategory.of(code: "ERR_SECRET_GET", reason: nil) == ("secret", true))
    #expect(ErrorCodeCategory.of(code: "ERR_MALFORMED_REQUEST", reason: nil) == ("common", true))
    #expect(
      ErrorCodeCategory.of(code: "ERR_MALFORMED_REQUEST", reason: "DAPR_STATE_ILLEGAL_KEY") == (
        "state", true
      ))
    #expect(
      ErrorCodeCategory.of(code: ErrorBodyMiddleware.errorCode(.contentTooLarge), reason: nil) == (
        "common", true
      ))
    #expect(
      ErrorCodeCategory.of(code: "MY_COMPONENT_ERROR", reason: nil) == (
        "pluggable-component", false
      ))
  }
}
