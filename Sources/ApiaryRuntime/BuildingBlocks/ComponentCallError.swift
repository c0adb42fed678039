/// A call to a component failed for a reason that is not the building block's own
/// (those are ``StateStoreError``, ``SecretStoreError``): the component could not be
/// reached, timed out, rejected the request or failed.
public struct ComponentCallError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What kind of failure, for mapping to API statuses in one place.
  public enum Kind: Sendable, Equatable {
    /// The component is not reachable (down, restarting, socket gone): retry later.
    case unavailable
    /// The component did not answer in time.
    case deadlineExceeded
    /// The component rejected the request as malformed.
    case invalidArgument
    /// The component does not implement the operation.
    case unimplemented
    /// Something the component did not find.
    case notFound
    /// Any other failure of the component.
    case failed
  }

  public var kind: Kind
  public var message: String

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { message }
}
