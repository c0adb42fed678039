import ApiaryRuntime
import Foundation
import Testing

extension ConfigurationTests {
  @Suite("resource loader: reading Component files")
  struct ResourceLoaderTests {
    @Test("a multi-document file with every field is read into complete definitions")
    func everyField() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write(
        "redis.yaml",
        """
        # the orders service's components
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: statestore
          namespace: default
        spec:
          type: state.redis
          version: v1
          ignoreErrors: true
          initTimeout: 1m30s
          metadata:
          - name: redisHost
            value: localhost:6379
          - name: redisPassword
            secretKeyRef:
              name: redis
              key: password
          - name: token
            secretKeyRef:
              name: api-token
          - name: region
            envRef: AWS_REGION
          - name: maxRetries
            value: 5
          - name: enableTLS
            value: false
          - name: prefix
            value: ""
        auth:
          secretStore: vault
        scopes:
        - orders
        - checkout
        ---
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: vault
        spec:
          type: secretstores.local.env
        """)

      let definitions = try fixture.load()

      let file = fixture.file("redis.yaml")
      #expect(
        definitions == [
          ComponentDefinition(
            name: "statestore",
            type: "state.redis",
            version: "v1",
            metadata: [
              MetadataItem(name: "redisHost", value: .literal("localhost:6379")),
              MetadataItem(
                name: "redisPassword", value: .secretKeyRef(name: "redis", key: "password")),
              MetadataItem(
                name: "token", value: .secretKeyRef(name: "api-token", key: "api-token")),
              MetadataItem(name: "region", value: .envRef("AWS_REGION")),
              MetadataItem(name: "maxRetries", value: .literal("5")),
              MetadataItem(name: "enableTLS", value: .literal("false")),
              MetadataItem(name: "prefix", value: .literal("")),
            ],
            ignoreErrors: true,
            initTimeout: .seconds(90),
            secretStore: "vault",
            scopes: ["orders", "checkout"],
            source: DefinitionSource(file: file, document: 1)
          ),
          ComponentDefinition(
            name: "vault",
            type: "secretstores.local.env",
            version: "",
            metadata: [],
            ignoreErrors: false,
            initTimeout: .seconds(5),
            secretStore: nil,
            scopes: [],
            source: DefinitionSource(file: file, document: 2)
          ),
        ])
      #expect(definitions.map(\.buildingBlock) == ["state", "secretstores"])
      #expect(definitions[1].source.description == "\(file), document 2")
    }

    @Test(
      "value scalars keep their YAML text",
      arguments: [
        ("5", "5"), ("true", "true"), ("false", "false"), ("yes", "yes"), ("1.50", "1.50"),
        ("0x1F", "0x1F"),
        ("-3", "-3"), ("'007'", "007"), ("\"on\"", "on"), ("~", ""), ("", ""),
        ("2024-01-02", "2024-01-02"),
        ("a: b", "a: b"),
      ])
    func valueScalars(written: String, expected: String) throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      // `a: b` would be a mapping unquoted; write it as a block scalar instead.
      let value = written == "a: b" ? "|-\n        a: b" : written
      try fixture.write(
        "c.yaml",
        componentYAML(
          "c",
          extra: """
              metadata:
              - name: property
                value: \(value)
            """))
      let definitions = try fixture.load()
      #expect(
        definitions.first?.metadata == [MetadataItem(name: "property", value: .literal(expected))])
    }

    @Test("empty documents are skipped and other kinds ignored, with the documents still counted")
    func otherKinds() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write(
        "mixed.yaml",
        """
        ---
        apiVersion: dapr.io/v2alpha1
        kind: Subscription
        metadata:
          name: orders-sub
        spec:
          pubsubname: pubsub
          topic: orders
          routes:
            default: orders
        ---
        # nothing but a comment
        ---
        \(componentYAML("pubsub", type: "pubsub.memory"))
        ---
        apiVersion: dapr.io/v1alpha1
        kind: Configuration
        metadata:
          name: tracing
        ---
        \(componentYAML("statestore"))
        ---
        """)
      try fixture.write(
        "resiliency.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata:\n  name: r\n")

      let resources = try fixture.loadResources()
      let definitions = resources.components

      let mixed = fixture.file("mixed.yaml")
      #expect(definitions.map(\.name) == ["pubsub", "statestore"])
      #expect(definitions.map(\.source.document) == [3, 5])
      #expect(
        resources.subscriptions == [
          SubscriptionDefinition(
            name: "orders-sub", pubsubName: "pubsub", topic: "orders", route: "orders",
            source: DefinitionSource(file: mixed, document: 1))
        ])
      #expect(
        fixture.logs.messages(at: .info) == [
          "ignoring kind Configuration in \(mixed), document 4: only kinds Component, Subscription and Resiliency are read"
        ])
      // A Resiliency document that cannot be read is skipped with daprd's error line
      // (the policy's name), naming the file and the field too.
      #expect(
        fixture.logs.messages(at: .error) == [
          "Could not read resiliency policy r: \(fixture.file("resiliency.yaml")), document 1: spec is missing"
        ])
    }

    @Test("an error after ignored and empty documents names the right document")
    func countingAfterIgnored() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write(
        "mixed.yaml",
        """
        apiVersion: dapr.io/v1alpha1
        kind: Configuration
        ---
        ---
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: broken
        spec:
          version: v1
        """)
      #expect(
        throws: ConfigurationError(
          "\(fixture.file("mixed.yaml")), document 3: spec.type is missing")
      ) {
        try fixture.load()
      }
    }

    @Test("only .yaml and .yml files directly in the folder are read, in file-name order")
    func fileSelection() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write("b.yml", componentYAML("from-yml"))
      try fixture.write("a.yaml", componentYAML("from-yaml"))
      try fixture.write("c.yaml.bak", componentYAML("from-backup"))
      try fixture.write("d.json", componentYAML("from-json"))
      try fixture.write("e.txt", componentYAML("from-text"))
      try fixture.write("README.md", "not yaml: [")
      try fixture.write("empty.yaml", "")
      try FileManager.default.createDirectory(
        atPath: fixture.file("nested.yaml"), withIntermediateDirectories: false)
      try componentYAML("from-nested").write(
        toFile: fixture.file("nested.yaml/inner.yaml"), atomically: true, encoding: .utf8)

      let definitions = try fixture.load()

      #expect(definitions.map(\.name) == ["from-yaml", "from-yml"])
      #expect(definitions.map(\.source.file) == [fixture.file("a.yaml"), fixture.file("b.yml")])
    }

    @Test("several resources paths are read in the order given")
    func severalPaths() throws {
      let first = try ResourceFixture()
      let second = try ResourceFixture()
      defer {
        first.remove()
        second.remove()
      }
      try first.write("z.yaml", componentYAML("one"))
      try second.write("a.yaml", componentYAML("two"))
      let definitions = try first.loader(extraPaths: [second.path + "/"]).load()
      #expect(definitions.map(\.name) == ["one", "two"])
      #expect(definitions[1].source.file == second.file("a.yaml"))
    }

    @Test("scopes keep a component for the listed apps and drop it, with one info line, for others")
    func scopes() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write(
        "c.yaml",
        """
        \(componentYAML("statestore", extra: "scopes:\n- orders\n- billing"))
        ---
        \(componentYAML("everyone"))
        """)

      #expect(try fixture.load(appID: "orders").map(\.name) == ["statestore", "everyone"])
      #expect(fixture.logs.messages(at: .info).isEmpty)

      #expect(try fixture.load(appID: "checkout").map(\.name) == ["everyone"])
      #expect(
        fixture.logs.messages(at: .info) == [
          "skipping component statestore: scoped to apps orders, billing"
        ])
    }

    @Test("a name defined twice is an error naming both places")
    func duplicateNames() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write("a.yaml", componentYAML("statestore"))
      try fixture.write(
        "b.yaml",
        """
        \(componentYAML("other"))
        ---
        apiVersion: dapr.io/v1alpha1
        kind: Configuration
        ---
        \(componentYAML("statestore", type: "state.redis"))
        """)
      #expect(
        throws: ConfigurationError(
          "component name 'statestore' is defined twice: \(fixture.file("a.yaml")), document 1"
            + " and \(fixture.file("b.yaml")), document 3")
      ) {
        try fixture.load()
      }
    }

    @Test("duplicate names are checked after scoping")
    func duplicatesAfterScoping() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      try fixture.write("a.yaml", componentYAML("statestore", extra: "scopes: [checkout]"))
      try fixture.write("b.yaml", componentYAML("statestore", extra: "scopes: [orders]"))
      let definitions = try fixture.load(appID: "orders")
      #expect(definitions.map(\.source.file) == [fixture.file("b.yaml")])
      #expect(try fixture.load(appID: "checkout").map(\.source.file) == [fixture.file("a.yaml")])
      #expect(try fixture.load(appID: "someone-else").isEmpty)
    }

    @Test("a resources path that is missing or not a folder is an error naming it")
    func badPaths() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      let missing = fixture.file("nowhere")
      #expect(throws: ConfigurationError("resources path '\(missing)' does not exist")) {
        try ResourceLoader(paths: [missing], appID: "orders", logger: fixture.logs.logger).load()
      }
      try fixture.write("c.yaml", componentYAML("c"))
      let file = fixture.file("c.yaml")
      #expect(
        throws: ConfigurationError(
          "resources path '\(file)' is not a folder; give the folder that holds the resource files")
      ) {
        try ResourceLoader(paths: [file], appID: "orders", logger: fixture.logs.logger).load()
      }
    }

    @Test("a folder with no resource files loads nothing")
    func emptyFolder() throws {
      let fixture = try ResourceFixture()
      defer { fixture.remove() }
      #expect(try fixture.load().isEmpty)
    }
  }
}

