import Testing

@testable import ApiaryRuntime

@Suite("tracing settings from spec.tracing and OTEL_EXPORTER_OTLP_* (daprd's rules)")
struct TracingSettingsTests {
  func written(
    rate: String? = nil, endpoint: String? = nil, protocol proto: String = "grpc",
    secure: Bool = true,
    stdout: Bool = false
  ) -> DaprConfiguration.Tracing {
    var tracing = DaprConfiguration.Tracing()
    tracing.samplingRateText = rate
    tracing.otelEndpoint = endpoint
    tracing.otelProtocol = proto
    tracing.otelSecure = secure
    tracing.stdout = stdout
    return tracing
  }

  @Test("no Configuration and no environment: tracing is off")
  func nothing() throws {
    let settings = try TracingSettings.resolve(nil, environment: [:])
    #expect(!settings.isEnabled)
    #expect(settings.exporter == nil)
    #expect(settings.notices.isEmpty)
  }

  @Test("the file's endpoint: its protocol and isSecure; the environment is not consulted")
  func fileWins() throws {
    let settings = try TracingSettings.resolve(
      written(rate: "1", endpoint: "collector:4318", protocol: "http", secure: false),
      environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://other:4317", "OTEL_EXPORTER_OTLP_TIMEOUT": "nope",
      ])
    #expect(settings.isEnabled)
    #expect(settings.samplingRate == 1)
    #expect(settings.exporter?.endpoint == "collector:4318")
    #expect(settings.exporter?.protocol == .http)
    #expect(settings.exporter?.url == "http://collector:4318/v1/traces")
  }

  @Test("grpc endpoints get the scheme isSecure picks; samplingRate unset is 0.0001")
  func grpcURL() throws {
    let settings = try TracingSettings.resolve(
      written(endpoint: "localhost:4317"), environment: [:])
    #expect(settings.exporter?.url == "https://localhost:4317")
    #expect(settings.samplingRate == 0.0001)
    #expect(settings.isEnabled)
  }

  @Test(
    "the environment's endpoint: scheme stripped, rate 1 when none is written, protocol, insecure, headers, timeout"
  )
  func environment() throws {
    let settings = try TracingSettings.resolve(
      nil,
      environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key = s%20ecret ,tenant=a",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2500",
      ])
    let exporter = try #require(settings.exporter)
    #expect(exporter.endpoint == "collector:4318")
    #expect(exporter.protocol == .http)
    #expect(!exporter.isSecure)
    #expect(
      exporter.headers == [
        .init(name: "api-key", value: "s ecret"), .init(name: "tenant", value: "a"),
      ])
    #expect(exporter.timeout == .milliseconds(2500))
    #expect(settings.samplingRate == 1)
    #expect(settings.isEnabled)
  }

  @Test(
    "the traces-specific variables win over the shared ones; a written rate is kept; a non-http protocol is grpc"
  )
  func tracesSpecific() throws {
    let settings = try TracingSettings.resolve(
      written(rate: "0.5"),
      environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "a:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b:2",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
      ])
    #expect(settings.exporter?.endpoint == "b:2")
    #expect(settings.exporter?.protocol == .grpc)
    #expect(settings.exporter?.isSecure == true)
    #expect(settings.samplingRate == 0.5)
  }

  @Test("samplingRate 0 turns tracing off even with an endpoint")
  func rateZero() throws {
    let settings = try TracingSettings.resolve(
      written(rate: "0", endpoint: "localhost:4317"), environment: [:])
    #expect(!settings.isEnabled)
  }

  @Test("stdout alone is an exporter; a rate with no exporter leaves tracing off, said once")
  func stdoutAndNone() throws {
    #expect(
      try TracingSettings.resolve(written(rate: "1", stdout: true), environment: [:]).isEnabled)
    let none = try TracingSettings.resolve(written(rate: "1"), environment: [:])
    #expect(!none.isEnabled)
    #expect(none.notices.count == 1 && none.notices[0].contains("no exporter"))
  }

  @Test("zipkin is named as unsupported")
  func zipkin() throws {
    var tracing = written(rate: "1", endpoint: "localhost:4317")
    tracing.zipkinEndpoint = "http://zipkin:9411/api/v2/spans"
    let settings = try TracingSettings.resolve(tracing, environment: [:])
    #expect(settings.notices.contains { $0.contains("zipkin") })
  }

  @Test("malformed headers or timeouts in the environment stop start-up, as daprd's do")
  func malformed() {
    #expect(throws: ConfigurationError.self) {
      try TracingSettings.resolve(
        nil,
        environment: [
          "OTEL_EXPORTER_OTLP_ENDPOINT": "a:1", "OTEL_EXPORTER_OTLP_HEADERS": "novalue",
        ])
    }
    #expect(throws: ConfigurationError.self) {
      try TracingSettings.resolve(
        nil,
        environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "a:1", "OTEL_EXPORTER_OTLP_TIMEOUT": "2s"])
    }
  }
}
