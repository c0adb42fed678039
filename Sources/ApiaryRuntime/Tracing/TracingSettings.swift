import Foundation

/// What tracing does in this process, resolved from `spec.tracing` of the Dapr
/// Configuration and the `OTEL_EXPORTER_OTLP_*` environment as daprd resolves them
/// (spec §4, daprd's `SetTracingSpecFromEnv` and `setupTracing`).
///
/// Tracing is **on** when the sampling rate is not 0 and spans have somewhere to go
/// (an OTLP endpoint, or `stdout: true`). Otherwise it is off: no span is made, no
/// exporter runs, and a request's own trace context is passed on unchanged.
public struct TracingSettings: Sendable, Equatable {
  /// How spans are sent to the collector.
  public enum ExportProtocol: String, Sendable, Equatable {
    /// OTLP over gRPC (`/opentelemetry.proto.collector.trace.v1.TraceService/Export`).
    case grpc
    /// OTLP over HTTP with protobuf bodies (`POST /v1/traces`).
    case http
  }

  /// One header sent with every export.
  public struct Header: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
      self.name = name
      self.value = value
    }
  }

  /// Where and how spans are exported.
  public struct Exporter: Sendable, Equatable {
    /// `host:port` (daprd's `endpointAddress`: no scheme).
    public var endpoint: String
    public var `protocol`: ExportProtocol
    /// TLS (`isSecure`, default true; `OTEL_EXPORTER_OTLP_INSECURE=true` turns it off).
    public var isSecure: Bool
    public var headers: [Header]
    /// How long one export may take; nil: the exporter's default (10 s).
    public var timeout: Duration?

    /// The URL the OTLP exporter is given: the scheme from ``isSecure``, and for HTTP
    /// the signal path `/v1/traces` unless the endpoint names a path of its own.
    public var url: String {
      let scheme = isSecure ? "https" : "http"
      switch `protocol` {
      case .grpc: return "\(scheme)://\(endpoint)"
      case .http:
        return endpoint.contains("/")
          ? "\(scheme)://\(endpoint)" : "\(scheme)://\(endpoint)/v1/traces"
      }
    }
  }

  /// `samplingRate` as daprd reads it (unset or unparsable: 0.0001; from the
  /// environment's endpoint with no rate written: 1).
  public var samplingRate: Double
  /// `stdout: true`: every sampled span is also written to the log, as daprd does.
  public var stdout: Bool
  /// The OTLP exporter, when an endpoint is known.
  public var exporter: Exporter?
  /// What start-up should tell the operator (unsupported settings, tracing left off).
  public var notices: [String]

  /// Whether spans are made at all.
  public var isEnabled: Bool { samplingRate != 0 && (exporter != nil || stdout) }

  /// The sampler for ``samplingRate``.
  public var sampler: TraceSampler { TraceSampler(rate: samplingRate) }

  /// Resolves `tracing` (nil: no Configuration wrote `spec.tracing`) with `environment`.
  ///
  /// - Throws: ``ConfigurationError`` for an `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` that
  ///   is not `name=value,...` or a `..._TIMEOUT` that is not a whole number of
  ///   milliseconds: daprd refuses to start on both.
  public static func resolve(
    _ tracing: DaprConfiguration.Tracing?, environment: [String: String]
  ) throws(ConfigurationError) -> TracingSettings {
    let written = tracing ?? DaprConfiguration.Tracing()
    var settings = TracingSettings(
      samplingRate: 0, stdout: written.stdout, exporter: nil, notices: [])
    var rateText = written.samplingRateText
    func variable(_ name: String) -> String? {
      environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
    if let endpoint = written.otelEndpoint, !endpoint.isEmpty {
      // An endpoint in the file: the environment is not consulted (daprd returns early).
      let headers = written.otelHeaders.sorted { $0.key < $1.key }.map {
        Header(name: $0.key, value: $0.value)
      }
      settings.exporter = Exporter(
        endpoint: endpoint, protocol: ExportProtocol(rawValue: written.otelProtocol) ?? .grpc,
        isSecure: written.otelSecure, headers: headers, timeout: written.otelTimeout)
    } else {
      var exporter: Exporter?
      if let endpoint = variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        ?? variable("OTEL_EXPORTER_OTLP_ENDPOINT")
      {
        var address = Substring(endpoint)
        for scheme in ["http://", "https://"] where address.hasPrefix(scheme) {
          address = address.dropFirst(scheme.count)
        }
        if rateText == nil { rateText = "1" }
        let proto =
          variable("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? variable("OTEL_EXPORTER_OTLP_PROTOCOL")
          ?? ""
        exporter = Exporter(
          endpoint: String(address), protocol: proto.hasPrefix("http") ? .http : .grpc,
          isSecure: environment["OTEL_EXPORTER_OTLP_INSECURE"] != "true", headers: [], timeout: nil)
      }
      if let text = variable("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        ?? variable("OTEL_EXPORTER_OTLP_HEADERS")
      {
        let headers = try Self.headers(parsing: text)
        exporter?.headers = headers
      }
      for name in ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"] {
        guard let text = variable(name) else { continue }
        guard let milliseconds = Int(text) else {
          throw ConfigurationError("\(name) '\(text)' is not a whole number of milliseconds")
        }
        if milliseconds > 0 { exporter?.timeout = .milliseconds(milliseconds) }
        break
      }
      settings.exporter = exporter
    }
    settings.samplingRate = TraceSampler.rate(parsing: rateText)
    if let zipkin = written.zipkinEndpoint, !zipkin.isEmpty {
      settings.notices.append(
        "spec.tracing.zipkin (\(zipkin)) is not supported by apiary: export with spec.tracing.otel (OTLP) instead"
      )
    }
    if tracing != nil, settings.samplingRate != 0, settings.exporter == nil, !settings.stdout {
      settings.notices.append(
        "spec.tracing names no exporter (otel.endpointAddress, OTEL_EXPORTER_OTLP_ENDPOINT or stdout): tracing is off; trace contexts are passed on unchanged"
      )
    }
    return settings
  }

  /// `name=value,name=value` (daprd's `StringToHeader`: names and values trimmed,
  /// values percent-decoded).
  static func headers(parsing text: String) throws(ConfigurationError) -> [Header] {
    var headers: [Header] = []
    for pair in text.split(separator: ",", omittingEmptySubsequences: false) {
      guard let equals = pair.firstIndex(of: "=") else {
        throw ConfigurationError(
          "OTEL_EXPORTER_OTLP_HEADERS: '\(pair)' has no '=' (write name=value,name=value)")
      }
      let name = pair[..<equals].trimmingSpaces
      guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
      else {
        throw ConfigurationError("OTEL_EXPORTER_OTLP_HEADERS: '\(name)' is not a header name")
      }
      let raw = String(pair[pair.index(after: equals)...])
      guard let value = raw.removingPercentEncoding else {
        throw ConfigurationError(
          "OTEL_EXPORTER_OTLP_HEADERS: the value of \(name) is not percent-encoded text")
      }
      headers.removeAll { $0.name == String(name) }
      headers.append(Header(name: String(name), value: String(value.trimmingSpaces)))
    }
    return headers
  }
}

extension StringProtocol {
  fileprivate var trimmingSpaces: Substring {
    var text = Substring(self)
    while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
    while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
    return text
  }
}
