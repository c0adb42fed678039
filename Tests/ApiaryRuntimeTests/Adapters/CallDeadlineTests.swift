import ApiaryRuntime
import Foundation
import Testing

/// Component calls are bounded by their deadline (enforced by one shared timer rather
/// than a timer per call): a call past it fails DEADLINE_EXCEEDED naming the
/// component, an explicit longer timeout is honoured, and a caller's cancellation
/// reaches the call.
@Suite("component call deadlines")
struct CallDeadlineTests {
  @Test(
    "past the deadline: DEADLINE_EXCEEDED naming the component; in time: the value; cancellation propagates"
  )
  func deadlines() async throws {
    // Never dialled: the calls below run closures of the test, not gRPC.
    let channel = try ComponentChannel(socketPath: "/nonexistent/apiary-deadline-test.sock")
    let context = AdapterContext(
      channel: channel, instance: "slowpoke", callTimeout: .milliseconds(200))
    let clock = ContinuousClock()

    let start = clock.now
    await #expect {
      _ = try await context.call("Get") { () async throws -> Int in
        try await Task.sleep(for: .seconds(30))
        return 1
      }
    } throws: { error in
      guard let error = error as? ComponentCallError else { return false }
      return error.kind == .deadlineExceeded && error.message.contains("slowpoke")
        && error.message.contains("Get")
    }
    let elapsed = clock.now - start
    #expect(elapsed >= .milliseconds(200), "cancelled before its deadline")
    #expect(elapsed < .seconds(20), "the deadline did not cancel the call")

    #expect(try await context.call("Get") { 42 } == 42)

    let answer = try await context.call("Init", timeout: .seconds(10)) {
      () async throws -> String in
      try await Task.sleep(for: .milliseconds(400))
      return "initialised"
    }
    #expect(answer == "initialised", "an explicit timeout longer than callTimeout must be honoured")

    let caller = Task {
      try await context.call("Get", timeout: .seconds(30)) { () async throws -> Int in
        try await Task.sleep(for: .seconds(30))
        return 0
      }
    }
    try await Task.sleep(for: .milliseconds(50))
    caller.cancel()
    let cancelledAt = clock.now
    await #expect(throws: CancellationError.self) { _ = try await caller.value }
    #expect(
      clock.now - cancelledAt < .seconds(20), "the caller's cancellation did not reach the call")
    await channel.close(grace: .milliseconds(10))
  }
}
