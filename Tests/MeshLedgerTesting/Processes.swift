import Foundation
public import MeshModel

/// The built `meshledger` binary: $MESHLEDGER_BIN, or next to the test bundle.
public let meshledgerBinary: String = {
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

/// What a run of a program printed and returned.
public struct RunResult: Sendable {
    /// The exit status.
    public var status: Int32
    /// Standard output.
    public var stdout: String
    /// Standard error (empty when it was discarded).
    public var stderr: String
}

/// A process (not yet started) of `executable` (a path, or a name looked up on PATH) with
/// `arguments`, in this process's environment with `environment` added.
public func makeProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:]
) -> Process {
    let process = Process()
    if executable.contains("/") {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
    }
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { _, new in new }
    process.environment = env
    return process
}

/// Runs `executable` (a path, or a name looked up on PATH) with `arguments` and optional stdin to
/// completion.
@discardableResult
public func runProgram(
    _ executable: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]
) throws -> RunResult {
    let process = makeProcess(executable, arguments, environment: environment)
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    // Standard error is drained on another thread so that neither pipe can fill up and block.
    let errBox = DataBox()
    let errThread = Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile() }
    errThread.start()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errBox.done { usleep(1000) }
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errBox.data, as: UTF8.self))
}

/// Data filled in once by a reader thread.
private final class DataBox: @unchecked Sendable {
    // @unchecked Sendable: written once by the reader thread, read after `done` is seen.
    private let lock = NSLock()
    private var value = Data()
    private var finished = false
    var data: Data {
        get { lock.withLock { value } }
        set {
            lock.withLock {
                value = newValue
                finished = true
            }
        }
    }
    var done: Bool { lock.withLock { finished } }
}

/// Runs the built `meshledger` with `arguments` (and optional stdin) to completion.
@discardableResult
public func meshledger(
    _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:]
) throws
    -> RunResult
{
    try runProgram(meshledgerBinary, arguments, stdin: stdin, environment: environment)
}

/// Runs a program found on PATH to completion, with optional stdin; returns its exit status and
/// standard output.
public func run(
    _ executable: String, _ arguments: [String], stdin: String? = nil
) throws -> (
    status: Int32, output: String
) {
    let result = try runProgram(executable, arguments, stdin: stdin.map { Data($0.utf8) })
    return (result.status, result.stdout)
}

/// Checks Istio objects (YAML or JSON files) against Istio's CRD schemas with
/// `Tools/validate-istio.py`; returns its exit status and report.
public func validateIstio(_ files: [String], crds: String? = nil) throws -> (status: Int32, report: String) {
    var arguments = ["\(packageRoot)/Tools/validate-istio.py"]
    if let crds { arguments += ["--crds", crds] }
    let result = try runProgram("python3", arguments + files)
    return (result.status, result.stdout + result.stderr)
}

/// A `meshledger serve` process on a free loopback port, interrupted (by its process id) and
/// waited for when released.
public final class ServerProcess {
    /// The process.
    public let process = Process()
    /// The port it listens on.
    public let port: Int
    /// Its store directory.
    public let store: String

    /// Starts `binary serve --store STORE --listen LISTEN ARGUMENTS` and reads the port it prints.
    public init(
        store: String, arguments: [String] = [], binary: String = meshledgerBinary, listen: String = "127.0.0.1:0"
    ) throws {
        self.store = store
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--store", store, "--listen", listen] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var buffer = ""
        var found: Int?
        let deadline = Date().addingTimeInterval(20)
        while found == nil && Date() < deadline {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            buffer += String(decoding: data, as: UTF8.self)
            for line in buffer.split(separator: "\n") where line.hasPrefix("listening on ") {
                found = Int(line.split(separator: ":").last ?? "")
            }
        }
        guard let found else {
            process.terminate()
            throw TestFailure("server did not start: \(buffer)")
        }
        port = found
    }

    /// Stops the server (SIGINT, by its process id) and waits for it.
    public func stop() {
        if process.isRunning { process.interrupt() }
        process.waitUntilExit()
    }

    deinit { stop() }

    /// One request through curl: (status, body).
    public func request(
        _ method: String, _ path: String, body: String? = nil, token: String? = nil
    ) throws -> (status: Int, body: String) {
        var arguments = ["-s", "-X", method, "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if body != nil { arguments += ["--data-binary", "@-"] }
        let result = try run("curl", arguments, stdin: body)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// One request whose answer is JSON: (status, value).
    public func json(
        _ method: String, _ path: String, body: String? = nil, token: String? = nil
    ) throws -> (status: Int, value: JSONValue) {
        let (status, text) = try request(method, path, body: body, token: token)
        return (status, (try? JSONText.parse(Array(text.utf8))) ?? .null)
    }

    /// The lines of a watch stream that ends after `timeout` seconds.
    public func watch(from: UInt64, timeout: Double, token: String? = nil) throws -> [JSONValue] {
        let (status, text) = try request(
            "GET", "/v1/watch?from=\(from)&timeoutSeconds=\(timeout)&bookmarkSeconds=0.2", token: token)
        guard status == 200 else { throw TestFailure("watch answered \(status): \(text)") }
        return text.split(separator: "\n").compactMap { try? JSONText.parse(Array($0.utf8)) }
    }
}
