/// A problem in the resource files (components and the like) that stops Apiary from
/// starting with them.
///
/// The description says where the problem is and what to write instead, e.g.
/// `components/redis.yaml, document 2: spec.type is missing`.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What is wrong and where, in words an operator can act on.
  public var description: String

  /// Creates an error with a complete message.
  public init(_ description: String) {
    self.description = description
  }

  /// An error about one document: the message is prefixed with its file and index.
  init(_ source: DefinitionSource, _ problem: String) {
    self.description = "\(source): \(problem)"
  }
}
