import ApiaryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Each port holds at most --max-connections connections; the gRPC port closes idle
/// ones; memory held by many connections is handed back once they close.
@Suite("Connection limits end to end", .serialized)
struct ConnectionsEndToEndTests {
  /// An HTTP/2 client preface and an empty SETTINGS frame: a connection with no call.
  static let http2Preface =
    Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]

  @Test(
    "past --max-connections a new connection is closed at once, on the HTTP and the gRPC port; closing frees places"
  )
  func limitPerPort() async throws {
    try await withE2E(extraArguments: ["--max-connections", "20"]) { sidecar in
      for (name, port) in [("HTTP", sidecar.httpPort), ("gRPC", sidecar.grpcPort)] {
        // The server sets connections up concurrently, so which five are refused is
        // not fixed; that five are, and twenty stay, is. Connections the test closed
        // just before still count until the server has seen them go, so a round that
        // meets them is tried again.
        var observed: [Int] = []
        for _ in 0..<10 where observed.last != 5 {
          if !observed.isEmpty { try await Task.sleep(for: .milliseconds(500)) }
          let opened = await openIdleConnections(port: port, count: 25)
          _ = await poll(timeout: .seconds(3)) { opened.filter(closedByPeer).count >= 5 }
          observed.append(opened.count == 25 ? opened.filter(closedByPeer).count : -opened.count)
          opened.forEach { close($0) }
        }
        #expect(observed.last == 5, "\(name): closed per round of 25: \(observed)")
        // The closed connections' places are free again: with 19 idle ones open, a
        // 20th is served (it would be refused if the closed ones still counted).
        let idle = await openIdleConnections(port: port, count: 19)
        let served = await poll(timeout: .seconds(5)) {
          if port == sidecar.httpPort {
            return await httpGet(port: port, "/v1.0/healthz")?.status == 204
          }
          // A gRPC server answers an HTTP/2 preface with its SETTINGS frame.
          return
            !(await tcpExchange(port: port, send: Self.http2Preface, receiveTimeout: 1)?.received
            .isEmpty
            ?? true)
        }
        #expect(served, "\(name): no place came free after the connections closed")
        idle.forEach { close($0) }
      }
      #expect(sidecar.apiary.standardError.contains("the limit (--max-connections)"))
      #expect(await httpGet(port: sidecar.httpPort, "/v1.0/healthz")?.status == 204)
    }
  }

  @Test("the gRPC port closes a connection that carries no call for --grpc-idle-timeout")
  func grpcIdle() async throws {
    try await withE2E(extraArguments: ["--grpc-idle-timeout", "1s"]) { sidecar in
      // Core closes the connection; NIO sends GOAWAY and waits for the client's
      // answer to its PING before it closes: either ends the connection.
      #expect(
        await http2ServerEndsConnection(
          port: sidecar.grpcPort, preface: Self.http2Preface, within: 10))
    }
  }

  @Test("memory that hundreds of idle connections held is handed back after they close")
  func memoryReturns() async throws {
    try await withE2E { sidecar in
      let pid = sidecar.apiary.pid
      /// Opens 400 idle connections on each port, waits until the server answers
      /// again, closes them; RSS before, with them, and once it settled after.
      func burst() async throws -> (before: Int, peak: Int, after: Int) {
        let before = try #require(residentBytes(pid: pid))
        var held: [Int32] = []
        for port in [sidecar.httpPort, sidecar.grpcPort] {
          held += await openIdleConnections(port: port, count: 400)
        }
        #expect(held.count == 800)
        #expect(
          await poll(timeout: .seconds(10)) {
            await httpGet(port: sidecar.httpPort, "/v1.0/healthz")?.status == 204
          })
        // The server may still be setting connections up when it answers: the peak is
        // read once RSS held still for a second with every connection open.
        let peak = try await settledRSS(pid: pid)
        held.forEach { close($0) }
        // Freed memory goes back about a second after the last close.
        return (before, peak, try await settledRSS(pid: pid, below: peak))
      }
      let first = try await burst()
      let grew = first.peak - first.before
      #expect(
        first.after <= first.peak - grew / 3,
        "RSS before \(first.before >> 10) KiB, with 800 connections \(first.peak >> 10) KiB, after \(first.after >> 10) KiB"
      )
    }
  }

  /// The resident size of `pid` once a second passes with it unchanged (and under
  /// `below`, when given), sampled once a second for at most 20 s: the last sample.
  func settledRSS(pid: Int32, below: Int? = nil) async throws -> Int {
    var last = try #require(residentBytes(pid: pid))
    for _ in 0..<20 {
      try await Task.sleep(for: .seconds(1))
      let now = residentBytes(pid: pid) ?? 0
      if now == last && now < (below ?? .max) { break }
      last = now
    }
    return last
  }
}
