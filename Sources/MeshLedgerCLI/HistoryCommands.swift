import ArgumentParser
import EventLog
import Foundation
import MeshLedger
import MeshModel
import Projection

/// The snapshot interval for automatic snapshots: `$MESHLEDGER_SNAPSHOT_EVERY`, else nil (the
/// default policy, `Store.automaticSnapshotInterval`).
func snapshotInterval() -> UInt64? {
    ProcessInfo.processInfo.environment["MESHLEDGER_SNAPSHOT_EVERY"].flatMap { UInt64($0) }
}

/// Resolves `SEQ|TIME` to a sequence.
func sequence(_ text: String, flag: String, in store: Store) throws -> UInt64 {
    try store.sequence(atPoint: text, named: flag)
}

extension MeshLedgerCommand {
    /// `snapshot create|list|prune`.
    struct Snapshot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Manage snapshots of the derived state (taken automatically every $MESHLEDGER_SNAPSHOT_EVERY events; by default every 500, or every as many events as there are live objects when more).",
            subcommands: [Create.self, List.self, Prune.self])

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Take a snapshot at the head (or --at SEQ).")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var time: PointInTime

            func run() throws {
                let store = try global.openForWriting()
                let info = try store.createSnapshot(at: time.sequence(in: store))
                print(
                    "snapshot at seq \(info.sequence): format \(info.format), \(info.size) bytes, digest \(info.digest.hex.prefix(16))"
                )
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List snapshots: sequence, format, size, digest (or how much of it is recorded), usable.")
            @OptionGroup var global: GlobalOptions

            func run() throws {
                let store = try global.openForReading()
                var table = Table(headers: ["SEQ", "FORMAT", "BYTES", "DIGEST", "USABLE"])
                for info in try store.log.snapshotInfos() {
                    let usable = !info.intact ? "no (altered)" : !info.isUsable ? "no (format)" : "yes"
                    // A snapshot that records only some contributions claims their sum, not the state
                    // digest. Payloads are read one at a time: a store keeps every snapshot.
                    var digest = String(info.digest.hex.prefix(16))
                    if info.intact,
                        let payload = try store.log.snapshots(atOrBefore: info.sequence, limit: 1).first?.payload,
                        let counts = Projection.recordedContributions(in: payload), counts.recorded < counts.of
                    {
                        digest = "partial (\(counts.recorded) of \(counts.of) recorded)"
                    }
                    table.add([String(info.sequence), String(info.format), String(info.size), digest, usable])
                }
                if table.isEmpty {
                    FileHandle.standardError.write(Data("No snapshots.\n".utf8))
                } else {
                    print(table.render(), terminator: "")
                }
            }
        }

        struct Prune: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete all but the newest --keep snapshots.")
            @OptionGroup var global: GlobalOptions
            @Option(help: "How many of the newest to keep.") var keep = 2

            func run() throws {
                let store = try global.openForWriting()
                let deleted = try store.pruneSnapshots(keep: keep)
                print(
                    deleted.isEmpty
                        ? "nothing to prune"
                        : "deleted snapshots at seq \(deleted.map(String.init).joined(separator: ", "))")
            }
        }
    }

    /// `history virtualdestination NAME -n NS`.
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every transition of a VirtualDestination's derived status, each with the event that caused it.",
            discussion: "The cause is the event whose fold changed the status, even when it changed another object.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("virtualdestination (or vd).", valueName: "kind")) var kind: String
        @Argument(help: ArgumentHelp("Its name.", valueName: "name")) var name: String
        @Option(name: .shortAndLong, help: "Its namespace.") var namespace = "default"
        @Option(help: ArgumentHelp("From this sequence or time.", valueName: "seq|time")) var since: String?
        @Option(help: ArgumentHelp("Up to this sequence or time.", valueName: "seq|time")) var until: String?
        @Option(name: .shortAndLong, help: "table or json.") var output: String = "table"
        @Option(
            help: ArgumentHelp(
                "Also write a self-contained HTML page (a swimlane per mesh) to this file.", valueName: "file"))
        var html: String?

        func run() throws {
            guard try ResourceKind.named(kind) == .virtualDestination else {
                throw CLIError("history takes a virtualdestination")
            }
            guard ["table", "json"].contains(output) else {
                throw CLIError("unknown output format \"\(output)\" (table or json)")
            }
            let store = try global.openForReading()
            let from = try since.map { try sequence($0, flag: "--since", in: store) } ?? 1
            let to = try until.map { try sequence($0, flag: "--until", in: store) }
            let progress = Progress(label: "replaying")
            let ref = ObjectRef(name: name, namespace: namespace)
            let transitions = try store.history(of: ref, since: from, until: to) { progress.update($0, of: $1) }
            progress.finish()
            if let html {
                let page = HistoryPage.render(name: "\(namespace)/\(name)", transitions: transitions)
                try page.write(toFile: html, atomically: true, encoding: .utf8)
                FileHandle.standardError.write(Data("wrote \(html)\n".utf8))
            }
            if output == "json" {
                print(JSONText.string(.array(transitions.map(\.json)), pretty: true))
                return
            }
            if transitions.isEmpty {
                FileHandle.standardError.write(
                    Data("No status transitions for virtualdestination \(namespace)/\(name) in that range.\n".utf8))
                return
            }
            var table = Table(headers: ["SEQ", "RECORDED", "SOURCE", "ACTOR", "CAUSE", "STATE", "WHAT CHANGED"])
            for t in transitions {
                let cause =
                    "\(t.cause.change.rawValue) \(t.cause.key.kind.rawValue) \(t.cause.key.namespace)/\(t.cause.key.name)"
                let lines = t.changes.isEmpty ? [""] : t.changes
                for (i, line) in lines.enumerated() {
                    table.add(
                        i == 0
                            ? [
                                String(t.cause.sequence), t.cause.recordedAt.description, t.cause.source.rawValue,
                                t.cause.actorDescription, cause, t.after?.state ?? "(deleted)", line,
                            ]
                            : ["", "", "", "", "", "", line])
                }
            }
            print(table.render(), terminator: "")
        }
    }

    /// `diff --from A --to B`.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The difference in statuses and outputs between two points, as a unified diff of YAML.")

        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("The earlier point: a sequence or an RFC 3339 time.", valueName: "seq|time"))
        var from: String
        @Option(help: ArgumentHelp("The later point (default: the head).", valueName: "seq|time")) var to: String?
        @Option(help: "Only outputs written to this cluster.") var cluster: String?
        @Argument(help: ArgumentHelp("Optionally: virtualdestination NAME (with -n).", valueName: "kind name"))
        var target: [String] = []
        @Option(name: .shortAndLong, help: "The VirtualDestination's namespace.") var namespace = "default"

        func validate() throws {
            if !target.isEmpty && target.count != 2 {
                throw ValidationError("give virtualdestination NAME, or nothing")
            }
        }

        func run() throws {
            let store = try global.openForReading()
            var vd: ObjectRef?
            if target.count == 2 {
                guard try ResourceKind.named(target[0]) == .virtualDestination else {
                    throw CLIError("diff takes a virtualdestination")
                }
                vd = ObjectRef(name: target[1], namespace: namespace)
            }
            let a = try sequence(from, flag: "--from", in: store)
            let b = try to.map { try sequence($0, flag: "--to", in: store) } ?? store.log.head().sequence
            let old = try store.diffText(at: a, cluster: cluster, virtualDestination: vd)
            let new = try store.diffText(at: b, cluster: cluster, virtualDestination: vd)
            let diff = unifiedDiff(from: old, to: new, oldLabel: "seq \(a)", newLabel: "seq \(b)")
            if diff.isEmpty {
                FileHandle.standardError.write(Data("No differences between seq \(a) and seq \(b).\n".utf8))
            }
            print(diff, terminator: "")
        }
    }

    /// `replay [--to SEQ] [--verify]`.
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Rebuild the derived state from event 1 without snapshots; --verify checks every snapshot against it.")

        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Stop at this sequence or time.", valueName: "seq|time")) var to: String?
        @Flag(help: "Check that every stored snapshot's digest equals the replay's at its sequence.") var verify = false

        func run() throws {
            let store = try global.openForReading()
            let target = try to.map { try sequence($0, flag: "--to", in: store) }
            let progress = Progress(label: "replaying")
            let result = try store.replay(to: target, verifySnapshots: verify) { progress.update($0, of: $1) }
            progress.finish()
            print("replayed \(result.sequence) events: state digest \(result.digest.hex)")
            if verify {
                if let problem = result.snapshotProblems.first {
                    throw CLIError("snapshot at seq \(problem.sequence): \(problem.problem)")
                }
                let count = try store.log.snapshotInfos().filter { $0.sequence <= result.sequence }.count
                print("ok: \(count) snapshot\(count == 1 ? "" : "s") agree with the replay")
            }
        }
    }
}
