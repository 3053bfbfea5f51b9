import ArgumentParser
import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Testing

@testable import MeshLedgerCLI

@Suite struct ParseTests {
    @Test func commandsParseKubectlStyleArguments() throws {
        let delete = try MeshLedgerCommand.parseAsRoot([
            "delete", "vd", "reviews", "-n", "bookinfo", "--actor", "alice",
        ])
        #expect(delete is MeshLedgerCommand.Delete)
        let log = try MeshLedgerCommand.parseAsRoot(["log", "--kind", "vd", "--since", "15m", "-o", "jsonl"])
        #expect(log is MeshLedgerCommand.Log)
        #expect(throws: (any Error).self) { try MeshLedgerCommand.parseAsRoot(["discover", "--resync", "-f", "x"]) }
        #expect(throws: (any Error).self) { try MeshLedgerCommand.parseAsRoot(["delete"]) }
        #expect(throws: (any Error).self) { try MeshLedgerCommand.parseAsRoot(["log", "-o", "xml"]) }
    }

    /// Global options before the command are moved behind it; everything else stays in place.
    @Test func globalOptionsMayStandBeforeTheCommand() throws {
        #expect(MeshLedgerCommand.globalOptionsMoved(["--store", "d", "stats"]) == ["stats", "--store", "d"])
        #expect(
            MeshLedgerCommand.globalOptionsMoved(["--read-only", "--store=d", "get", "vd", "-A"])
                == ["get", "vd", "-A", "--read-only", "--store=d"])
        #expect(
            MeshLedgerCommand.globalOptionsMoved(["--store", "d", "snapshot", "list"])
                == ["snapshot", "list", "--store", "d"])
        #expect(MeshLedgerCommand.globalOptionsMoved(["stats", "--store", "d"]) == ["stats", "--store", "d"])
        #expect(
            MeshLedgerCommand.globalOptionsMoved(["--store", "d", "delete", "vd", "--", "-odd-name"])
                == ["delete", "vd", "--store", "d", "--", "-odd-name"])
        let parsed = try MeshLedgerCommand.parseAsRoot(
            MeshLedgerCommand.globalOptionsMoved(["--store", "d", "--read-only", "get", "vd", "-A"]))
        let get = try #require(parsed as? MeshLedgerCommand.Get)
        #expect(get.global.store == "d" && get.global.readOnly && get.allNamespaces)
    }
}

