import ArgumentParser
import EventLog
import Foundation
import MeshLedger
import MeshModel

/// Options of commands that append: input files and a head precondition.
struct AppendOptions: ParsableArguments {
    @Option(
        name: .shortAndLong,
        help: ArgumentHelp("A manifest file, a directory of them, or - for stdin (repeatable).", valueName: "file"))
    var filename: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Append only if the log's head is this sequence (else exit 3, nothing appended).", valueName: "seq"))
    var expectHead: UInt64?
}

/// Appends through the store's writer (a due snapshot is taken after the append committed) and
/// prints what it did.
func append(_ batch: Batch, to store: Store) throws {
    let (result, snapshot) = try Writer(store: store, snapshotInterval: snapshotInterval()).append(batch)
    report(result)
    if let snapshot { FileHandle.standardError.write(Data("snapshot taken at seq \(snapshot.sequence)\n".utf8)) }
}

/// Prints what an append did, kubectl style, then the sequence range.
func report(_ result: AppendResult) {
    var out = ""
    for (key, outcome, sequence) in result.outcomes {
        let what = outcome == .notFound ? "not found (skipped)" : outcome.rawValue
        let at = sequence.map { ", seq \($0)" } ?? ""
        out += "\(key.kind.qualifiedName)/\(key.name) \(what) (namespace \(key.namespace)\(at))\n"
    }
    if let range = result.range {
        let count = range.upperBound - range.lowerBound + 1
        let span = count == 1 ? "seq \(range.lowerBound)" : "seq \(range.lowerBound)-\(range.upperBound)"
        out += "appended \(count) event\(count == 1 ? "" : "s"): \(span) (head \(result.head))\n"
    } else {
        out += "no changes (head \(result.head))\n"
    }
    // Written straight to the file descriptor, so that `ingest --follow` reports each commit
    // as it happens even when stdout is a pipe.
    FileHandle.standardOutput.write(Data(out.utf8))
}

