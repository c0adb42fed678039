/// One entry of a component's `spec.metadata`: a property name and where its value comes from.
public struct MetadataItem: Sendable, Equatable, Hashable {
  /// The property name the component receives (`redisHost`).
  public var name: String
  /// The value, or where to read it.
  public var value: MetadataValue

  /// Creates an entry.
  public init(name: String, value: MetadataValue) {
    self.name = name
    self.value = value
  }
}
