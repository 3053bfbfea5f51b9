// swift-tools-version:6.1
// The benchmarks, kept out of the main build: `swift run -c release --package-path Tools/Benchmarks <name>`.
import Foundation
import PackageDescription

/// The root package's identity is the name of its directory, which depends on the checkout.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent

let package = Package(
    name: "MeshLedgerBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../..")],
    targets: [
        // Raw liblmdb and SQLite (WAL) baselines in plain C: Debian's liblmdb-dev and libsqlite3-dev.
        .target(
            name: "CBaselines",
            linkerSettings: [.linkedLibrary("lmdb"), .linkedLibrary("sqlite3")]
        ),
        .executableTarget(
            name: "Bench",
            dependencies: [
                .product(name: "MeshLedger", package: rootIdentity),
                .product(name: "MeshLedgerWorkload", package: rootIdentity),
                .product(name: "MeshLedgerTesting", package: rootIdentity),
                "CBaselines",
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
        .executableTarget(
            name: "CodecBenchmark",
            dependencies: [.product(name: "MeshLedger", package: rootIdentity)],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
    ]
)
