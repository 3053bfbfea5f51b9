// swift-tools-version:6.1
// Coverage-guided fuzz targets (libFuzzer) for the parsers of outside input, kept out of the main
// build: `Tools/fuzz build`, `Tools/fuzz run [TARGET]`. Each executable is one libFuzzer target: its
// `LLVMFuzzerTestOneInput`, and a main.swift handing it to libFuzzer's driver (linked by
// `-sanitize=fuzzer`), so that SwiftPM's executable entry point stays the usual one.
import Foundation
import PackageDescription

/// The root package's identity is the name of its directory, which depends on the checkout.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility"),
]

/// One fuzz target (`Fuzz<Name>`; `Tools/fuzz run name` runs it).
func fuzzTarget(_ target: String) -> Target {
    .executableTarget(
        name: target,
        dependencies: ["CFuzzerDriver", .product(name: "MeshLedger", package: rootIdentity)],
        swiftSettings: settings
    )
}

let package = Package(
    name: "MeshLedgerFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../..")],
    targets: [
        // The declaration of libFuzzer's driver entry point.
        .target(name: "CFuzzerDriver"),
        fuzzTarget("FuzzManifests"),
        fuzzTarget("FuzzJSON"),
        fuzzTarget("FuzzJSONPatch"),
        fuzzTarget("FuzzSelectors"),
        fuzzTarget("FuzzEventCodec"),
        fuzzTarget("FuzzWatch"),
        fuzzTarget("FuzzRFC3339"),
        fuzzTarget("FuzzLogBound"),
        fuzzTarget("FuzzApply"),
        // These compile the reader's own source file (a symbolic link in the target's directory):
        // the reader lives in a module of the server, the recorder or the replicator, which this
        // package does not build with the sanitizers (see docs/fuzzing.md).
        fuzzTarget("FuzzQuery"),
        fuzzTarget("FuzzKubeconfig"),
        fuzzTarget("FuzzWire"),
        fuzzTarget("FuzzAccessFiles"),
        fuzzTarget("FuzzReviews"),
    ]
)