@Suite(.serialized) struct BinaryTests {
    /// The README's usage line: global options before or after the command.
    @Test func globalOptionsWorkBeforeAndAfterTheCommand() throws {
        let store = try seededStore()
        for arguments in [
            ["--store", store, "stats"], ["stats", "--store", store], ["--store=\(store)", "stats", "-o", "json"],
        ] {
            let result = try meshledger(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(result.stdout.contains("head"), "\(arguments): \(result.stdout)")
        }
        let readOnly = try meshledger(["--read-only", "--store", store, "get", "vd", "-A"])
        #expect(readOnly.status == 0, "\(readOnly.stderr)")
        #expect(readOnly.stdout.contains("seed"))
        let refused = try meshledger(["--read-only", "--store", store, "delete", "vd", "seed", "-n", "bookinfo"])
        #expect(refused.status == 1 && refused.stderr.contains("--read-only"))
    }

    /// A store with the example VirtualMesh and a VirtualDestination, to check that bad input
    /// leaves its head where it was.
    func seededStore() throws -> String {
        let dir = temporaryDirectory()
        let store = dir + "/store"
        let file = try write(virtualDestinationYAML("seed"), to: dir, name: "seed.yaml")
        let result = try meshledger(["apply", "--store", store, "-f", file])
        #expect(result.status == 0, "\(result.stderr)")
        return store
    }

    static let badFiles: [(file: String, command: String, mentions: String)] = [
        ("malformed.yaml", "apply", "invalid YAML"),
        ("malformed.json", "apply", "invalid JSON"),
        ("unknown-kind.yaml", "apply", "unknown kind"),
        ("wrong-apiversion.yaml", "apply", "unsupported apiVersion"),
        ("both-oneof.yaml", "apply", "mutually exclusive"),
        ("both-mesh-oneof.yaml", "apply", "mutually exclusive"),
        ("wrong-type.yaml", "apply", "expected integer"),
        ("unknown-field.yaml", "apply", #"strict decoding error: unknown field "spec.port.nmber""#),
        ("garbage.bin", "apply", "binary"),
        ("truncated-watch.json", "ingest", "truncated"),
        ("garbage.bin", "ingest", "binary"),
        ("garbage.bin", "discover", "binary"),
    ]

    @Test(arguments: badFiles)
    func badInputIsRefusedWithOneLineAndAppendsNothing(_ bad: (file: String, command: String, mentions: String)) throws
    {
        let store = try seededStore()
        let before = try head(of: store)
        let result = try meshledger([bad.command, "--store", store, "-f", "\(packageRoot)/Examples/bad/\(bad.file)"])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: "))
        #expect(result.stderr.contains(bad.mentions), "stderr: \(result.stderr)")
        #expect(try head(of: store) == before)
    }

    /// A first write creates the store's directory and any missing parent (`mkdir -p`, as etcd's
    /// `--data-dir`); a read of a missing store still says there is none.
    @Test func aFirstWriteCreatesTheStoresParents() throws {
        let store = temporaryDirectory() + "/fleet/2026/store"
        let read = try meshledger(["log", "--store", store])
        #expect(read.status != 0 && read.stderr.contains("no MeshLedger store"), "\(read.stderr)")
        let written = try meshledger(
            ["apply", "--store", store, "-f", "-"], stdin: Data(virtualDestinationYAML("a").utf8))
        #expect(written.status == 0, "\(written.stderr)")
        #expect(try meshledger(["verify", "--store", store]).stdout.hasPrefix("ok: 1 events verified"))
    }

    /// `--validate warn` drops a field the schema does not declare, with a warning; `ignore`
    /// drops it silently.
    @Test func unknownFieldsAreDroppedWithAWarningWhenAsked() throws {
        let store = try seededStore()
        let file = "\(packageRoot)/Examples/bad/unknown-field.yaml"
        let warned = try meshledger(["apply", "--store", store, "-f", file, "--validate", "warn"])
        #expect(warned.status == 0, "\(warned.stderr)")
        #expect(
            warned.stderr == "Warning: VirtualDestination bookinfo/reviews-global: unknown field \"spec.port.nmber\"\n")
        let stored = try meshledger(["get", "vd", "reviews-global", "-n", "bookinfo", "-o", "json", "--store", store])
        #expect(!stored.stdout.contains("nmber"), "\(stored.stdout)")
        let bad = try meshledger(["apply", "--store", store, "-f", file, "--validate", "maybe"])
        #expect(bad.status != 0 && bad.stderr.contains("expected strict, warn or ignore"), "\(bad.stderr)")
    }

    @Test func aHugeDocumentIsRefused() throws {
        let store = try seededStore()
        let dir = temporaryDirectory()
        let blob = String(repeating: "a", count: 5 << 20)
        let text = virtualDestinationYAML("huge").replacingOccurrences(
            of: "  namespace: bookinfo\n", with: "  namespace: bookinfo\n  annotations: {blob: \(blob)}\n")
        let file = try write(text, to: dir, name: "huge.yaml")
        let result = try meshledger(["apply", "--store", store, "-f", file])
        #expect(result.status == 1)
        #expect(result.stderr.contains("limit for one object"))
        #expect(try head(of: store) == 1)
    }

    @Test func applyLogVerifyBackupAndReadOnlyQueries() throws {
        let dir = temporaryDirectory()
        let store = dir + "/store"
        let file = try write(
            [virtualDestinationYAML("a"), virtualDestinationYAML("b")].joined(separator: "\n---\n"), to: dir,
            name: "vds.yaml")
        let first = try meshledger(["apply", "--store", store, "-f", file, "--actor", "alice"])
        #expect(first.status == 0)
        #expect(
            first.stdout.contains(
                "virtualdestination.networking.enterprise.mesh.gloo.solo.io/a created (namespace bookinfo, seq 1)"))
        #expect(first.stdout.contains("appended 2 events: seq 1-2 (head 2)"))
        let again = try meshledger(
            ["apply", "--store", store, "-f", "-"], stdin: Data(virtualDestinationYAML("a").utf8))
        #expect(again.stdout.contains("a unchanged"))
        #expect(again.stdout.contains("no changes (head 2)"))
        let edit = try meshledger(
            ["apply", "--store", store, "-f", "-", "--actor", "bob"],
            stdin: Data(virtualDestinationYAML("a", port: 9443).utf8))
        #expect(edit.stdout.contains("a configured (namespace bookinfo, seq 3)"))

        let log = try meshledger(["log", "--store", store, "--name", "a", "--kind", "vd", "-n", "bookinfo"])
        let rows = log.stdout.split(separator: "\n")
        #expect(rows.count == 3)
        #expect(rows[0].hasPrefix("SEQ"))
        #expect(rows[1].contains("alice") && rows[1].hasSuffix("upsert   1"))
        #expect(rows[2].contains("bob") && rows[2].hasSuffix("upsert   2"))
        let jsonl = try meshledger(["log", "--store", store, "--actor", "alice", "-o", "jsonl"])
        let events = jsonl.stdout.split(separator: "\n").map { try! JSONText.parse(Array($0.utf8)) }
        #expect(events.map { $0["sequence"] } == [.int(1), .int(2)])
        #expect(events[0][path: ["object", "spec", "hostname"]] == "a.global")
        let since = try meshledger(["log", "--store", store, "--since", "2", "--until", "2", "-o", "jsonl"])
        #expect(since.stdout.split(separator: "\n").count == 1)
        let none = try meshledger(["log", "--store", store, "--since", "1h", "--until", "2000-01-01T00:00:00Z"])
        #expect(none.status == 0 && none.stdout.isEmpty)

        #expect(try meshledger(["verify", "--store", store]).stdout.hasPrefix("ok: 3 events verified"))
        // The audit export of the same changes: create, then update by bob.
        let audit = try meshledger(["audit", "export", "--store", store, "--name", "a", "--level", "Request"])
        let audited = audit.stdout.split(separator: "\n").map { try! JSONText.parse(Array($0.utf8)) }
        #expect(audited.map { $0["verb"] } == ["create", "update"])
        #expect(audited.map { $0[path: ["user", "username"]] } == ["alice", "bob"])
        #expect(audited[1][path: ["requestObject", "spec", "port", "number"]] == 9443)
        // With the status changes: each of a's derived status changes after the change that caused it.
        let withStatus = try meshledger(["audit", "export", "--store", store, "--name", "a", "--with-status-changes"])
            .stdout.split(separator: "\n").map { try! JSONText.parse(Array($0.utf8)) }
        let statusChanges = withStatus.filter { $0[path: ["objectRef", "subresource"]] == "status" }
        #expect(withStatus.count > audited.count && statusChanges.count == withStatus.count - audited.count)
        #expect(withStatus[1][path: ["objectRef", "subresource"]] == "status")
        #expect(
            withStatus[1][path: ["annotations", "meshledger.dev/cause-audit-id"]] == withStatus[0]["auditID"]
                && statusChanges.allSatisfy { $0[path: ["user", "username"]] == "system:meshledger" })
        let badLevel = try meshledger(["audit", "export", "--store", store, "--level", "All"])
        #expect(badLevel.status == 1 && badLevel.stderr.contains("Metadata, Request or RequestResponse"))
        #expect(try meshledger(["reindex", "--store", store]).stdout.contains("covers 3 events"))
        let backup = dir + "/backup"
        #expect(try meshledger(["backup", "--store", store, backup]).status == 0)
        let fromBackup = try meshledger(["log", "--store", backup, "--read-only", "-o", "jsonl"])
        #expect(fromBackup.stdout == (try meshledger(["log", "--store", store, "-o", "jsonl"])).stdout)
        #expect(try meshledger(["verify", "--store", backup, "--read-only"]).status == 0)
        let refused = try meshledger(["apply", "--store", backup, "--read-only", "-f", file])
        #expect(refused.status == 1 && refused.stderr.contains("--read-only"))
        #expect(try meshledger(["backup", "--store", store, backup]).status == 1)
    }

    @Test func deletesPreconditionsAndExitCodes() throws {
        let dir = temporaryDirectory()
        let store = dir + "/store"
        let file = try write(virtualDestinationYAML("a"), to: dir, name: "a.yaml")
        #expect(try meshledger(["apply", "--store", store, "-f", file]).status == 0)
        let conflict = try meshledger(["apply", "--store", store, "-f", file, "--expect-head", "5"])
        #expect(conflict.status == 3)
        #expect(conflict.stderr.contains("expected head 5"))
        let stale = virtualDestinationYAML("a", port: 1).replacingOccurrences(
            of: "  namespace: bookinfo\n", with: "  namespace: bookinfo\n  resourceVersion: \"7\"\n")
        #expect(try meshledger(["apply", "--store", store, "-f", "-"], stdin: Data(stale.utf8)).status == 3)
        let missing = try meshledger(["delete", "--store", store, "vd", "nope", "-n", "bookinfo"])
        #expect(missing.status == 1 && missing.stderr.contains("not found"))
        #expect(
            try meshledger(["delete", "--store", store, "vd", "nope", "-n", "bookinfo", "--ignore-not-found"]).status
                == 0)
        let unknown = try meshledger(["delete", "--store", store, "gateway", "x"])
        #expect(unknown.status == 1 && unknown.stderr.contains("doesn't have a resource type \"gateway\""))
        let deleted = try meshledger(["delete", "--store", store, "virtualdestinations", "a", "-n", "bookinfo"])
        #expect(deleted.stdout.contains("a deleted (namespace bookinfo, seq 2)"))
        #expect(try head(of: store) == 2)
        let noStore = try meshledger(["log", "--store", dir + "/missing"])
        #expect(noStore.status == 1 && noStore.stderr.contains("no MeshLedger store"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing"))
    }

    @Test func theExampleFleetTellsItsStory() throws {
        let store = temporaryDirectory() + "/store"
        let fleet = packageRoot + "/Examples/fleet"
        for cluster in ["cluster-1", "cluster-2", "cluster-3"] {
            let result = try meshledger([
                "discover", "--store", store, "--agent", "agent-\(cluster)", "-f", "\(fleet)/discovery/\(cluster).yaml",
            ])
            #expect(result.status == 0, "\(result.stderr)")
        }
        #expect(
            try meshledger([
                "apply", "--store", store, "-f", "\(fleet)/user/virtualmesh.yaml", "-f",
                "\(fleet)/user/trafficpolicies.yaml", "-f", "\(fleet)/user/virtualdestinations.yaml",
            ]).status == 0)
        let resync = try meshledger([
            "discover", "--store", store, "--resync", "--cluster", "cluster-2", "-f",
            "\(fleet)/discovery/cluster-2-resync.yaml",
        ])
        #expect(resync.status == 0, "\(resync.stderr)")
        #expect(resync.stdout.contains("deleted"))
        let ingest = try meshledger(["ingest", "--store", store, "-f", "\(fleet)/watch/cluster-3-watch.json"])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let verify = try meshledger(["verify", "--store", store])
        #expect(verify.status == 0)
        let byCluster = try meshledger(["log", "--store", store, "--cluster", "cluster-2", "-o", "jsonl"])
        let clusters = Set(
            byCluster.stdout.split(separator: "\n").map { try! JSONText.parse(Array($0.utf8))["originCluster"] })
        #expect(clusters == [.string("cluster-2")])
    }
}

