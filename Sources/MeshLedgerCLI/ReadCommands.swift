import ArgumentParser
import EventLog
import Foundation
import MeshLedger
import MeshModel
import Projection

/// Output formats of `log`.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case jsonl
}

extension MeshLedgerCommand {
    /// `log`: audit queries.
    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Query the event log: who changed what, when.",
            discussion: """
                --since and --until take a sequence number, an RFC 3339 time \
                (2026-11-27T14:02:00Z) or a duration back from now (15m, 2h, 7d); both are inclusive.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var filters: LogFilters
        @Option(
            name: .shortAndLong, help: "Output format: table or jsonl (one JSON object per event, with the object).")
        var output: LogFormat = .table

        func run() throws {
            let query = try filters.query()
            let store = try global.openForReading()
            if !store.answersFromIndex(query) {
                FileHandle.standardError.write(
                    Data(
                        "note: this store has no audit index (written by an older version, opened read-only): the log is scanned; a writable open or `meshledger reindex` builds it\n"
                            .utf8))
            }
            var table = Table(headers: [
                "SEQ", "RECORDED", "SOURCE", "ACTOR", "CLUSTER", "KIND", "NAMESPACE", "NAME", "CHANGE", "GEN",
            ])
            let out = OutputBuffer()
            try store.query(query) { event in
                switch output {
                case .jsonl:
                    out.write(JSONText.string(EventJSON.value(of: event)) + "\n")
                case .table:
                    table.add([
                        String(event.sequence), event.recordedAt.description, event.source.rawValue,
                        event.actorDescription, event.originCluster ?? "-", event.key.kind.rawValue,
                        event.key.namespace, event.key.name,
                        event.change.rawValue, event.key.kind.hasGeneration ? String(event.generation) : "-",
                    ])
                }
                return true
            }
            if output == .table {
                if table.isEmpty {
                    FileHandle.standardError.write(Data("No events found.\n".utf8))
                } else {
                    out.write(table.render())
                }
            }
            out.flush()
        }
    }

    /// `audit export`: the log as Kubernetes audit events.
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The log for auditors' tools.", subcommands: [Export.self])

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write the changes the filters select as audit.k8s.io/v1 Events, one JSON object a line.",
                discussion: """
                    Each change is one Event at stage ResponseComplete: verb create, update or delete, \
                    the recorded identity as user (the impersonator as user and the identity as \
                    impersonatedUser when it impersonated), objectRef with resourceVersion = sequence, \
                    and MeshLedger's own fields in meshledger.dev/ annotations. --level Request adds \
                    the object as written; RequestResponse the object as stored after and before. \
                    --with-status-changes adds each derived status transition of a VirtualDestination \
                    after the change that caused it, as an update of its status subresource by \
                    system:meshledger with the cause in annotations; object filters (--kind, --name, \
                    --namespace) then select the VirtualDestinations and the others the causing changes.
                    """)

            @OptionGroup var global: GlobalOptions
            @OptionGroup var filters: LogFilters
            @Option(help: "Metadata, Request or RequestResponse.") var level: String = "Metadata"
            @Flag(help: "Add the derived status transitions, each after the change that caused it.")
            var withStatusChanges = false

            func run() throws {
                guard let level = AuditLevel(rawValue: level) else {
                    throw CLIError("--level \(level): expected Metadata, Request or RequestResponse")
                }
                let query = try filters.query()
                let store = try global.openForReading()
                let out = OutputBuffer()
                try store.auditEvents(query, level: level, statusChanges: withStatusChanges) { event in
                    out.write(JSONText.string(event) + "\n")
                    return true
                }
                out.flush()
            }
        }
    }

    /// `verify`: checksums and the hash chain.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every event's checksum and the hash chain; exit non-zero naming the first bad sequence.")

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let store = try global.openForReading()
            let progress = Progress(label: "verifying")
            let report = try store.log.verify { done, total in progress.update(done, of: total) }
            progress.finish()
            if let failure = report.failure {
                throw CLIError(
                    "verify failed at sequence \(failure.sequence): \(failure.problem) (\(report.checked) events before it are intact)"
                )
            }
            print(
                "ok: \(report.checked) events verified, hash chain intact (head \(report.checked), digest \(report.headDigest.hex.prefix(16)))"
            )
            let snapshots = try store.log.snapshotInfos()
            guard !snapshots.isEmpty else { return }
            let replayProgress = Progress(label: "checking snapshots")
            let replay = try store.replay(verifySnapshots: true) { replayProgress.update($0, of: $1) }
            replayProgress.finish()
            if let problem = replay.snapshotProblems.first {
                throw CLIError(
                    "snapshot at seq \(problem.sequence): \(problem.problem) (replays skip it; `snapshot create` writes a good one)"
                )
            }
            print("ok: \(snapshots.count) snapshot\(snapshots.count == 1 ? "" : "s") agree with a full replay")
        }
    }

    /// `reindex`: the audit index built again from the log.
    struct Reindex: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Build the audit index (actor, group, source, cluster, kind, name, namespace) again from the log.",
            discussion: """
                A store written before the index existed gains it on its first writable open; this \
                rebuilds it on demand (after `verify` names an entry that disagrees with the log). \
                The log itself is not changed.
                """)

        @OptionGroup var global: GlobalOptions

        func run() throws {
            if global.readOnly { throw CLIError("reindex writes the index, but --read-only was given") }
            let store = try Store(path: global.storePath)
            let progress = Progress(label: "indexing")
            try store.reindex { done, total in progress.update(done, of: total) }
            progress.finish()
            print("ok: the audit index covers \(try store.log.head().sequence) events")
        }
    }

    /// `backup DIR`.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a compact, consistent copy of the store into a new directory while writers run.",
            discussion: "Every read command works on the copy with --store DIR --read-only.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The new directory.", valueName: "dir")) var directory: String

        func run() throws {
            let store = try global.openForReading()
            try store.log.backup(to: directory)
            let copy = try Store(path: directory, readOnly: true)
            let (head, digest) = try copy.log.head()
            print("backup written to \(directory): head \(head), digest \(digest.hex.prefix(16))")
        }
    }

    /// `stats`.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the head, event counts by kind and source, and sizes.")

        @OptionGroup var global: GlobalOptions
        @Option(name: .shortAndLong, help: "Output format: text or json.") var output: String = "text"

        func run() throws {
            let store = try global.openForReading()
            let stats = try store.stats()
            let stateDigest = try store.project().projection.digest.hex
            if output == "json" {
                var kinds = JSONObject()
                var live = JSONObject()
                for kind in ResourceKind.allCases {
                    kinds[kind.rawValue] = .int(Int64(stats.eventsByKind[kind] ?? 0))
                    live[kind.rawValue] = .int(Int64(stats.liveObjects[kind] ?? 0))
                }
                var sources = JSONObject()
                for source in EventSource.allCases {
                    sources[source.rawValue] = .int(Int64(stats.eventsBySource[source] ?? 0))
                }
                let value: JSONValue = [
                    "head": .int(Int64(stats.head)), "headDigest": .string(stats.headDigest.hex),
                    "eventsByKind": .object(kinds), "eventsBySource": .object(sources), "liveObjects": .object(live),
                    "fileBytes": .int(Int64(stats.fileSize)), "mapBytes": .int(Int64(stats.mapSize)),
                    "usedBytes": .int(Int64(stats.usedBytes)), "stateDigest": .string(stateDigest),
                ]
                print(JSONText.string(value, pretty: true))
                return
            }
            guard output == "text" else { throw CLIError("unknown output format \"\(output)\" (text or json)") }
            print("store:       \(store.path)")
            print("head:        \(stats.head) (digest \(stats.headDigest.hex.prefix(16)))")
            print(
                "file size:   \(bytes(stats.fileSize)) (in use \(bytes(stats.usedBytes)), map \(bytes(stats.mapSize)))")
            var table = Table(headers: ["KIND", "EVENTS", "LIVE OBJECTS"])
            for kind in ResourceKind.allCases {
                table.add([kind.rawValue, String(stats.eventsByKind[kind] ?? 0), String(stats.liveObjects[kind] ?? 0)])
            }
            print("")
            print(table.render(), terminator: "")
            var sources = Table(headers: ["SOURCE", "EVENTS"])
            for source in EventSource.allCases {
                sources.add([source.rawValue, String(stats.eventsBySource[source] ?? 0)])
            }
            print("")
            print(sources.render(), terminator: "")
        }

        private func bytes(_ count: Int) -> String {
            let units = ["B", "KiB", "MiB", "GiB", "TiB"]
            var value = Double(count)
            var unit = 0
            while value >= 1024 && unit < units.count - 1 {
                value /= 1024
                unit += 1
            }
            return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
        }
    }
}

/// The filters of an audit query, as `log` and `audit export` take them.
struct LogFilters: ParsableArguments {
    @Option(help: "Only this kind (virtualdestination, vd, destination, ...).") var kind: String?
    @Option(help: "Only objects with this name.") var name: String?
    @Option(name: .shortAndLong, help: "Only this namespace.") var namespace: String?
    @Option(help: "Only events from this origin cluster.") var cluster: String?
    @Option(help: "Only this actor.") var actor: String?
    @Option(help: "Only changes by an identity in this group.") var group: String?
    @Option(help: "Only this source (discovery, user, controller).") var source: String?
    @Option(help: ArgumentHelp("From this sequence or time on.", valueName: "seq|time")) var since: String?
    @Option(help: ArgumentHelp("Up to this sequence or time.", valueName: "seq|time")) var until: String?

    func query() throws -> LogQuery {
        try LogQuery(filters: [
            "kind": kind, "name": name, "namespace": namespace, "cluster": cluster, "actor": actor,
            "group": group, "source": source, "since": since, "until": until,
        ])
    }
}
