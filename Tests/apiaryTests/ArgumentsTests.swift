import ApiaryRuntime
import ArgumentParser
import GRPCCoreCTransport
import Testing

@testable import apiary

/// The flag value types of `apiary run` (Sources/apiary/Arguments.swift) and how
/// ArgumentParser reads them into `Run`.
@Suite("apiary's argument types")
struct ArgumentsTests {
  @Test(
    "durations are read as Dapr writes them and keep their text",
    arguments: [
      ("30s", Duration.seconds(30)), ("500ms", .milliseconds(500)), ("1m30s", .seconds(90)),
      ("5m", .seconds(300)), ("1.5s", .milliseconds(1500)),
    ])
  func durations(text: String, expected: Duration) throws {
    let argument = try #require(DurationArgument(argument: text))
    #expect(argument.duration == expected)
    #expect(argument.text == text)
    #expect(argument.defaultValueDescription == text)
  }

  @Test(
    "zero, a bare number and words are not durations", arguments: ["0s", "0ms", "5", "", "soon"])
  func notDurations(text: String) {
    #expect(DurationArgument(argument: text) == nil)
  }

  @Test(
    "sizes take binary and decimal units and plain bytes",
    arguments: [
      ("4Mi", 4 << 20), ("512Ki", 512 << 10), ("1Gi", 1 << 30), ("4MB", 4_000_000),
      ("64K", 64_000), ("2G", 2_000_000_000), ("100B", 100), ("1000000", 1_000_000),
    ])
  func sizes(text: String, bytes: Int) throws {
    let argument = try #require(ByteSizeArgument(argument: text))
    #expect(argument.bytes == bytes)
    #expect(argument.defaultValueDescription == text)
  }

  @Test(
    "zero, negative, unknown units and sizes that overflow are refused",
    arguments: ["0", "0Mi", "-1", "-4Mi", "4XB", "4 Mi", "Mi", "9000000000Gi"])
  func notSizes(text: String) {
    #expect(ByteSizeArgument(argument: text) == nil)
  }

  @Test("--app-protocol and --socket-watch take only their named values")
  func enumerations() {
    #expect(AppProtocolArgument(argument: "http") == .http)
    #expect(AppProtocolArgument(argument: "grpc") == .grpc)
    #expect(AppProtocolArgument(argument: "tcp") == nil)
    #expect(SocketWatchArgument(argument: "auto")?.mode == .automatic)
    #expect(SocketWatchArgument(argument: "polling")?.mode == .polling)
    #expect(SocketWatchArgument(argument: "inotify") == nil)
    #expect(SidecarLogHandler.Format.allCases == [.text, .json])
  }

  @Test("apiary run's defaults: 30s component wait, 4Mi bodies, 64Ki metadata, HTTP apps")
  func runDefaults() throws {
    let run = try Run.parse([])
    #expect(run.componentWait.duration == .seconds(30))
    #expect(run.callTimeout.duration == .seconds(30))
    #expect(run.grpcIdleTimeout.duration == .seconds(300))
    #expect(run.maxBodySize.bytes == 4 << 20)
    #expect(run.maxMetadataSize.bytes == 64 << 10)
    #expect(run.appProtocol == .http)
    #expect(run.socketWatch == .auto)
    #expect(run.logFormat == .text)
    #expect(run.transport == nil)
  }

  @Test("flag values reach Run parsed")
  func runFlags() throws {
    let run = try Run.parse([
      "--component-wait", "1m30s", "--max-body-size", "16Mi", "--app-protocol", "grpc",
      "--socket-watch", "polling", "--log-format", "json", "--log-level", "debug",
      "--transport", "nio",
    ])
    #expect(run.componentWait.duration == .seconds(90))
    #expect(run.componentWait.text == "1m30s")
    #expect(run.maxBodySize.bytes == 16 << 20)
    #expect(run.appProtocol == .grpc)
    #expect(run.socketWatch.mode == .polling)
    #expect(run.logFormat == .json)
    #expect(run.logLevel == .debug)
    #expect(try run.resolvedTransport(environment: ["APIARY_TRANSPORT": "core"]) == .nio)
  }

  @Test(
    "a bad value names its flag",
    arguments: [
      (["--component-wait", "0s"], "--component-wait"),
      (["--max-body-size", "lots"], "--max-body-size"),
      (["--app-protocol", "tcp"], "--app-protocol"),
      (["--failure-threshold", "0"], "--failure-threshold"),
      (["--http-port", "70000"], "--http-port"),
    ])
  func badValues(arguments: [String], flag: String) {
    #expect {
      _ = try Run.parse(arguments)
    } throws: { error in
      Run.message(for: error).contains(flag)
    }
  }

  @Test("APIARY_TRANSPORT picks the transport when --transport is absent; a bad value is named")
  func transportFromEnvironment() throws {
    let run = try Run.parse([])
    #expect(try run.resolvedTransport(environment: [:]) == TransportKind.default)
    #expect(try run.resolvedTransport(environment: ["APIARY_TRANSPORT": "NIO"]) == .nio)
    #expect {
      _ = try run.resolvedTransport(environment: ["APIARY_TRANSPORT": "quic"])
    } throws: { error in
      Run.message(for: error).contains("APIARY_TRANSPORT 'quic'")
    }
  }
}
