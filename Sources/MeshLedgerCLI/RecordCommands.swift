import ArgumentParser
import EventLog
import Foundation
import Logging
import MeshLedger
import MeshLedgerRecord
import MeshModel

extension MeshLedgerCommand {
    /// `record`: follow a Kubernetes API server into the store.
    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a live Kubernetes API server (a management cluster) into the store, like an informer.",
            discussion: """
                For each kind: list (recorded as a relist: objects no longer there are deleted in the same \
                batch), then watch from the list's resourceVersion with bookmarks, each arrival one batch. A \
                dropped watch resumes from the last resourceVersion; 410 Gone or a malformed event lists again. \
                Discovery kinds are recorded as discovery, the others as user, by record:<context>; the \
                object's last field manager is kept with it, and a VirtualDestination's status (written by \
                the cluster's controller) is kept as an observation: see `meshledger drift`. Retries with \
                exponential backoff and jitter; stops on SIGTERM or SIGINT with nothing half-written; a \
                restart lists again and records nothing twice. The kubeconfig's user needs get, list and \
                watch on the five resources.
                """)

        @OptionGroup var global: GlobalOptions
        @Option(
            help: ArgumentHelp(
                "The kubeconfig (default: the files of $KUBECONFIG merged, else ~/.kube/config, else the pod's service account inside a cluster).",
                valueName: "file"))
        var kubeconfig: String?
        @Option(help: ArgumentHelp("The kubeconfig context (default: its current-context).", valueName: "name"))
        var context: String?
        @Option(
            help: ArgumentHelp(
                "The kinds to record, comma-separated (default: all five).", valueName: "kind,..."))
        var kinds: String?
        @Option(name: .shortAndLong, help: "Only this namespace (default: all namespaces).") var namespace: String?
        @Option(
            help: ArgumentHelp(
                "Serve Prometheus metrics on /metrics at this address (port 0: any free port).", valueName: "host:port")
        )
        var metricsListen: String?
        @Option(help: "How long one watch request lasts before it is renewed, in seconds.")
        var watchTimeoutSeconds = 300
        @Option(
            help: ArgumentHelp(
                "A snapshot every this many events recorded (0: none). Default: as serve's --snapshot-every.",
                valueName: "events")) var snapshotEvery: UInt64?

        func run() throws {
            let resolved: KubeconfigContext
            do {
                resolved = try KubeconfigContext.resolve(
                    kubeconfig: kubeconfig, context: context, environment: ProcessInfo.processInfo.environment,
                    home: NSHomeDirectory())
            } catch let error as KubeconfigError {
                throw CLIError(error.message)
            }
            var configuration = RecorderConfiguration()
            configuration.namespace = namespace
            configuration.watchTimeoutSeconds = watchTimeoutSeconds
            configuration.snapshotInterval = snapshotEvery ?? snapshotInterval()
            if let kinds {
                let named = try kinds.split(separator: ",").map { try ResourceKind.named(String($0)) }
                if let other = named.first(where: { $0 == .syncResult }) {
                    throw CLIError("record takes the five input kinds, not \(other.plural)")
                }
                configuration.kinds = configuration.kinds.filter(named.contains)
            }
            let metricsAt = try metricsListen.map { try hostAndPort($0, flag: "--metrics-listen") }
            let store = try global.openForWriting()
            let logger = Logger(label: "meshledger.record")
            let recorder = try Recorder(store: store, context: resolved, configuration: configuration, logger: logger)
            try waitFor("record") {
                try await recorder.runUntilSignalled(metricsAt: metricsAt) { address in
                    FileHandle.standardOutput.write(Data("metrics on \(address)\n".utf8))
                }
            }
        }
    }

    /// `drift`: where the cluster's controller and the rules disagree.
    struct Drift: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "List the VirtualDestinations whose recorded status (written by the cluster's controller) differs from the derived one.",
            discussion: """
                Compares the overall state, the state on each mesh, the errors and the selected destinations, \
                with the sequence since when they disagree. Statuses are recorded by `record` and `ingest`.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var time: PointInTime
        @Option(name: .shortAndLong, help: "Output format: table or json.") var output = "table"

        func run() throws {
            guard ["table", "json"].contains(output) else { throw CLIError("-o \(output): expected table or json") }
            let store = try global.openForReading()
            let drifts = try store.drift(at: time.sequence(in: store))
            if output == "json" {
                print(JSONText.string(.array(drifts.map(\.json)), pretty: true))
                return
            }
            if drifts.isEmpty {
                FileHandle.standardError.write(
                    Data("No drift: every recorded status agrees with the derived one.\n".utf8))
                return
            }
            var table = Table(headers: ["NAMESPACE", "NAME", "SINCE", "RECORDED", "DERIVED", "WHAT DIFFERS"])
            for drift in drifts {
                let since = try store.log.event(at: drift.since).map { "seq \(drift.since) (\($0.recordedAt))" }
                for (i, line) in drift.differences.enumerated() {
                    table.add(
                        i == 0
                            ? [
                                drift.virtualDestination.namespace, drift.virtualDestination.name,
                                since ?? "seq \(drift.since)", drift.recorded["state"]?.stringValue ?? "-",
                                drift.derived["state"]?.stringValue ?? "-", line,
                            ]
                            : ["", "", "", "", "", line])
                }
            }
            print(table.render(), terminator: "")
        }
    }
}
