import Logging
import OTel
import ServiceLifecycle
import Tracing

/// The OTLP exporter: swift-otel's tracer, batch span processor and OTLP exporter
/// (gRPC or HTTP/protobuf), set up from ``TracingSettings``.
public enum OTelExport {
  /// The environment variables swift-otel is allowed to read. Everything else is
  /// resolved with daprd's rules in ``TracingSettings`` (daprd gives the file
  /// precedence over `OTEL_EXPORTER_OTLP_*`, the OpenTelemetry SDKs the other way
  /// round), so swift-otel is shown only what daprd's OpenTelemetry SDK reads on its
  /// own: the service name and resource attributes, and the batch processor's bounds.
  static let passedVariables = [
    "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
  ]

  /// swift-otel's configuration for `exporter`: the service name is the app id (as
  /// daprd's; `OTEL_SERVICE_NAME` still wins), W3C trace context, every span handed
  /// over sampled (``SidecarTracer`` decides before), logs and metrics off.
  public static func configuration(
    exporter: TracingSettings.Exporter, serviceName: String, diagnostics: Logger
  ) -> OTel.Configuration {
    var configuration = OTel.Configuration.default
    configuration.serviceName = serviceName
    configuration.diagnosticLogger = .custom(diagnostics)
    configuration.diagnosticLogLevel = .info
    configuration.propagators = [.traceContext]
    configuration.logs.enabled = false
    configuration.metrics.enabled = false
    configuration.traces.enabled = true
    configuration.traces.sampler = .parentBasedAlwaysOn
    configuration.traces.exporter = .otlp
    configuration.traces.otlpExporter.protocol = exporter.protocol == .grpc ? .grpc : .httpProtobuf
    configuration.traces.otlpExporter.endpoint = exporter.url
    configuration.traces.otlpExporter.headers = exporter.headers.map { ($0.name, $0.value) }
    if let timeout = exporter.timeout { configuration.traces.otlpExporter.timeout = timeout }
    return configuration
  }

  /// Starts swift-otel's tracing backend for `exporter` and bootstraps the process's
  /// `InstrumentationSystem` with it (once per process). Returns the tracer to hand
  /// to ``SidecarTracer`` and the service that exports, to run in the service group.
  ///
  /// - Throws: swift-otel's configuration errors (an endpoint it cannot read).
  public static func start(
    exporter: TracingSettings.Exporter, serviceName: String, environment: [String: String],
    drops: SpanDropReporter,
    logger: Logger
  ) throws -> (tracer: any Tracer, service: any Service) {
    let handler = OTelDiagnosticHandler(drops: drops, forward: logger)
    let diagnostics = Logger(label: "apiary.tracing") { _ in handler }
    let configuration = configuration(
      exporter: exporter, serviceName: serviceName, diagnostics: diagnostics)
    let passed = environment.filter { passedVariables.contains($0.key) }
    let service = try OTel.bootstrap(configuration: configuration, environment: passed)
    return (InstrumentationSystem.tracer, service)
  }
}
