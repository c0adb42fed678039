import Foundation
import SwiftProtobuf

/// An index over a serialized `google.protobuf.FileDescriptorSet` that answers the
/// questions gRPC server reflection asks: which file has this name, which file
/// defines this symbol, and which files does a file need.
///
/// swift-protobuf keeps no descriptors in generated code, so the index is built from
/// the descriptor set that `Scripts/generate-protos.sh` embeds (see
/// `ApiaryDescriptors`), or from any descriptor set an author passes.
public struct DescriptorIndex: Sendable {
  /// Serialized `FileDescriptorProto` of each file, by file name.
  private var serializedFiles: [String: Data] = [:]
  /// Direct dependencies of each file, by file name.
  private var dependencies: [String: [String]] = [:]
  /// The file that defines each fully qualified symbol (messages, enums, services,
  /// methods, nested types, fields), without a leading dot.
  private var fileBySymbol: [String: String] = [:]
  /// Fully qualified names of every message type.
  private var messageTypes: Set<String> = []
  /// Fully qualified names of every service.
  public private(set) var services: Set<String> = []

  /// Builds an index from a serialized `FileDescriptorSet`.
  ///
  /// - Throws: `SwiftProtobuf.BinaryDecodingError` when `descriptorSet` is not one.
  public init(descriptorSet: Data) throws {
    let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet)
    for file in set.file {
      try add(file)
    }
  }

  /// Builds an index over several descriptor sets; later sets may add files.
  public init(descriptorSets: [Data]) throws {
    for data in descriptorSets {
      let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: data)
      for file in set.file where serializedFiles[file.name] == nil {
        try add(file)
      }
    }
  }

  private mutating func add(_ file: Google_Protobuf_FileDescriptorProto) throws {
    serializedFiles[file.name] = try file.serializedBytes()
    dependencies[file.name] = file.dependency
    let prefix = file.package.isEmpty ? "" : file.package + "."
    for message in file.messageType {
      addMessage(message, prefix: prefix, file: file.name)
    }
    for enumType in file.enumType {
      fileBySymbol[prefix + enumType.name] = file.name
    }
    for service in file.service {
      let name = prefix + service.name
      services.insert(name)
      fileBySymbol[name] = file.name
      for method in service.method {
        fileBySymbol[name + "." + method.name] = file.name
      }
    }
  }

  private mutating func addMessage(
    _ message: Google_Protobuf_DescriptorProto,
    prefix: String,
    file: String
  ) {
    let name = prefix + message.name
    fileBySymbol[name] = file
    messageTypes.insert(name)
    for field in message.field {
      fileBySymbol[name + "." + field.name] = file
    }
    for nested in message.nestedType {
      addMessage(nested, prefix: name + ".", file: file)
    }
    for enumType in message.enumType {
      fileBySymbol[name + "." + enumType.name] = file
    }
  }

  /// Whether a file of this name is known.
  public func hasFile(named name: String) -> Bool {
    serializedFiles[name] != nil
  }

  /// The name of the file defining `symbol` (leading dot allowed), if any.
  public func fileName(containingSymbol symbol: String) -> String? {
    let trimmed = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
    return fileBySymbol[trimmed]
  }

  /// Whether `name` is a known message type.
  public func isMessageType(_ name: String) -> Bool {
    messageTypes.contains(name.hasPrefix(".") ? String(name.dropFirst()) : name)
  }

  /// The serialized `FileDescriptorProto` of `name` followed by those of every file it
  /// imports, directly or not, each once: what a reflection client needs to build the
  /// file without asking again.
  public func serializedFileWithDependencies(_ name: String) -> [Data]? {
    guard serializedFiles[name] != nil else { return nil }
    var result: [Data] = []
    var seen: Set<String> = []
    var pending = [name]
    while let next = pending.popLast() {
      guard seen.insert(next).inserted, let data = serializedFiles[next] else { continue }
      result.append(data)
      pending.append(contentsOf: (dependencies[next] ?? []).reversed())
    }
    return result
  }
}
