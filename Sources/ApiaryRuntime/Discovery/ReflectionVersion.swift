/// The gRPC server reflection version a component answered.
public enum ReflectionVersion: String, Sendable, Equatable {
  /// `grpc.reflection.v1.ServerReflection`, tried first.
  case v1
  /// `grpc.reflection.v1alpha.ServerReflection`, the only one Dapr speaks; tried when
  /// `v1` answers UNIMPLEMENTED.
  case v1alpha
}
