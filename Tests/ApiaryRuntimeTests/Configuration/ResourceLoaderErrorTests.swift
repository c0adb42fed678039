import ApiaryRuntime
import Testing

/// One broken file and the exact problem reported for it.
struct BrokenResource: Sendable, CustomTestStringConvertible {
  var label: String
  var yaml: String
  var document: Int = 1
  var problem: String

  var testDescription: String { label }
}

private let header =
  "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\n"

private func withMetadata(_ items: String) -> String {
  header + "spec:\n  type: state.redis\n  metadata:\n" + items
}

private let brokenResources: [BrokenResource] = [
  BrokenResource(
    label: "spec.type missing in the second document",
    yaml: componentYAML("first") + "\n---\n" + header + "spec:\n  version: v1\n",
    document: 2,
    problem: "spec.type is missing"),
  BrokenResource(label: "no spec at all", yaml: header, problem: "spec.type is missing"),
  BrokenResource(
    label: "metadata.name missing",
    yaml:
      "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  namespace: x\nspec:\n  type: state.redis\n",
    problem: "metadata.name is missing"),
  BrokenResource(
    label: "no metadata at all",
    yaml: "apiVersion: dapr.io/v1alpha1\nkind: Component\nspec:\n  type: state.redis\n",
    problem: "metadata.name is missing"),
  BrokenResource(
    label: "metadata.name empty",
    yaml:
      "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ''\nspec:\n  type: state.redis\n",
    problem: "metadata.name is missing"),
  BrokenResource(
    label: "type without a building block",
    yaml: header + "spec:\n  type: redis\n",
    problem: "spec.type 'redis' must look like <building block>.<name>, e.g. state.redis"),
  BrokenResource(
    label: "type ending in a dot",
    yaml: header + "spec:\n  type: state.\n",
    problem: "spec.type 'state.' must look like <building block>.<name>, e.g. state.redis"),
  BrokenResource(
    label: "type starting with a dot",
    yaml: header + "spec:\n  type: .redis\n",
    problem: "spec.type '.redis' must look like <building block>.<name>, e.g. state.redis"),
  BrokenResource(
    label: "metadata entry without a name",
    yaml: withMetadata("  - name: a\n    value: 1\n  - name: b\n    value: 2\n  - value: 3\n"),
    problem: "spec.metadata[2] has no name"),
  BrokenResource(
    label: "metadata entry with neither value nor reference",
    yaml: withMetadata("  - name: redisHost\n"),
    problem: "spec.metadata[0] (redisHost) needs exactly one of value, secretKeyRef or envRef"),
  BrokenResource(
    label: "metadata entry with both a value and an envRef",
    yaml: withMetadata("  - name: redisHost\n    value: localhost\n    envRef: REDIS_HOST\n"),
    problem: "spec.metadata[0] (redisHost) needs exactly one of value, secretKeyRef or envRef"),
  BrokenResource(
    label: "secretKeyRef without a name",
    yaml: withMetadata(
      "  - name: a\n    value: 1\n  - name: redisPassword\n    secretKeyRef:\n      key: password\n"
    ),
    problem: "spec.metadata[1].secretKeyRef.name is missing"),
  BrokenResource(
    label: "secretKeyRef that is text",
    yaml: withMetadata("  - name: redisPassword\n    secretKeyRef: redis\n"),
    problem: "spec.metadata[0].secretKeyRef must be a mapping with name and key, found 'redis'"),
  BrokenResource(
    label: "empty envRef",
    yaml: withMetadata("  - name: redisPassword\n    envRef: ''\n"),
    problem: "spec.metadata[0].envRef is empty; name an environment variable"),
  BrokenResource(
    label: "structured value",
    yaml: withMetadata("  - name: hosts\n    value: [a, b]\n"),
    problem:
      "spec.metadata[0].value must be a single value (text, a number or true/false), found a list; "
      + "write structured data as a quoted string"),
  BrokenResource(
    label: "metadata entry that is not a mapping",
    yaml: withMetadata("  - redisHost\n"),
    problem: "spec.metadata[0] must be a mapping with a name and a value, found 'redisHost'"),
  BrokenResource(
    label: "metadata that is not a list",
    yaml: header + "spec:\n  type: state.redis\n  metadata:\n    redisHost: localhost\n",
    problem: "spec.metadata must be a list, found a mapping"),
  BrokenResource(
    label: "two metadata entries with the same name",
    yaml: withMetadata(
      "  - name: redisHost\n    value: a\n  - name: port\n    value: 1\n  - name: redisHost\n    value: b\n"
    ),
    problem: "spec.metadata[0] and spec.metadata[2] are both named 'redisHost'; keep one"),
  BrokenResource(
    label: "initTimeout that is not a duration",
    yaml: header + "spec:\n  type: state.redis\n  initTimeout: soon\n",
    problem: "spec.initTimeout 'soon' is not a duration (write it like 5s or 500ms)"),
  BrokenResource(
    label: "initTimeout without a unit",
    yaml: header + "spec:\n  type: state.redis\n  initTimeout: 5\n",
    problem: "spec.initTimeout '5' is not a duration (write it like 5s or 500ms)"),
  BrokenResource(
    label: "ignoreErrors that is not a boolean",
    yaml: header + "spec:\n  type: state.redis\n  ignoreErrors: sometimes\n",
    problem: "spec.ignoreErrors must be true or false"),
  BrokenResource(
    label: "ignoreErrors quoted",
    yaml: header + "spec:\n  type: state.redis\n  ignoreErrors: 'true'\n",
    problem: "spec.ignoreErrors must be true or false"),
  BrokenResource(
    label: "scopes that are text",
    yaml: componentYAML("statestore", extra: "scopes: orders"),
    problem: "scopes must be a list of app ids"),
  BrokenResource(
    label: "scopes holding a list",
    yaml: componentYAML("statestore", extra: "scopes:\n- [orders]"),
    problem: "scopes must be a list of app ids"),
  BrokenResource(
    label: "unsupported apiVersion",
    yaml:
      "apiVersion: dapr.io/v2\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n",
    problem: "apiVersion 'dapr.io/v2' is not supported for kind Component (use dapr.io/v1alpha1)"),
  BrokenResource(
    label: "missing apiVersion",
    yaml: "kind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n",
    problem: "apiVersion is missing (use dapr.io/v1alpha1)"),
  BrokenResource(
    label: "missing kind",
    yaml: componentYAML("first") + "\n---\napiVersion: dapr.io/v1alpha1\nmetadata:\n  name: x\n",
    document: 2,
    problem: "kind is missing"),
  BrokenResource(
    label: "kind that is a list",
    yaml: "kind: [Component]\n",
    problem: "kind must be text, found a list"),
  BrokenResource(
    label: "document that is a list",
    yaml: "- apiVersion: dapr.io/v1alpha1\n- kind: Component\n",
    problem: "expected a mapping with apiVersion, kind, metadata and spec, found a list"),
  BrokenResource(
    label: "document that is text",
    yaml: "just some words\n",
    problem: "expected a mapping with apiVersion, kind, metadata and spec, found 'just some words'"),
  BrokenResource(
    label: "spec that is text",
    yaml: header + "spec: state.redis\n",
    problem: "spec must be a mapping, found 'state.redis'"),
  BrokenResource(
    label: "name that is a mapping",
    yaml:
      "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: {a: b}\nspec:\n  type: state.redis\n",
    problem: "metadata.name must be text, found a mapping"),
  BrokenResource(
    label: "auth that is a list",
    yaml: componentYAML("statestore", extra: "auth: [vault]"),
    problem: "auth must be a mapping, found a list"),
  BrokenResource(
    label: "YAML that does not parse",
    yaml: componentYAML("first") + "\n---\nkind: Component\nmetadata:\n  name: [unclosed\n",
    document: 2,
    problem: "not valid YAML: line 12, column 1: did not find expected ',' or ']'"
      + " (while parsing a flow sequence at line 11, column 9)"),
  BrokenResource(
    label: "YAML with a duplicated key",
    yaml: "kind: Component\nmetadata:\n  name: a\n  name: b\n",
    problem:
      "not valid YAML: line 3, column 3: key 'name' appears more than once in the same mapping"),
  BrokenResource(
    label: "YAML with a tab for indentation",
    yaml: "kind: Component\nmetadata:\n\tname: a\n",
    problem: "not valid YAML: line 3, column 1: found character that cannot start any token"
      + " (while scanning for the next token at line 3, column 1)"),
]

extension ConfigurationTests {
  @Suite("resource loader: error messages")
  struct ResourceLoaderErrorTests {
    @Test("each problem is reported with its file, document and field", arguments: brokenResources)
    func problem(_ broken: BrokenResource) throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write("redis.yaml", broken.yaml)
      let expected = ConfigurationError(
        "\(fixture.file("redis.yaml")), document \(broken.document): \(broken.problem)")
      #expect(throws: expected) { try fixture.load() }
    }
  }
}