@Suite(.serialized) struct FleetgenTests {
    @Test func aGeneratedFleetIsIngestedByTheCLI() throws {
        let dir = temporaryDirectory()
        let fleetgen = URL(fileURLWithPath: meshledgerBinary).deletingLastPathComponent().appendingPathComponent(
            "fleetgen"
        ).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: fleetgen)
        process.arguments = [
            "--clusters", "3", "--services", "4", "--vds", "6", "--churn", "200", "-o", dir + "/fleet",
        ]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let store = dir + "/store"
        for cluster in ["cluster-1", "cluster-2", "cluster-3"] {
            let result = try meshledger(["discover", "--store", store, "-f", "\(dir)/fleet/discovery/\(cluster).yaml"])
            #expect(result.status == 0, "\(result.stderr)")
        }
        #expect(try meshledger(["apply", "--store", store, "-f", "\(dir)/fleet/user/fleet.yaml"]).status == 0)
        let ingest = try meshledger(["ingest", "--store", store, "-f", "\(dir)/fleet/watch/churn.json"])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let table = try meshledger(["get", "vd", "-A", "--store", store])
        #expect(table.stdout.split(separator: "\n").count == 7)
        #expect(table.stdout.contains("ACCEPTED"))
        // Deterministic: the same seed writes the same files.
        let again = Process()
        again.executableURL = URL(fileURLWithPath: fleetgen)
        again.arguments = ["--clusters", "3", "--services", "4", "--vds", "6", "--churn", "200", "-o", dir + "/again"]
        try again.run()
        again.waitUntilExit()
        for file in ["discovery/cluster-2.yaml", "user/fleet.yaml", "watch/churn.json"] {
            #expect(
                FileManager.default.contents(atPath: "\(dir)/fleet/\(file)")
                    == FileManager.default.contents(atPath: "\(dir)/again/\(file)"))
        }
    }
}

