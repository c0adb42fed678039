import Foundation

/// The version-neutral core of gRPC server reflection.
///
/// `grpc.reflection.v1` and `grpc.reflection.v1alpha` carry the same messages under two
/// package names; both services translate their requests to `Query` and their answers
/// from `Answer`, so the behaviour is written once.
struct ReflectionResponder: Sendable {
  /// A reflection request, whichever version it came in.
  enum Query: Sendable {
    case listServices
    case fileByFilename(String)
    case fileContainingSymbol(String)
    case fileContainingExtension(type: String, number: Int32)
    case allExtensionNumbersOfType(String)
    case unset
  }

  /// A reflection answer, whichever version it goes out in.
  enum Answer: Sendable, Equatable {
    case services([String])
    case files([Data])
    case extensionNumbers(baseType: String, numbers: [Int32])
    /// A gRPC status code and a message, sent in-band as `error_response`.
    case error(code: Int32, message: String)
  }

  /// Status codes used in `error_response` (google.rpc.Code values).
  enum Code {
    static let notFound: Int32 = 5
    static let invalidArgument: Int32 = 3
  }

  let index: DescriptorIndex
  /// The services this server serves, as `list_services` reports them.
  let serviceNames: [String]

  func answer(_ query: Query) -> Answer {
    switch query {
    case .listServices:
      return .services(serviceNames)
    case .fileByFilename(let name):
      guard let files = index.serializedFileWithDependencies(name) else {
        return .error(code: Code.notFound, message: "file not found: \(name)")
      }
      return .files(files)
    case .fileContainingSymbol(let symbol):
      guard let file = index.fileName(containingSymbol: symbol),
        let files = index.serializedFileWithDependencies(file)
      else {
        return .error(code: Code.notFound, message: "symbol not found: \(symbol)")
      }
      return .files(files)
    case .fileContainingExtension(let type, let number):
      // The contracts served here declare no extensions.
      return .error(code: Code.notFound, message: "extension \(number) of \(type) not found")
    case .allExtensionNumbersOfType(let type):
      guard index.isMessageType(type) else {
        return .error(code: Code.notFound, message: "type not found: \(type)")
      }
      return .extensionNumbers(baseType: type, numbers: [])
    case .unset:
      return .error(code: Code.invalidArgument, message: "the request names no reflection query")
    }
  }
}
