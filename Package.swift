// swift-tools-version:6.1
import PackageDescription

/// Settings every target shares: Swift 6 mode with the upcoming features the project relies on.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

let package = Package(
    name: "MeshLedger",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MeshLedger", targets: ["MeshLedger", "EventLog", "MeshModel", "Projection"]),
        // Not part of the library: seeded generators and test support, for the benchmarks package.
        .library(name: "MeshLedgerWorkload", targets: ["Workload"]),
        .library(name: "MeshLedgerTesting", targets: ["MeshLedgerTesting"]),
        .executable(name: "meshledger", targets: ["meshledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.30.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // Debian's liblmdb (liblmdb-dev), nothing compiled here.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // The only module that imports CLMDB. Knows nothing about meshes or events.
        .target(
            name: "LMDBKit",
            dependencies: ["CLMDB"],
            swiftSettings: strictSettings + [.enableUpcomingFeature("InternalImportsByDefault")]
        ),
        // Values of the API: JSON values, manifests, kinds, schemas, object keys; the event value,
        // digests and the packed value encoding that the log and the fold share.
        .target(
            name: "MeshModel",
            dependencies: [.product(name: "Yams", package: "Yams")],
            resources: [.copy("Resources/crds")],
            swiftSettings: strictSettings
        ),
        // The event envelope, its storage codec, and the append-only log over LMDBKit.
        .target(
            name: "EventLog",
            dependencies: ["LMDBKit", "MeshModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // The pure fold from events to derived state: selection, validation, approval, translation.
        // It does not link LMDB: events come in as values.
        .target(
            name: "Projection",
            dependencies: ["MeshModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // Seeded generators of fleets and event streams, for tests, benchmarks and `fleetgen`.
        .target(
            name: "Workload",
            dependencies: ["EventLog", "MeshModel"],
            swiftSettings: strictSettings
        ),
        // The store facade: turning manifests into event batches, queries over the log.
        .target(
            name: "MeshLedger",
            dependencies: ["EventLog", "MeshModel", "Projection"],
            swiftSettings: strictSettings
        ),
        // The controller API: HTTP on Hummingbird, kept in its own module (the heavy dependency).
        .target(
            name: "MeshLedgerHTTP",
            dependencies: [
                "MeshLedger", "Projection", "EventLog", "MeshModel", "MeshLedgerReplication",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // `meshledger record`: an informer-like recorder of a live Kubernetes API server, on
        // async-http-client (its own module: the HTTP client is a heavy dependency).
        .target(
            name: "MeshLedgerRecord",
            dependencies: [
                "MeshLedger", "EventLog", "MeshModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Replication of the log on etcd (its JSON gateway over async-http-client): writer election,
        // fenced group commits, catch-up and tailing (its own module: the HTTP client is heavy).
        .target(
            name: "MeshLedgerReplication",
            dependencies: [
                "EventLog", "MeshModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The command-line interface as a library, so tests can parse commands without a process.
        .target(
            name: "MeshLedgerCLI",
            dependencies: [
                "MeshLedger", "MeshLedgerHTTP", "MeshLedgerRecord", "MeshLedgerReplication",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "meshledger",
            dependencies: ["MeshLedgerCLI"],
            path: "Tools/meshledger",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "fleetgen",
            dependencies: ["Workload", "MeshModel", "EventLog"],
            path: "Tools/fleetgen",
            swiftSettings: strictSettings
        ),
        // What every test target shares: temporary stores, fixed clocks, running the built binary
        // and external programs, starting `meshledger serve`. Also used by the benchmarks package.
        .target(
            name: "MeshLedgerTesting",
            dependencies: ["MeshLedger", "EventLog", "MeshModel"],
            path: "Tests/MeshLedgerTesting",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LMDBKitTests", dependencies: ["LMDBKit", "MeshLedgerTesting"], swiftSettings: strictSettings),
        .testTarget(
            name: "MeshModelTests", dependencies: ["MeshModel", "Workload", "MeshLedgerTesting"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "ProjectionTests",
            dependencies: ["Projection", "EventLog", "MeshLedger", "MeshModel", "Workload", "MeshLedgerTesting"],
            exclude: ["Scenarios"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EventLogTests",
            dependencies: ["EventLog", "MeshModel", "LMDBKit", "Workload", "MeshLedgerTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshLedgerTests",
            dependencies: [
                "MeshLedger", "Projection", "EventLog", "MeshModel", "Workload", "MeshLedgerTesting",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MeshLedgerCLITests",
            dependencies: [
                "MeshLedgerCLI", "MeshLedger", "MeshLedgerRecord", "MeshLedgerReplication", "EventLog", "MeshModel",
                "MeshLedgerTesting", "LMDBKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        // In-process tests of every endpoint on Hummingbird's own testing library.
        .testTarget(
            name: "MeshLedgerHTTPTests",
            dependencies: [
                "MeshLedgerHTTP", "MeshLedger", "EventLog", "MeshModel", "Projection", "MeshLedgerTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
