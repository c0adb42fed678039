/// What `apiary check` and `apiary run` say at once about component types nothing
/// serves yet, before any port opens: a typo is found in the first second, not after
/// `--component-wait`.
///
/// - A type near a built-in one (`state.in-memroy`) is refused with the suggestion:
///   a socket could bring it, but nobody names a component process after a typo of
///   a built-in.
/// - A building block Apiary does not know is refused, with the nearest one; one of
///   Dapr's blocks Apiary does not serve (`lock`, `configuration`, …) is reported and
///   its component left out, so a folder shared with daprd still loads.
/// - Any other type no socket serves yet waits for its socket (PENDING), with a
///   notice naming the socket file it waits for, and the nearest type already served
///   when there is one close to it.
public enum ComponentTypeCheck {
  /// One finding about a definition's type.
  public enum Finding: Sendable, Equatable {
    /// Refused: no built-in has the type, and it is one edit or two from a built-in.
    case typo(ComponentDefinition, suggestion: String)
    /// Refused: the building block is not one Apiary or Dapr knows.
    case unknownBlock(ComponentDefinition, suggestion: String?)
    /// Left out: a Dapr building block Apiary does not serve.
    case unsupportedBlock(ComponentDefinition)
    /// Waits for `socket` in the sockets folder; `nearest` is a known type close to it.
    case awaitingSocket(ComponentDefinition, socket: String, nearest: String?)

    /// Whether start-up stops for it.
    public var isError: Bool {
      switch self {
      case .typo, .unknownBlock: true
      case .unsupportedBlock, .awaitingSocket: false
      }
    }

    public var definition: ComponentDefinition {
      switch self {
      case .typo(let definition, _), .unknownBlock(let definition, _),
        .unsupportedBlock(let definition),
        .awaitingSocket(let definition, _, _):
        definition
      }
    }

    /// The sentence a person reads, naming the file and the field.
    public var message: String {
      let type = definition.type
      switch self {
      case .typo(_, let suggestion):
        return
          "\(definition.source): spec.type: no built-in has type '\(type)' and no socket serves it; did you mean '\(suggestion)'?"
      case .unknownBlock(_, let suggestion):
        let block = type.prefix { $0 != "." }
        let hint = suggestion.map { " Did you mean '\($0)'?" } ?? ""
        return
          "\(definition.source): spec.type: '\(block)' in '\(type)' is not a building block; Apiary serves \(BuildingBlock.allCases.map(\.rawValue).joined(separator: ", ")).\(hint)"
      case .unsupportedBlock:
        let block = type.prefix { $0 != "." }
        return
          "\(definition.source): component '\(definition.name)' (\(type)) is left out: Apiary does not serve Dapr's '\(block)' building block"
      case .awaitingSocket(_, let socket, let nearest):
        let hint = nearest.map { " (did you mean '\($0)'?)" } ?? ""
        return
          "\(definition.source): component '\(definition.name)': no built-in has type '\(type)' and no socket serves it yet\(hint); it waits for \(socket) in the sockets folder"
      }
    }
  }

  /// Dapr building blocks Apiary does not serve: their components are left out.
  public static let unsupportedDaprBlocks: Set<String> = [
    "configuration", "lock", "crypto", "middleware", "nameresolution", "workflowbackend",
    "conversation",
  ]

  /// The findings for `definitions`, given the types known now: `builtIns` (the
  /// built-in types), `served` (types sockets serve now, when known) and
  /// `socketNames` (the component names of the socket files in the sockets folder,
  /// ``componentName(forSocketFileName:)``).
  public static func check(
    _ definitions: [ComponentDefinition], builtIns: [String], served: [String] = [],
    socketNames: Set<String> = []
  ) -> [Finding] {
    var findings: [Finding] = []
    let blocks = BuildingBlock.allCases.map(\.rawValue)
    for definition in definitions {
      let type = definition.type.lowercased()
      if builtIns.contains(type) || served.contains(type) { continue }
      let block = String(type.prefix { $0 != "." })
      let name = String(type.dropFirst(block.count + 1))
      guard blocks.contains(block) else {
        if unsupportedDaprBlocks.contains(block) {
          findings.append(.unsupportedBlock(definition))
        } else {
          findings.append(
            .unknownBlock(
              definition, suggestion: nearest(block, in: blocks).map { "\($0).\(name)" }))
        }
        continue
      }
      if socketNames.contains(name) { continue }
      if let suggestion = nearest(type, in: builtIns) {
        findings.append(.typo(definition, suggestion: suggestion))
        continue
      }
      findings.append(
        .awaitingSocket(definition, socket: "\(name).sock", nearest: nearest(type, in: served)))
    }
    return findings
  }

  /// The candidate closest to `text` when it is at most two edits away (and not
  /// `text` itself); ties go to the first.
  static func nearest(_ text: String, in candidates: [String]) -> String? {
    var best: (candidate: String, distance: Int)?
    for candidate in candidates where candidate != text {
      let distance = editDistance(text, candidate)
      if distance <= 2, distance < (best?.distance ?? .max) { best = (candidate, distance) }
    }
    return best?.candidate
  }

  /// Levenshtein distance, with a swap of two neighbours counting as one edit.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = [Int](0...b.count)
    var beforePrevious = previous
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          current[j] = min(current[j], beforePrevious[j - 2] + 1)
        }
      }
      beforePrevious = previous
      previous = current
    }
    return previous[b.count]
  }
}
