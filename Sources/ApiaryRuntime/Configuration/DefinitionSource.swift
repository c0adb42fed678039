/// Where a resource definition was read from: a file and the document's position in it.
public struct DefinitionSource: Sendable, Equatable, Hashable, CustomStringConvertible {
  /// The file, as the resources path joined with the file name (`components/redis.yaml`).
  public var file: String
  /// The document's 1-based position in the file, counting every `---`-separated
  /// document, empty ones and other kinds included.
  public var document: Int

  /// Creates a source for document `document` (1-based) of `file`.
  public init(file: String, document: Int) {
    self.file = file
    self.document = document
  }

  /// `components/redis.yaml, document 2`: the prefix of every message about this document.
  public var description: String { "\(file), document \(document)" }
}