/// Runs a shell command; returns its exit status.
@discardableResult
func shell(_ command: String) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

/// Whether this machine lets the tests bind-mount a directory read-only (root with mount rights).
let canMountReadOnly: Bool = {
    let dir = temporaryDirectory("mountprobe")
    defer { _ = try? shell("umount '\(dir)/m'") }
    return
        (try? shell(
            "mkdir -p '\(dir)/s' '\(dir)/m' && mount --bind '\(dir)/s' '\(dir)/m' && mount -o remount,bind,ro '\(dir)/m'"
        )) == 0
}()

@Suite(.serialized) struct ReadOnlyMediaTests {
    @Test(.enabled(if: canMountReadOnly, "needs root with mount rights to make read-only media"))
    func aBackupOnReadOnlyMediaAnswersQueries() throws {
        let dir = temporaryDirectory()
        let store = dir + "/store"
        let file = try write(virtualDestinationYAML("a"), to: dir, name: "a.yaml")
        #expect(try meshledger(["apply", "--store", store, "-f", file]).status == 0)
        #expect(try meshledger(["backup", "--store", store, dir + "/copy"]).status == 0)
        try FileManager.default.createDirectory(atPath: dir + "/media", withIntermediateDirectories: true)
        #expect(try shell("mount --bind '\(dir)/copy' '\(dir)/media' && mount -o remount,bind,ro '\(dir)/media'") == 0)
        defer { _ = try? shell("umount '\(dir)/media'") }
        #expect(try shell("touch '\(dir)/media/probe'") != 0, "the medium is not read-only")
        let log = try meshledger(["log", "--store", dir + "/media", "--read-only", "-o", "jsonl"])
        #expect(log.status == 0, "\(log.stderr)")
        #expect(log.stdout.split(separator: "\n").count == 1)
        #expect(try meshledger(["verify", "--store", dir + "/media", "--read-only"]).status == 0)
        #expect(
            try meshledger(["get", "vd", "a", "-n", "bookinfo", "--store", dir + "/media", "--read-only"]).status == 0)
    }
}

