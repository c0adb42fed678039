import ApiaryRuntime
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Delivers to an HTTP application on `127.0.0.1:<app port>`, as Dapr does:
/// subscriptions from `GET /dapr/subscribe`, events as `POST <route>` of the
/// CloudEvent (`application/cloudevents+json`), input binding events as
/// `POST /<binding name>`.
///
/// The answer maps to a verdict: 2xx with `{"status": "SUCCESS|RETRY|DROP"}` as it
/// says, any other 2xx is success, 404 is drop, anything else (and no answer) retry.
public final class HTTPAppChannel: AppChannel {
  private let client: HTTPClient
  private let base: String
  private let timeout: TimeAmount

  public init(port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(60)) {
    // The app is on this host: a refused connection means it is not listening, and
    // is reported at once (delivery decides when to try again) rather than retried
    // inside the client until its connect timeout.
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(2)
    client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    base = "http://\(host):\(port)"
    self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
  }

  public func programmaticSubscriptions() async throws -> [AppSubscription] {
    let request = HTTPClientRequest(url: base + "/dapr/subscribe")
    let response = try await client.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 4 << 20)
    guard response.status == .ok else { return [] }
    guard let list = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [[String: Any]] else {
      throw AppChannelError("GET /dapr/subscribe did not answer a JSON array of subscriptions")
    }
    var subscriptions: [AppSubscription] = []
    for (index, entry) in list.enumerated() {
      guard let pubsub = entry["pubsubname"] as? String, let topic = entry["topic"] as? String else {
        throw AppChannelError("GET /dapr/subscribe: entry \(index) has no pubsubname or topic")
      }
      var route = entry["route"] as? String
      if let routes = entry["routes"] as? [String: Any], let fallback = routes["default"] as? String { route = fallback }
      let metadata = (entry["metadata"] as? [String: String]) ?? [:]
      subscriptions.append(
        AppSubscription(
          pubsubName: pubsub, topic: topic, route: Self.path(route ?? topic), metadata: metadata,
          deadLetterTopic: (entry["deadLetterTopic"] as? String) ?? ""))
    }
    return subscriptions
  }

  public func inputBindings(configured: [String]) async throws -> [String] { configured }

  public func deliver(event: CloudEvent, route: String) async -> AppVerdict {
    var request = HTTPClientRequest(url: base + Self.path(route))
    request.method = .POST
    request.headers.add(name: "Content-Type", value: CloudEvent.contentType)
    request.body = .bytes(ByteBuffer(bytes: event.json))
    return await send(request, what: "event \(event.id) to \(route)")
  }

  public func deliver(bindingEvent event: BindingEvent, binding: String) async -> AppVerdict {
    var request = HTTPClientRequest(url: base + "/" + binding)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: event.contentType ?? "application/json")
    for (key, value) in event.metadata where Self.isHeaderName(key) && !value.contains(where: \.isNewline) {
      request.headers.add(name: key, value: value)
    }
    request.body = .bytes(ByteBuffer(bytes: event.data))
    return await send(request, what: "binding event \(event.id) to /\(binding)")
  }

  private func send(_ request: HTTPClientRequest, what: String) async -> AppVerdict {
    do {
      let response = try await client.execute(request, timeout: timeout)
      let body = try await response.body.collect(upTo: 1 << 20)
      let code = response.status.code
      if code == 404 { return .drop("the app answered 404 for \(what)") }
      guard (200..<300).contains(code) else { return .retry("the app answered \(code) for \(what)") }
      guard body.readableBytes > 0,
        let answer = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
        let status = answer["status"] as? String
      else { return .success }
      switch status.uppercased() {
      case "RETRY": return .retry("the app answered RETRY for \(what)")
      case "DROP": return .drop("the app answered DROP for \(what)")
      case "SUCCESS", "": return .success
      default: return .retry("the app answered an unknown status '\(status)' for \(what)")
      }
    } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
      return .retry("the app did not answer \(what) in time: \(error)")
    } catch {
      return .unreachable("the app could not be reached for \(what): \(error)")
    }
  }

  public func close() async {
    try? await client.shutdown()
  }

  static func path(_ route: String) -> String { route.hasPrefix("/") ? route : "/" + route }

  /// Whether binding metadata `name` can be sent as a header name as it is.
  private static func isHeaderName(_ name: String) -> Bool {
    !name.isEmpty && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
  }
}

/// The application answered something the sidecar cannot use.
public struct AppChannelError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}
