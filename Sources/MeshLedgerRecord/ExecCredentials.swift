import Foundation
import MeshModel
import Synchronization

/// What an exec credential plugin gave: a bearer token, or a client certificate and key, and
/// until when (nil: until the server refuses it).
struct ExecCredential: Sendable {
    var token: String?
    var clientCertificate: [UInt8]?
    var clientKey: [UInt8]?
    var expiration: Date?
}

/// Runs a kubeconfig's exec plugin as client-go does (`plugin/pkg/client/auth/exec`): with the
/// caller's environment plus the plugin's `env`, and `KUBERNETES_EXEC_INFO` holding an
/// `ExecCredential` request (not interactive: there is no terminal; the cluster when
/// `provideClusterInfo`). Its answer is kept until its `expirationTimestamp` and asked again
/// then, or when the server refuses it (`invalidate`). A plugin that cannot run, fails, or prints
/// anything but an ExecCredential of its version is an error naming it.
final class ExecCredentials: Sendable {
    let config: ExecConfig
    let cluster: JSONValue
    private let cached = Mutex<ExecCredential?>(nil)
    /// How many times the plugin ran (tests and metrics read it).
    let runs = Atomic<Int>(0)

    init(_ config: ExecConfig, cluster: JSONValue) {
        self.config = config
        self.cluster = cluster
    }

    /// The current credential: the kept one while it has not expired, else a new one.
    func credential() throws -> ExecCredential {
        if let kept = cached.withLock({ $0 }), kept.expiration.map({ $0 > Date() }) ?? true { return kept }
        let fresh = try run()
        cached.withLock { $0 = fresh }
        return fresh
    }

    /// Forgets the kept credential (the server answered 401): the next request runs the plugin.
    func invalidate() { cached.withLock { $0 = nil } }

    private func run() throws -> ExecCredential {
        let name = config.command
        if config.interactiveMode == "Always" {
            throw KubeconfigError(
                "exec plugin \(name): interactiveMode Always needs a terminal, and meshledger has none")
        }
        var spec: JSONObject = ["interactive": false]
        if config.provideClusterInfo {
            var info: JSONObject = ["server": cluster["server"] ?? .null]
            if let ca = cluster["certificate-authority-data"] { info["certificate-authority-data"] = ca }
            if let skip = cluster["insecure-skip-tls-verify"] { info["insecure-skip-tls-verify"] = skip }
            if let config = cluster[path: ["extensions"]] { info["config"] = config }
            spec["cluster"] = .object(info)
        }
        let request: JSONValue = [
            "apiVersion": .string(config.apiVersion), "kind": "ExecCredential", "spec": .object(spec),
        ]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + config.args
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in config.env { environment[key] = value }
        environment["KUBERNETES_EXEC_INFO"] = JSONText.string(request)
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw KubeconfigError(
                "exec plugin \(name): cannot run it: \(error)\(config.installHint.map { "; \($0)" } ?? "")")
        }
        // Read both before waiting (a plugin that writes much would block on a full pipe), at
        // most 1 MiB of output.
        let output = out.fileHandleForReading.readData(ofLength: 1 << 20)
        let errors = err.fileHandleForReading.readData(ofLength: 64 << 10)
        process.waitUntilExit()
        runs.add(1, ordering: .relaxed)
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            if process.terminationStatus == 127, let hint = config.installHint {
                throw KubeconfigError("exec plugin \(name): not found; \(hint)")
            }
            throw KubeconfigError("exec plugin \(name): exited with status \(process.terminationStatus): \(text)")
        }
        return try Self.parse(Array(output), plugin: name, apiVersion: config.apiVersion)
    }

    /// An ExecCredential the plugin printed, checked as client-go checks it.
    static func parse(_ bytes: [UInt8], plugin name: String, apiVersion: String) throws -> ExecCredential {
        let value: JSONValue
        do {
            value = try JSONText.parse(bytes)
        } catch {
            throw KubeconfigError("exec plugin \(name): its output is not JSON: \(error)")
        }
        guard value["kind"] == "ExecCredential", value["apiVersion"]?.stringValue == apiVersion else {
            throw KubeconfigError(
                "exec plugin \(name): its output is not an ExecCredential of \(apiVersion) (kind \(value["kind"]?.stringValue ?? "none"), apiVersion \(value["apiVersion"]?.stringValue ?? "none"))"
            )
        }
        guard let status = value["status"]?.objectValue else {
            throw KubeconfigError("exec plugin \(name): its ExecCredential has no status")
        }
        var credential = ExecCredential()
        credential.token = status["token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        credential.clientCertificate = status["clientCertificateData"]?.stringValue.map { Array($0.utf8) }
        credential.clientKey = status["clientKeyData"]?.stringValue.map { Array($0.utf8) }
        if (credential.clientCertificate == nil) != (credential.clientKey == nil) {
            throw KubeconfigError("exec plugin \(name): a client certificate needs its key, and a key its certificate")
        }
        if credential.token == nil && credential.clientCertificate == nil {
            throw KubeconfigError(
                "exec plugin \(name): its ExecCredential has neither a token nor a client certificate")
        }
        if let text = status["expirationTimestamp"]?.stringValue {
            guard let time = RFC3339.parse(text) else {
                throw KubeconfigError("exec plugin \(name): expirationTimestamp \(text) is not an RFC 3339 time")
            }
            credential.expiration = Date(timeIntervalSince1970: Double(time.microseconds) / 1_000_000)
        }
        return credential
    }
}