@Suite(.serialized) struct FollowTests {
    /// A watch event line for a VirtualDestination.
    func event(_ type: String, _ name: String) throws -> String {
        let object = try ManifestReader.manifests(Array(virtualDestinationYAML(name).utf8), name: "x")[0].object
        return JSONText.string(["type": .string(type), "object": object])
    }

    @Test func followCommitsEachArrivalAndRefusesATruncatedTail() throws {
        let store = temporaryDirectory() + "/store"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: meshledgerBinary)
        process.arguments = ["ingest", "--follow", "-f", "-", "--store", store]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        func readLine() -> String {
            var line = ""
            while !line.hasSuffix("\n") {
                let byte = output.fileHandleForReading.readData(ofLength: 1)
                if byte.isEmpty { break }
                line += String(decoding: byte, as: UTF8.self)
            }
            return line
        }
        // First arrival: two events, and half of a third.
        let third = try event("ADDED", "c")
        input.fileHandleForWriting.write(
            Data((try event("ADDED", "a") + "\n" + event("ADDED", "b") + "\n" + third.prefix(40)).utf8))
        var lines: [String] = []
        while !(lines.last ?? "").hasPrefix("appended") { lines.append(readLine()) }
        #expect(lines.last == "appended 2 events: seq 1-2 (head 2)\n")
        #expect(try head(of: store) == 2)
        // The rest of the third, then a delete: one more batch.
        input.fileHandleForWriting.write(Data((third.dropFirst(40) + "\n" + (try event("DELETED", "a")) + "\n").utf8))
        lines = []
        while !(lines.last ?? "").hasPrefix("appended") { lines.append(readLine()) }
        #expect(lines.last == "appended 2 events: seq 3-4 (head 4)\n")
        // A truncated tail at the end of input is refused; what came before stays.
        input.fileHandleForWriting.write(Data(try event("ADDED", "d").prefix(30).utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stderr.contains("truncated"))
        #expect(try head(of: store) == 4)
    }
}
