// swift-tools-version:6.1
// Apiary: a sidecar runtime that hosts pluggable components over Unix domain sockets.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
  name: "apiary",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "apiary", targets: ["apiary"]),
    .executable(name: "memstore", targets: ["memstore"]),
    .executable(name: "ticker", targets: ["ticker"]),
    .executable(name: "apiary-bench", targets: ["ApiaryBench"]),
    .library(name: "ApiaryContracts", targets: ["ApiaryContracts"]),
    .library(name: "ComponentKit", targets: ["ComponentKit"]),
    .library(name: "ApiaryRuntime", targets: ["ApiaryRuntime"]),
    .library(name: "ApiaryAPI", targets: ["ApiaryAPI"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    // Without the default ConfigurationSupport trait: Apiary reads no swift-configuration.
    .package(
      url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    // Already there through Hummingbird; named for the HTTP port's one channel handler.
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    // OTLP span export (gRPC and HTTP/protobuf), and the Tracer API it implements.
    .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0"),
    .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    // `swift package generate-documentation --target ComponentKit` (Scripts/docs.sh).
    .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
  ],
  targets: [
    // Swift generated from Proto/ by Scripts/generate-protos.sh. Never edited by hand.
    .target(
      name: "ApiaryContracts",
      dependencies: [
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
    // What the component SDK and the sidecar share, package-internal (never SDK API):
    // file kinds for sockets, the wire log level.
    .target(
      name: "ApiaryShared",
      dependencies: [
        "ApiaryContracts",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    // The Swift SDK for component authors.
    .target(
      name: "ComponentKit",
      dependencies: [
        "ApiaryContracts",
        "ApiaryShared",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    // The gRPC core C library (Debian's libgrpc-dev), linked by name through the module map.
    .systemLibrary(
      name: "CGRPCCore",
      path: "Sources/CGRPCCore",
      providers: [.apt(["libgrpc-dev"])]
    ),
    // A grpc-swift-2 client and server transport on the gRPC core C library, and the
    // nio|core choice Apiary makes between it and grpc-swift's NIO transport.
    .target(
      name: "GRPCCoreCTransport",
      dependencies: [
        "CGRPCCore",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    // The sidecar core: discovery, registry, adapters. Knows nothing of HTTP.
    .target(
      name: "ApiaryRuntime",
      dependencies: [
        "ApiaryContracts",
        "ApiaryShared",
        "GRPCCoreCTransport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Yams", package: "Yams"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "OTel", package: "swift-otel"),
      ],
      swiftSettings: swiftSettings
    ),
    // What applications call: the Dapr gRPC and HTTP APIs, SayHello, delivery to the app.
    .target(
      name: "ApiaryAPI",
      dependencies: [
        "ApiaryRuntime",
        "GRPCCoreCTransport",
        "ApiaryContracts",
        "ComponentKit",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: swiftSettings
    ),
    // `apiary conformance`: the building blocks' contract checks against a live socket.
    .target(
      name: "ApiaryConformance",
      dependencies: [
        "ApiaryRuntime",
        "ApiaryContracts",
        "GRPCCoreCTransport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "apiary",
      dependencies: [
        "ApiaryConformance",
        "ApiaryShared",
        "ApiaryRuntime",
        "GRPCCoreCTransport",
        "ApiaryAPI",
        "ComponentKit",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "memstore",
      dependencies: [
        "ComponentKit",
        "ApiaryContracts",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "SamplesComponents/swift/memstore",
      exclude: ["README.md", "components.yaml"],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "ticker",
      dependencies: [
        "ComponentKit",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "SamplesComponents/swift/ticker",
      exclude: ["README.md", "components.yaml"],
      swiftSettings: swiftSettings
    ),
    // The benchmark harness (Scripts/bench.sh builds it in release mode and runs it).
    .executableTarget(
      name: "ApiaryBench",
      dependencies: [
        "ComponentKit", "ApiaryContracts", "ApiaryShared", "ApiaryTestSupport",
        "GRPCCoreCTransport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ],
      path: "Benchmarks/Harness",
      swiftSettings: swiftSettings
    ),
    // Helpers shared by the test targets: temporary folders, child processes, sockets.
    .target(
      name: "ApiaryTestSupport",
      dependencies: [
        "ComponentKit",
        "ApiaryShared",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      path: "Tests/ApiaryTestSupport",
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ComponentKitTests",
      dependencies: [
        "ComponentKit", "ApiaryContracts", "ApiaryShared", "ApiaryTestSupport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ApiaryConformanceTests",
      dependencies: [
        "ApiaryConformance", "ApiaryRuntime", "ComponentKit", "ApiaryContracts",
        "ApiaryTestSupport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "GRPCCoreCTransportTests",
      dependencies: [
        "GRPCCoreCTransport", "ApiaryTestSupport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ApiarySharedTests",
      dependencies: [
        "ApiaryShared", "ApiaryContracts", "ApiaryTestSupport",
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ApiaryRuntimeTests",
      dependencies: [
        "ApiaryRuntime", "ComponentKit", "ApiaryContracts", "ApiaryTestSupport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ApiaryAPITests",
      dependencies: [
        "ApiaryAPI", "ApiaryRuntime", "ApiaryContracts", "ApiaryTestSupport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTesting", package: "hummingbird"),
        .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ],
      swiftSettings: swiftSettings
    ),
    // The `apiary` executable: its commands run as child processes, and its argument
    // types through `@testable import apiary`.
    .testTarget(
      name: "apiaryTests",
      dependencies: [
        "apiary", "ApiaryRuntime", "GRPCCoreCTransport", "ApiaryTestSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "EndToEndTests",
      dependencies: [
        "ApiaryContracts", "ApiaryTestSupport",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
  ]
)
