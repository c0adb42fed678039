import ApiaryRuntime
import Logging
import Testing

@Suite("dropped spans: counted, logged at most once per interval")
struct SpanDropReporterTests {
  @Test(
    "the first drop is logged at once, later ones within the interval are added to the next line")
  func rateLimited() {
    let capture = LogCapture()
    let reporter = SpanDropReporter(
      logger: capture.logger, collector: "http://c:4317", interval: .seconds(10),
      countInMetrics: false)
    let start = ContinuousClock.now
    #expect(
      reporter.dropped(3, .exportFailed, error: "unavailable", now: start)?.contains(
        "3 in exports that failed (unavailable)") == true)
    #expect(reporter.dropped(5, .queueFull, now: start + .seconds(1)) == nil)
    #expect(reporter.dropped(2, .queueFull, now: start + .seconds(9)) == nil)
    let later = reporter.dropped(1, .exportFailed, now: start + .seconds(11))
    #expect(later?.contains("7 because the export queue was full") == true)
    #expect(later?.contains("1 in exports that failed") == true)
    #expect(capture.all.count == 2)
    #expect(capture.all.allSatisfy { $0.level == .warning })
  }

  @Test("swift-otel's processor messages become drop counts; its other messages pass through")
  func diagnostics() {
    let capture = LogCapture()
    let sidecar = capture.logger
    let reporter = SpanDropReporter(
      logger: sidecar, collector: "c", interval: .seconds(3600), countInMetrics: false)
    var otel = Logger(label: "otel") { _ in OTelDiagnosticHandler(drops: reporter, forward: sidecar)
    }
    otel[metadataKey: "component"] = "OTelBatchSpanProcessor"
    otel.warning(
      "Spans were dropped this iteration because queue was full", metadata: ["dropped_count": "12"])
    var batch = otel
    batch[metadataKey: "batch_size"] = "4"
    batch.warning("Failed to export batch.")
    otel.info("Bootstrapping instrumentation system with OTLP/gRPC exporter.")
    let written = capture.all
    #expect(written.count == 2)
    #expect(written[0].message.contains("dropped 12 because the export queue was full"))
    #expect(written[1].level == .debug)
    #expect(
      written[1].message == "tracing: Bootstrapping instrumentation system with OTLP/gRPC exporter."
    )
  }
}
