import EventLog
import Foundation
import MeshLedger
import Testing

/// The package root (for Examples/).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The built `meshledger` binary: $MESHLEDGER_BIN, or next to the test bundle.
let meshledgerBinary: String = {
    if let path = ProcessInfo.processInfo.environment["MESHLEDGER_BIN"] { return path }
    let candidates = [
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("meshledger").path,
        Bundle.main.bundleURL.appendingPathComponent("meshledger").path,
        Bundle.main.bundleURL.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "meshledger"
        ).path,
        packageRoot + "/.build/debug/meshledger",
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
}()

func temporaryDirectory(_ name: String = #function) -> String {
    let path = FileManager.default.temporaryDirectory.path + "/cli-\(name.filter(\.isLetter))-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// What a run of the binary printed and returned.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `meshledger` with `arguments` (and optional stdin) to completion.
@discardableResult
func meshledger(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: meshledgerBinary)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { _, new in new }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// The head of the store at `path`, read by the binary (so no environment stays open here).
func head(of store: String) throws -> UInt64 {
    let result = try meshledger(["stats", "--store", store, "-o", "json"])
    guard result.status == 0, let data = result.stdout.data(using: .utf8),
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let head = object["head"] as? Int
    else { return 0 }
    return UInt64(head)
}

/// Writes `text` to a new file in `directory` and returns its path.
func write(_ text: String, to directory: String, name: String) throws -> String {
    let path = "\(directory)/\(name)"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// A VirtualDestination manifest (YAML) for generated batches.
func virtualDestinationYAML(_ name: String, port: Int = 9080) -> String {
    """
    apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
    kind: VirtualDestination
    metadata:
      name: \(name)
      namespace: bookinfo
    spec:
      hostname: \(name).global
      port: {number: \(port), protocol: HTTP}
      virtualMesh: {name: bookinfo-federation, namespace: gloo-mesh}
      static:
        destinations:
        - kubeService: {name: reviews, namespace: bookinfo, clusterName: cluster-1}
    """
}

/// Runs a program found on PATH to completion, with optional stdin; returns its exit status and
/// standard output (standard error is discarded).
func run(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let out = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardInput = input
    process.standardError = FileHandle.nullDevice
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
