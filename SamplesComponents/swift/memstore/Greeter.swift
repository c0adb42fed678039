import ApiaryContracts
import ComponentKit
import Logging

/// A hello component: answers "<greeting>, <name>", the greeting coming from the
/// configuration's `hello_string` or the `greeting` metadata, "Hello" by default.
///
/// Each greeting is logged at debug (what it is about to do) and info (what it did),
/// and a nameless request at warning, so the sidecar's log forwarding has something
/// to show at several levels.
actor Greeter: HelloComponent {
  private var greeting = "Hello"
  private let logger = Logger(label: "memstore.greeter")

  func initialise(config: Spec_Proto_Pluggable_V1_Hello_HelloConfig) async throws {
    if !config.helloString.isEmpty {
      greeting = config.helloString
    } else if let configured = config.metadata["greeting"], !configured.isEmpty {
      greeting = configured
    }
    logger.info("greeter initialised", metadata: ["greeting": "\(greeting)"])
  }

  func sayHello(name: String) async throws -> String {
    logger.debug("greeting a caller", metadata: ["name": "\(name)"])
    if name.isEmpty {
      logger.warning("a hello without a name")
      return greeting
    }
    logger.info("said hello to \(name)")
    return "\(greeting), \(name)"
  }
}