extension MeshLedgerCommand {
    /// `apply -f FILE`: user objects, one atomic batch.
    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create or update user objects (VirtualMesh, TrafficPolicy, VirtualDestination) as one atomic batch.",
            discussion:
                "A metadata.resourceVersion in a manifest is a precondition: the object's last change must be at that sequence."
        )

        @OptionGroup var global: GlobalOptions
        @OptionGroup var input: AppendOptions
        @Option(help: "Who is applying (default: the login name).") var actor: String?
        @Option(
            name: .customLong("validate"),
            help: ArgumentHelp(
                "Fields the kind's schema does not declare: strict refuses the apply, warn drops them with a warning, ignore drops them (kubectl's --validate).",
                valueName: "strict|warn|ignore"))
        var validation = "strict"

        func validate() throws {
            if FieldValidation(parameter: validation) == nil {
                throw ValidationError("--validate \(validation): expected strict, warn or ignore")
            }
        }

        func run() throws {
            let store = try global.openForWriting()
            let (manifests, warnings) = try store.validated(
                try readManifests(input.filename), FieldValidation(parameter: validation) ?? .strict)
            for warning in warnings { FileHandle.standardError.write(Data("Warning: \(warning)\n".utf8)) }
            let batch = try Batch.apply(manifests, actor: actor ?? defaultActor(), expectedHead: input.expectHead)
            try append(batch, to: store)
        }
    }

    /// `delete -f FILE` or `delete KIND NAME -n NS`.
    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete objects named in files, or one object by kind and name, as one atomic batch.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var input: AppendOptions
        @Argument(
            help: ArgumentHelp(
                "The kind, as kubectl spells it (virtualdestination, vd, trafficpolicy, ...).", valueName: "kind"))
        var kind: String?
        @Argument(help: ArgumentHelp("The object's name (several allowed).", valueName: "name")) var names: [String] =
            []
        @Option(name: .shortAndLong, help: "The namespace of KIND NAME.") var namespace = "default"
        @Option(help: "Who is deleting (default: the login name).") var actor: String?
        @Flag(help: "Treat a missing object as deleted instead of failing.") var ignoreNotFound = false

        func validate() throws {
            if input.filename.isEmpty && kind == nil { throw ValidationError("give -f FILE or KIND NAME") }
            if !input.filename.isEmpty && kind != nil {
                throw ValidationError("give either -f FILE or KIND NAME, not both")
            }
            if kind != nil && names.isEmpty { throw ValidationError("give the NAME of the \(kind!) to delete") }
        }

        func run() throws {
            var targets: [Batch.DeleteTarget] = []
            if let kind {
                let resource = try ResourceKind.named(kind)
                targets = names.map { Batch.DeleteTarget(ObjectKey(kind: resource, namespace: namespace, name: $0)) }
            } else {
                targets = try readManifests(input.filename).map(Batch.DeleteTarget.init)
            }
            let batch = try Batch.delete(
                targets, actor: actor ?? defaultActor(), ignoreNotFound: ignoreNotFound, expectedHead: input.expectHead)
            let store = try global.openForWriting()
            try append(batch, to: store)
        }
    }

    /// `discover -f FILE [--resync --cluster C]`.
    struct Discover: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record what a discovery agent reports (Destination, Mesh) as one atomic batch.",
            discussion:
                "With --resync --cluster C the file is everything cluster C has now: its discovered objects not in the file are deleted in the same batch."
        )

        @OptionGroup var global: GlobalOptions
        @OptionGroup var input: AppendOptions
        @Option(help: "The reporting agent's id.") var agent = "discovery"
        @Flag(help: "A full resync of one cluster (needs --cluster).") var resync = false
        @Option(help: "The cluster being resynced.") var cluster: String?

        func validate() throws {
            if resync && cluster == nil { throw ValidationError("--resync needs --cluster C") }
            if cluster != nil && !resync { throw ValidationError("--cluster goes with --resync") }
        }

        func run() throws {
            let manifests = try readManifests(input.filename)
            let store = try global.openForWriting()
            let batch = try Batch.discover(
                manifests, agent: agent, resyncCluster: cluster, expectedHead: input.expectHead)
            try append(batch, to: store)
        }
    }

    /// `ingest -f FILE`: a Kubernetes watch-event stream.
    struct Ingest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Record a Kubernetes watch-event stream (kubectl get -w -o json --output-watch-events) as one atomic batch.",
            discussion:
                "ADDED and MODIFIED upsert, DELETED deletes (an object already gone is skipped), BOOKMARK is ignored. The source of each event follows its kind."
        )

        @OptionGroup var global: GlobalOptions
        @Option(
            name: .shortAndLong,
            help: ArgumentHelp("The watch stream file, or - for stdin (repeatable).", valueName: "file"))
        var filename: [String] = []
        @Option(help: "Who recorded the stream.") var actor = "watch"
        @Flag(
            help: """
                Follow a stream that does not end (kubectl get -w ... | meshledger ingest --follow -f -): \
                commit the complete events of each arrival as one batch, until the input closes.
                """)
        var follow = false

        func validate() throws {
            if follow && filename != ["-"] { throw ValidationError("--follow reads standard input: give -f -") }
        }

        func run() throws {
            if follow { return try followStandardInput() }
            let events = try readInputs(filename).flatMap { try ManifestReader.watchEvents($0.bytes, name: $0.name) }
            let store = try global.openForWriting()
            try append(Batch.ingest(events, actor: actor), to: store)
        }

        /// Reads standard input as it arrives; every read's complete events are one atomic batch.
        /// A bad event stops the command (what came before it stays committed, as reported).
        func followStandardInput() throws {
            let store = try global.openForWriting()
            var buffer: [UInt8] = []
            var count = 0
            while true {
                let chunk = FileHandle.standardInput.availableData
                if chunk.isEmpty { break }
                buffer += chunk
                let parsed: (values: [JSONValue], consumed: Int)
                do {
                    parsed = try JSONText.parseCompleteValues(buffer)
                } catch {
                    throw CLIError("stdin: invalid JSON in watch stream after event \(count): \(error)")
                }
                guard !parsed.values.isEmpty else { continue }
                buffer.removeFirst(parsed.consumed)
                var events: [ManifestReader.WatchEvent] = []
                for value in parsed.values {
                    count += 1
                    events.append(try ManifestReader.watchEvent(value, location: "stdin: watch event \(count)"))
                }
                try append(Batch.ingest(events, actor: actor), to: store)
            }
            if !JSONText.isBlank(buffer) {
                throw CLIError(
                    "stdin: the stream ended inside watch event \(count + 1) (truncated); it was not recorded")
            }
        }
    }
}
