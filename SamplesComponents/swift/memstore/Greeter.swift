import ApiaryContracts
import ComponentKit

/// A hello component: answers "<greeting>, <name>", the greeting coming from the
/// configuration's `hello_string` or the `greeting` metadata, "Hello" by default.
actor Greeter: HelloComponent {
  private var greeting = "Hello"

  func initialise(config: Spec_Proto_Pluggable_V1_Hello_HelloConfig) async throws {
    if !config.helloString.isEmpty {
      greeting = config.helloString
    } else if let configured = config.metadata["greeting"], !configured.isEmpty {
      greeting = configured
    }
  }

  func sayHello(name: String) async throws -> String {
    name.isEmpty ? greeting : "\(greeting), \(name)"
  }
}
