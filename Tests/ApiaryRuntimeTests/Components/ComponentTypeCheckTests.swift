import Testing

@testable import ApiaryRuntime

/// Types nothing serves yet: typos of built-ins refused with the nearest type, other
/// types waiting for their socket, blocks Apiary does not serve left out.
@Suite("component type check")
struct ComponentTypeCheckTests {
  func definition(_ type: String, name: String = "c") -> ComponentDefinition {
    ComponentDefinition(
      name: name, type: type, version: "v1", metadata: [], ignoreErrors: false,
      initTimeout: .seconds(5),
      secretStore: nil, scopes: [], source: DefinitionSource(file: "c.yaml", document: 1))
  }

  let builtIns = BuiltInFactories.types

  @Test("known types and types of socket files present give no finding")
  func known() {
    let findings = ComponentTypeCheck.check(
      [definition("state.in-memory"), definition("state.redis"), definition("pubsub.kafka")],
      builtIns: builtIns,
      served: ["pubsub.kafka"], socketNames: ["redis"])
    #expect(findings.isEmpty)
  }

  @Test("a typo of a built-in type is an error naming the file and suggesting the type")
  func typo() {
    for (typed, meant) in [
      ("state.in-memroy", "state.in-memory"), ("pubsub.inmemory", "pubsub.in-memory"),
      ("secretstores.local.evn", "secretstores.local.env"), ("STATE.IN-MEMORY2", "state.in-memory"),
    ] {
      let findings = ComponentTypeCheck.check([definition(typed)], builtIns: builtIns)
      #expect(findings.count == 1 && findings[0].isError, "\(typed)")
      #expect(
        findings.first?.message
          == "c.yaml, document 1: spec.type: no built-in has type '\(typed.lowercased())' and no socket serves it; did you mean '\(meant)'?"
          || findings.first?.message
            == "c.yaml, document 1: spec.type: no built-in has type '\(typed)' and no socket serves it; did you mean '\(meant)'?",
        "\(String(describing: findings.first?.message))")
    }
  }

  @Test(
    "an unknown building block is an error with the nearest block; a Dapr block Apiary does not serve is left out"
  )
  func blocks() {
    let unknown = ComponentTypeCheck.check([definition("stat.memstore")], builtIns: builtIns)
    #expect(unknown == [.unknownBlock(definition("stat.memstore"), suggestion: "state.memstore")])
    #expect(
      unknown.first?.message.contains("'stat' in 'stat.memstore' is not a building block") == true)
    #expect(unknown.first?.message.hasSuffix("Did you mean 'state.memstore'?") == true)
    let lock = ComponentTypeCheck.check([definition("lock.redis")], builtIns: builtIns)
    #expect(lock == [.unsupportedBlock(definition("lock.redis"))])
    #expect(lock.first?.isError == false)
  }

  @Test("another type waits for its socket, with the nearest served type when one is close")
  func waiting() {
    let far = ComponentTypeCheck.check([definition("state.redis-cluster")], builtIns: builtIns)
    #expect(
      far == [
        .awaitingSocket(
          definition("state.redis-cluster"), socket: "redis-cluster.sock", nearest: nil)
      ])
    let near = ComponentTypeCheck.check(
      [definition("state.memstor")], builtIns: builtIns, served: ["state.memstore"])
    #expect(
      near == [
        .awaitingSocket(
          definition("state.memstor"), socket: "memstor.sock", nearest: "state.memstore")
      ])
    #expect(near.first?.isError == false)
  }

  @Test("edit distance counts insertions, deletions, substitutions and swaps as one each")
  func distance() {
    #expect(ComponentTypeCheck.editDistance("memory", "memroy") == 1)
    #expect(ComponentTypeCheck.editDistance("abc", "abcd") == 1)
    #expect(ComponentTypeCheck.editDistance("abc", "xbc") == 1)
    #expect(ComponentTypeCheck.editDistance("", "ab") == 2)
    #expect(ComponentTypeCheck.editDistance("kitten", "sitting") == 3)
  }
}
