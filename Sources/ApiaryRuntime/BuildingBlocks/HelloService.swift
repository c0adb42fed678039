/// Greets: Layotto's hello building block.
public protocol HelloService: Sendable {
  func sayHello(name: String) async throws -> String
}
