import ApiaryRuntime
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Delivers to an HTTP application on `127.0.0.1:<app port>`, as daprd does (spec
/// §6): subscriptions from `GET /dapr/subscribe`, events as `POST <route>` of the
/// CloudEvent (`application/cloudevents+json`, the message's metadata as headers),
/// batches as daprd's bulk envelope, input binding events as `POST /<binding name>`.
///
/// Verdicts: 2xx with `{"status": "SUCCESS"}`, an empty or unreadable body, or no
/// status is success; `"RETRY"` and any other status (case-sensitive) retry; `"DROP"`
/// drops; 404 drops; any other code retries; no answer at all is unreachable.
public final class HTTPAppChannel: AppChannel {
  private let client: HTTPClient
  private let base: String
  private let timeout: TimeAmount
  private let appID: String
  private let logger: Logger

  public init(
    port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(60), appID: String = "",
    logger: Logger = Logger(label: "apiary")
  ) {
    self.appID = appID
    self.logger = logger
    // The app is on this host: a refused connection means it is not listening, and
    // is reported at once (delivery decides when to try again) rather than retried
    // inside the client until its connect timeout.
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(2)
    // The deliveries' spans are apiary's own (``DeliveryTracing``); AsyncHTTPClient
    // would otherwise start a span of its own with the process's tracer and overwrite
    // the delivery's traceparent with it.
    configuration.tracing.tracer = nil
    client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    base = "http://\(host):\(port)"
    self.timeout = .nanoseconds(
      Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds
        / 1_000_000_000)
  }

  public func programmaticSubscriptions() async throws -> [AppSubscription] {
    var request = HTTPClientRequest(url: base + "/dapr/subscribe")
    request.headers.add(name: "Dapr-App-Id", value: appID)
    let response = try await client.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 4 << 20)
    if response.status == .notFound { return [] }
    guard response.status == .ok else {
      throw AppChannelError(
        "app returned http status code \(response.status.code) from subscription endpoint")
    }
    guard case .array(let list)? = try? JSONValue(json: Data(buffer: body)) else {
      throw AppChannelError("GET /dapr/subscribe did not answer a JSON array of subscriptions")
    }
    var subscriptions: [AppSubscription] = []
    for (index, entry) in list.enumerated() {
      guard let pubsub = entry["pubsubname"]?.string, let topic = entry["topic"]?.string else {
        throw AppChannelError("GET /dapr/subscribe: entry \(index) has no pubsubname or topic")
      }
      // Rules in order, then routes.default, or route when there is no default.
      var routes = SubscriptionRoutes()
      if case .array(let rules)? = entry["routes"]?["rules"] {
        for rule in rules {
          guard let path = rule["path"]?.string else { continue }
          do {
            routes.rules.append(
              try SubscriptionRoutes.Rule(match: rule["match"]?.string ?? "", path: Self.path(path))
            )
          } catch {
            throw AppChannelError(
              "GET /dapr/subscribe: topic \(topic): the rule '\(rule["match"]?.string ?? "")' does not parse at \(error)"
            )
          }
        }
      }
      if let fallback = entry["routes"]?["default"]?.string ?? entry["route"]?.string,
        !fallback.isEmpty
      {
        routes.defaultPath = Self.path(fallback)
      }
      guard !routes.isEmpty else {
        logger.warning("topic \(topic) has an empty routes. removing from subscriptions list")
        continue
      }
      var metadata: [String: String] = [:]
      if case .object(let fields)? = entry["metadata"] {
        for (key, value) in fields { if let text = value.string { metadata[key] = text } }
      }
      subscriptions.append(
        AppSubscription(
          pubsubName: pubsub, topic: topic, routes: routes, metadata: metadata,
          deadLetterTopic: entry["deadLetterTopic"]?.string ?? "",
          bulk: Self.bulk(entry["bulkSubscribe"])))
    }
    return subscriptions
  }

  /// `bulkSubscribe: {enabled, maxMessagesCount, maxAwaitDurationMs}` when enabled.
  static func bulk(_ value: JSONValue?) -> BulkSubscribeOptions? {
    guard case .bool(true)? = value?["enabled"] else { return nil }
    var options = BulkSubscribeOptions()
    if case .number(let count)? = value?["maxMessagesCount"], count >= 1 {
      options.maxMessagesCount = Int(count)
    }
    if case .number(let wait)? = value?["maxAwaitDurationMs"], wait >= 0 {
      options.maxAwaitDuration = .milliseconds(Int(wait))
    }
    return options
  }

  public func inputBindings(configured: [String]) async throws -> [String] { configured }

  public func deliver(
    event: CloudEvent, topic: String, route: String, metadata: [String: String]
  ) async -> AppVerdict {
    var request = HTTPClientRequest(url: base + Self.path(route))
    request.method = .POST
    request.headers.add(name: "Content-Type", value: CloudEvent.contentType)
    Self.addHeaders(metadata, to: &request)
    Self.addTrace(TraceContext.current ?? DeliveryTracing.context(of: event), to: &request)
    request.body = .bytes(ByteBuffer(bytes: event.json))
    let answer: (status: Int, body: Data)
    do {
      answer = try await send(request)
    } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
      return .retry(AppFailure("the app did not answer event \(event.id) in time: \(error)"))
    } catch {
      return .unreachable(
        "the app could not be reached for event \(event.id) to \(route): \(error)")
    }
    let text = String(decoding: answer.body, as: UTF8.self)
    if answer.status == 404 {
      return .drop(
        "non-retriable error returned from app while processing pub/sub event \(event.id): \(text). status code returned: 404"
      )
    }
    guard (200..<300).contains(answer.status) else {
      return .retry(
        AppFailure(
          "retriable error returned from app while processing pub/sub event \(event.id), topic: \(event.topic), body: \(text). status code returned: \(answer.status)",
          httpStatus: answer.status))
    }
    return Self.verdict(status: Self.status(in: answer.body), eventID: event.id)
  }

  /// The `status` of a JSON answer; nil for an empty or unreadable body.
  static func status(in body: Data) -> String? {
    guard !body.isEmpty, case .object(let answer)? = try? JSONValue(json: body) else { return nil }
    return answer["status"]?.string
  }

  /// daprd's reading of a 2xx answer's status (case-sensitive).
  static func verdict(status: String?, eventID: String) -> AppVerdict {
    switch status {
    case nil, "", "SUCCESS": .success
    case "DROP": .drop("DROP status returned from app while processing pub/sub event \(eventID)")
    case "RETRY": .retry(AppFailure("<nil>"))
    case let other?:
      .retry(
        AppFailure(
          "unknown status returned from app while processing pub/sub event \(eventID): \(other)"))
    }
  }

  public func deliver(
    bulk events: [BulkEvent], route: String, subscription: AppSubscription
  ) async -> [String: AppVerdict] {
    let entries: [JSONValue] = events.map { entry in
      .object([
        "entryId": .string(entry.entryID),
        "event": entry.raw ? .string(entry.bytes.base64EncodedString()) : entry.event.value,
        "metadata": .object(entry.metadata.mapValues(JSONValue.string)),
        "contentType": .string(entry.raw ? "application/octet-stream" : CloudEvent.contentType),
      ])
    }
    let envelope = JSONValue.object([
      "id": .string(UUID().uuidString.lowercased()), "type": .string("com.dapr.event.sent.bulk"),
      "topic": .string(subscription.topic), "pubsubname": .string(subscription.pubsubName),
      "metadata": .object([:]),
      "entries": .array(entries),
    ])
    var request = HTTPClientRequest(url: base + Self.path(route))
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(bytes: envelope.jsonData))
    let all: (AppVerdict) -> [String: AppVerdict] = { verdict in
      Dictionary(uniqueKeysWithValues: events.map { ($0.entryID, verdict) })
    }
    let answer: (status: Int, body: Data)
    do {
      answer = try await send(request)
    } catch {
      return all(
        .unreachable(
          "the app could not be reached for a batch of \(events.count) events to \(route): \(error)"
        ))
    }
    if answer.status == 404 {
      return all(
        .drop(
          "non-retriable error returned from app while processing a batch of pub/sub events: status code returned: 404"
        ))
    }
    guard (200..<300).contains(answer.status) else {
      return all(
        .retry(
          AppFailure(
            "the app answered \(answer.status) for a batch of \(events.count) events",
            httpStatus: answer.status)))
    }
    var verdicts: [String: AppVerdict] = [:]
    let known = Set(events.map(\.entryID))
    if case .array(let statuses)? = (try? JSONValue(json: answer.body))?["statuses"] {
      for status in statuses {
        guard let id = status["entryId"]?.string, known.contains(id) else { continue }
        let text = status["status"]?.string
        // In a batch, a missing or empty status is a retry (not a success).
        verdicts[id] =
          (text ?? "").isEmpty
          ? .retry(AppFailure("no status for entry \(id)"))
          : Self.verdict(status: text, eventID: id)
      }
    }
    return verdicts
  }

  public func deliver(bindingEvent event: BindingEvent, binding: String) async -> AppVerdict {
    var request = HTTPClientRequest(url: base + "/" + binding)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: event.contentType ?? "application/json")
    Self.addHeaders(event.metadata, to: &request)
    Self.addTrace(TraceContext.current, to: &request)
    request.body = .bytes(ByteBuffer(bytes: event.data))
    do {
      let answer = try await send(request)
      if answer.status == 404 {
        return .drop("the app answered 404 for binding event \(event.id) to /\(binding)")
      }
      guard (200..<300).contains(answer.status) else {
        return .retry(
          AppFailure(
            "the app answered \(answer.status) for binding event \(event.id)",
            httpStatus: answer.status))
      }
      return .success
    } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
      return .retry(
        AppFailure("the app did not answer binding event \(event.id) in time: \(error)"))
    } catch {
      return .unreachable(
        "the app could not be reached for binding event \(event.id) to /\(binding): \(error)")
    }
  }

  private func send(_ request: HTTPClientRequest) async throws -> (status: Int, body: Data) {
    let response = try await client.execute(request, timeout: timeout)
    let body = try await response.body.collect(upTo: 1 << 20)
    return (Int(response.status.code), Data(buffer: body))
  }

  public func close() async {
    try? await client.shutdown()
  }

  static func path(_ route: String) -> String { route.hasPrefix("/") ? route : "/" + route }

  /// `traceparent` and `tracestate` of the delivery (replacing any the metadata had).
  private static func addTrace(_ trace: TraceContext?, to request: inout HTTPClientRequest) {
    guard let trace else { return }
    request.headers.replaceOrAdd(name: "traceparent", value: trace.traceparent)
    if trace.tracestate.isEmpty {
      request.headers.remove(name: "tracestate")
    } else {
      request.headers.replaceOrAdd(name: "tracestate", value: trace.tracestate)
    }
  }

  /// Adds the metadata that can travel as headers as they are.
  private static func addHeaders(_ metadata: [String: String], to request: inout HTTPClientRequest)
  {
    for (key, value) in metadata where isHeaderName(key) && !value.contains(where: \.isNewline) {
      request.headers.add(name: key, value: value)
    }
  }

  /// Whether metadata `name` can be sent as a header name as it is.
  private static func isHeaderName(_ name: String) -> Bool {
    !name.isEmpty
      && name.unicodeScalars.allSatisfy {
        $0.isASCII
          && ($0.properties.isAlphabetic || ("0"..."9").contains($0)
            || "-_.".unicodeScalars.contains($0))
      }
  }
}

/// The application answered something the sidecar cannot use.
public struct AppChannelError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}