@Suite("declarative subscriptions")
struct SubscriptionResourceTests {
  @Test("v1alpha1 route, v2alpha1 routes.default, metadata, dead letter topic and scopes are read")
  func readsBothVersions() throws {
    let fixture = try ResourceFixture()
    defer { fixture.remove() }
    try fixture.write(
      "subs.yaml",
      """
      apiVersion: dapr.io/v1alpha1
      kind: Subscription
      metadata:
        name: old-style
      spec:
        pubsubname: pubsub
        topic: a
        route: /a
      ---
      apiVersion: dapr.io/v2alpha1
      kind: Subscription
      metadata:
        name: new-style
      spec:
        pubsubname: pubsub
        topic: b
        routes:
          default: /b
        metadata:
          rawPayload: "true"
        deadLetterTopic: b-dead
      scopes:
        - orders
      ---
      apiVersion: dapr.io/v2alpha1
      kind: Subscription
      metadata:
        name: other-app
      spec:
        pubsubname: pubsub
        topic: c
        routes:
          default: /c
      scopes:
        - billing
      """)
    let subscriptions = try fixture.loadResources().subscriptions
    let file = fixture.file("subs.yaml")
    #expect(
      subscriptions == [
        SubscriptionDefinition(
          name: "old-style", pubsubName: "pubsub", topic: "a", route: "/a",
          source: DefinitionSource(file: file, document: 1)),
        SubscriptionDefinition(
          name: "new-style", pubsubName: "pubsub", topic: "b", route: "/b",
          metadata: ["rawPayload": "true"],
          deadLetterTopic: "b-dead", scopes: ["orders"],
          source: DefinitionSource(file: file, document: 2)),
      ])
  }

  @Test(
    "a malformed subscription names the file, the document and the field",
    arguments: [
      ("spec:\n  topic: t\n  routes:\n    default: /t\n", "spec.pubsubname is missing"),
      ("spec:\n  pubsubname: p\n  routes:\n    default: /t\n", "spec.topic is missing"),
      (
        "spec:\n  pubsubname: p\n  topic: t\n",
        "spec.routes is missing: give spec.routes.default (or rules) naming the app path that receives the events, e.g. /orders"
      ),
      (
        "spec:\n  pubsubname: p\n  topic: t\n  routes:\n    rules:\n      - match: event.type == \"x\n        path: /x\n",
        "subscription s: spec.routes.rules[0].match 'event.type == \"x' does not parse at column 15: a string is not closed"
      ),
      (
        "spec:\n  pubsubname: p\n  topic: t\n  routes:\n    rules:\n      - match: event.type ==\n        path: /x\n",
        "subscription s: spec.routes.rules[0].match 'event.type ==' does not parse at column 14: the expression ends too soon"
      ),
      (
        "spec:\n  pubsubname: p\n  topic: t\n  routes:\n    rules:\n      - match: a\n",
        "spec.routes.rules[0].path is missing"
      ),
    ])
  func malformed(spec: String, problem: String) throws {
    let fixture = try ResourceFixture()
    defer { fixture.remove() }
    try fixture.write(
      "sub.yaml", "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: s\n" + spec)
    #expect(throws: ConfigurationError("\(fixture.file("sub.yaml")), document 1: \(problem)")) {
      try fixture.loadResources()
    }
  }
}
