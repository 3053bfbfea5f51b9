import Foundation
import MeshLedgerTesting
import Testing

/// What `meshledger serve` and the store refuse or protect: TLS versions and cipher suites, file
/// modes, credential files others can read, a policy nobody could be told apart by.
@Suite struct SecurityTests {
    /// A `meshledger serve` run until it listens or exits (20 s at most), then stopped by its
    /// process id: whether it listened, its exit status, and what it printed.
    struct ServeRun {
        var listened = false
        var status: Int32 = 0
        var stdout = ""
        var stderr = ""
    }

    func serveOnce(_ arguments: [String]) throws -> ServeRun {
        let process = makeProcess(
            meshledgerBinary,
            ["serve", "--store", temporaryDirectory() + "/store", "--listen", "127.0.0.1:0"] + arguments)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let output = Output()
        out.fileHandleForReading.readabilityHandler = { output.append(stdout: $0.availableData) }
        err.fileHandleForReading.readabilityHandler = { output.append(stderr: $0.availableData) }
        try process.run()
        var run = ServeRun()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline {
            if output.text.stdout.contains("listening on ") {
                run.listened = true
                break
            }
            usleep(20_000)
        }
        if process.isRunning { process.interrupt() }
        process.waitUntilExit()
        usleep(100_000)
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        run.status = process.terminationStatus
        (run.stdout, run.stderr) = output.text
        return run
    }

    /// Output read by the pipes' handlers.
    final class Output: @unchecked Sendable {
        // @unchecked Sendable: every access holds the lock.
        private let lock = NSLock()
        private var out = Data()
        private var err = Data()
        func append(stdout data: Data) { lock.withLock { out += data } }
        func append(stderr data: Data) { lock.withLock { err += data } }
        var text: (stdout: String, stderr: String) {
            lock.withLock { (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self)) }
        }
    }

    func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int) & 0o777
    }

    @Test func aPolicyWithoutAuthenticationIsRefused() throws {
        let directory = temporaryDirectory()
        let policy = directory + "/policy.jsonl"
        try
            #"{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "alice", "nonResourcePath": "*"}}"#
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let refused = try serveOnce(["--authorization-policy-file", policy])
        #expect(!refused.listened && refused.status != 0)
        #expect(
            refused.stderr.contains("--authorization-policy-file \(policy) needs authentication"), "\(refused.stderr)")
        // With authentication it starts.
        let tokens = directory + "/tokens.csv"
        try "alice-token,alice,1\n".write(toFile: tokens, atomically: true, encoding: .utf8)
        let started = try serveOnce(["--authorization-policy-file", policy, "--token-auth-file", tokens])
        #expect(started.listened, "\(started.stderr)")
    }

    @Test func credentialFilesOthersCanReadAreWarnedAbout() throws {
        let directory = temporaryDirectory()
        let tokens = directory + "/tokens.csv"
        let single = directory + "/token"
        try "alice-token,alice,1\n".write(toFile: tokens, atomically: true, encoding: .utf8)
        try "s3cret\n".write(toFile: single, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: tokens)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: single)
        let warned = try serveOnce(["--token-auth-file", tokens, "--token-file", single])
        #expect(warned.listened, "\(warned.stderr)")
        let lines = warned.stderr.split(separator: "\n")
        #expect(
            lines.contains { $0.hasPrefix("warning: \(tokens) (--token-auth-file) is accessible by group or others") })
        #expect(lines.contains { $0.hasPrefix("warning: \(single) (--token-file) is accessible by group or others") })
        // Mode 0600: no warning.
        for file in [tokens, single] {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
        let quiet = try serveOnce(["--token-auth-file", tokens, "--token-file", single])
        #expect(quiet.listened && !quiet.stderr.contains("accessible by group"), "\(quiet.stderr)")
    }

    @Test func theStoreAndItsBackupAreTheOwnersAlone() throws {
        let directory = temporaryDirectory()
        let store = directory + "/store"
        let discovered = try meshledger([
            "discover", "--store", store, "--agent", "agent-cluster-1", "-f",
            "\(packageRoot)/Examples/fleet/discovery/cluster-1.yaml",
        ])
        #expect(discovered.status == 0, "\(discovered.stderr)")
        #expect(try mode(store) == 0o700)
        #expect(try mode(store + "/data.mdb") == 0o600)
        #expect(try mode(store + "/lock.mdb") == 0o600)
        let backup = directory + "/backup"
        let copied = try meshledger(["backup", "--store", store, backup])
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(try mode(backup) == 0o700)
        #expect(try mode(backup + "/data.mdb") == 0o600)
    }

    @Test func tlsServesOnlyTLS12AndLaterWithForwardSecretSuites() throws {
        let certificates = try TestCertificates()
        let server = try ServerProcess(
            store: temporaryDirectory() + "/store",
            arguments: [
                "--tls-cert-file", certificates.serverCertificate, "--tls-private-key-file", certificates.serverKey,
            ])
        defer { server.stop() }
        func handshake(_ options: [String]) throws -> Bool {
            let result = try runProgram(
                "openssl",
                ["s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", certificates.caCertificate] + options,
                stdin: Data())
            return result.status == 0
        }
        // The client's own security level would refuse these first: lower it, so the server decides.
        #expect(try !handshake(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]))
        #expect(try !handshake(["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]))
        #expect(try !handshake(["-tls1_2", "-cipher", "AES128-SHA@SECLEVEL=0"]))
        #expect(try !handshake(["-tls1_2", "-cipher", "AES256-GCM-SHA384@SECLEVEL=0"]))
        #expect(try handshake(["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]))
        #expect(try handshake(["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"]))
        #expect(try handshake(["-tls1_3"]))
    }
}
