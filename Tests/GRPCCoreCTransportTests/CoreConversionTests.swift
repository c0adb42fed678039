import GRPCCore
import Testing

@testable import GRPCCoreCTransport

@Suite("gRPC core transport conversions")
struct CoreConversionTests {
  @Test("grpc-timeout values parse at their limits, and malformed ones are refused")
  func timeouts() {
    #expect(GRPCTimeout.parse("99999999n") == .nanoseconds(99_999_999))
    #expect(GRPCTimeout.parse("1H") == .seconds(3600))
    #expect(GRPCTimeout.parse("30S") == .seconds(30))
    #expect(GRPCTimeout.parse("250m") == .milliseconds(250))
    #expect(GRPCTimeout.parse("7u") == .microseconds(7))
    #expect(GRPCTimeout.parse("2M") == .seconds(120))
    for bad in ["", "S", "123456789S", "12x", "-1S", "1.5S"] {
      #expect(GRPCTimeout.parse(bad) == nil, "\(bad)")
    }
  }

  @Test("outbound metadata drops reserved keys and refuses illegal ones, naming them")
  func outboundMetadata() throws {
    let kept = try OutboundMetadata([
      "X-Upper": "v", "content-type": "application/grpc", "te": "trailers", ":path": "/x",
      "ok-bin": .binary([0, 1]),
    ])
    defer { kept.release() }
    #expect(kept.count == 2)
    #expect(throws: RPCError.self) { try OutboundMetadata(["bad key": "v"]) }
    do {
      _ = try OutboundMetadata(["x-newline": "a\nb"])
      Issue.record("a value with a newline was accepted")
    } catch {
      #expect(error.message.contains("x-newline"))
    }
  }

  @Test("core's version is the one linked")
  func version() {
    CoreRuntime.start()
    #expect(!CoreRuntime.version.isEmpty)
  }
}
