import Testing

/// The configuration layer's suites (resource files, initialisation order, metadata
/// resolution), grouped so `swift test --filter Configuration` runs exactly them.
@Suite("configuration")
struct ConfigurationTests {}
