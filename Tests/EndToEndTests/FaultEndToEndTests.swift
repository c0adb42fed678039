import ApiaryContracts
import ApiaryTestSupport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// Faults in a component, end to end: apiary never crashes, and every call returns
/// within its deadline with a status that says what happened.
@Suite("Faults end to end", .serialized)
struct FaultEndToEndTests {
  @Test(
    "a component that hangs in Get: the call ends after --call-timeout with 504 / DEADLINE_EXCEEDED; other calls go on"
  )
  func hangInGet() async throws {
    try await withE2E(
      multiArguments: ["--hang-get-key", "slowpoke"], extraResources: multiStoreResource,
      extraArguments: ["--call-timeout", "1s"]
    ) { sidecar in
      let port = sidecar.httpPort
      let clock = ContinuousClock()
      // The hung call runs while other keys of the same store answer at once.
      let hung = Task { () -> ((status: Int, body: String)?, Duration) in
        let start = clock.now
        let answer = await httpGet(port: port, "/v1.0/state/multi-store/k-slowpoke")
        return (answer, clock.now - start)
      }
      // Whether or not the hung call has reached the component yet, this one answers.
      #expect(await httpGet(port: port, "/v1.0/state/multi-store/other")?.status == 204)
      let (answer, elapsed) = await hung.value
      #expect(answer?.status == 504, "\(String(describing: answer))")
      #expect(answer?.body.contains("multi-store") == true, "\(String(describing: answer))")
      #expect(elapsed < .seconds(5), "took \(elapsed)")

      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: "127.0.0.1", port: sidecar.grpcPort), transportSecurity: .plaintext
        )
      ) { client in
        var request = Dapr_Proto_Runtime_V1_GetStateRequest()
        request.storeName = "multi-store"
        request.key = "g-slowpoke"
        let error = await #expect(throws: RPCError.self) {
          _ = try await Dapr_Proto_Runtime_V1_Dapr.Client(wrapping: client).getState(request)
        }
        #expect(error?.code == .deadlineExceeded, "\(String(describing: error))")
      }
      #expect(await httpGet(port: port, "/actuator/health/liveness")?.status == 200)
      #expect(await httpGet(port: port, "/v1.0/state/multi-store/after")?.status == 204)
    }
  }

  @Test(
    "a unary call with no request message, or two, answers INVALID_ARGUMENT with a message; the next call works"
  )
  func malformedUnaryShape() async throws {
    try await withE2E { sidecar in
      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: "127.0.0.1", port: sidecar.grpcPort), transportSecurity: .plaintext
        )
      ) { client in
        let getMetadata = MethodDescriptor(
          fullyQualifiedService: "dapr.proto.runtime.v1.Dapr", method: "GetMetadata")
        for count in [0, 2] {
          let request = StreamingClientRequest<[UInt8]> { writer in
            for _ in 0..<count { try await writer.write([]) }
          }
          let error = await #expect(throws: RPCError.self, "\(count) messages") {
            try await client.bidirectionalStreaming(
              request: request, descriptor: getMetadata, serializer: RawMessage(),
              deserializer: RawMessage(),
              options: .defaults
            ) { response in
              for try await _ in response.messages {}
            }
          }
          #expect(
            error?.code == .invalidArgument, "\(count) messages: \(String(describing: error))")
          #expect(
            error?.message.contains("GetMetadata is unary") == true, "\(String(describing: error))")
        }
        let metadata = try await Dapr_Proto_Runtime_V1_Dapr.Client(wrapping: client).getMetadata(
          .init())
        #expect(metadata.id == "e2e")
      }
    }
  }

  @Test(
    "a malformed grpc-timeout header: INVALID_ARGUMENT on NIO, ignored by gRPC core; an answer either way, apiary lives on"
  )
  func malformedTimeoutHeader() async throws {
    // apiary reads APIARY_TRANSPORT itself; test.sh runs this suite on core and on NIO.
    let serverIsNIO = ProcessInfo.processInfo.environment["APIARY_TRANSPORT"]?.lowercased() == "nio"
    try await withE2E { sidecar in
      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: "127.0.0.1", port: sidecar.grpcPort), transportSecurity: .plaintext
        )
      ) { client in
        let dapr = Dapr_Proto_Runtime_V1_Dapr.Client(wrapping: client)
        // grpc-swift's client passes custom metadata through as headers; "-1S" once
        // stopped apiary on the NIO transport (a precondition in grpc-swift-2's parser).
        for value in ["-1S", "-99999H", "1x", "abc", "123456789S", "S"] {
          let outcome = await withTaskGroup(of: String?.self) { group in
            group.addTask {
              do {
                _ = try await dapr.getMetadata(.init(), metadata: ["grpc-timeout": .string(value)])
                // gRPC core drops a header its parser rejects ("Error parsing metadata")
                // before apiary sees the call, which then runs without a deadline.
                return serverIsNIO ? "answered OK" : nil
              } catch let error as RPCError {
                if serverIsNIO {
                  guard error.code == .invalidArgument,
                    error.message.contains("malformed grpc-timeout")
                  else {
                    return "\(error)"
                  }
                }
                return nil
              } catch {
                return "\(error)"
              }
            }
            group.addTask {
              try? await Task.sleep(for: .seconds(10))
              return "no answer within 10 s"
            }
            let first = await group.next() ?? "no result"
            group.cancelAll()
            return first
          }
          #expect(outcome == nil, "grpc-timeout \(value): \(outcome ?? "")")
        }
        let metadata = try await dapr.getMetadata(.init(), metadata: ["grpc-timeout": "5S"])
        #expect(metadata.id == "e2e")
      }
      #expect(await httpGet(port: sidecar.httpPort, "/actuator/health/liveness")?.status == 200)
    }
  }

  @Test("SIGTERM with a call in flight: the call still gets its answer, and apiary exits 0")
  func sigtermDrainsInFlight() async throws {
    let scratch = try TemporaryFolder(prefix: "apiary-fault")
    defer { scratch.remove() }
    let calls = scratch.file("calls.jsonl")
    try await withE2E(
      multiArguments: ["--hang-get-key", "slowpoke", "--calls", calls],
      extraResources: multiStoreResource,
      extraArguments: ["--call-timeout", "2s", "--shutdown-grace", "5s"]
    ) { sidecar in
      let port = sidecar.httpPort
      let inFlight = Task { await httpGet(port: port, "/v1.0/state/multi-store/drain-slowpoke") }
      // SIGTERM once the component has the Get: the call is then surely in flight.
      let arrived = await poll(timeout: .seconds(10)) {
        ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").contains("drain-slowpoke")
      }
      #expect(arrived, "the component never received the Get")
      sidecar.apiary.signal(SIGTERM)
      // The call was accepted before the signal: it is answered (its component call
      // times out after 2 s, within the 5 s grace), not cut off.
      let answer = await inFlight.value
      #expect(answer?.status == 504, "\(String(describing: answer))")
      #expect(
        await sidecar.apiary.waitForExit(timeout: .seconds(20)) == 0,
        "\(sidecar.apiary.standardError)")
    }
  }
}

/// Message bytes as they are, to send what no generated client would.
private struct RawMessage: MessageSerializer, MessageDeserializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
  func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] {
    bytes.withUnsafeBytes { Array($0) }
  }
}
