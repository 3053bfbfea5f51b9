import AsyncHTTPClient
import EventLog
import Foundation
public import Logging
public import MeshLedger
public import MeshModel
import NIOCore
import Prometheus
public import ServiceLifecycle
import UnixSignals

/// What `meshledger record` follows, and how.
public struct RecorderConfiguration: Sendable {
    /// The kinds recorded, in the order of the first list (what selects after what it selects).
    public var kinds: [ResourceKind] = [.mesh, .destination, .virtualMesh, .trafficPolicy, .virtualDestination]
    /// Only this namespace (nil: all namespaces).
    public var namespace: String?
    /// How long one watch request lasts before it is renewed from its last resourceVersion.
    public var watchTimeoutSeconds = 300
    /// The first retry's delay; it doubles with each failure in a row, up to `maxBackoff`.
    public var initialBackoff: Duration = .milliseconds(250)
    /// The longest delay between retries.
    public var maxBackoff: Duration = .seconds(30)
    /// A snapshot every this many events (nil: the default policy, as `serve`; 0: none).
    public var snapshotInterval: UInt64?

    /// The default configuration.
    public init() {}

    /// The delay before retry `attempt` (1, 2, ...): exponential from `initialBackoff`, capped at
    /// `maxBackoff`, with jitter (half to all of it), so that many recorders do not retry in step.
    public func backoff(attempt: Int) -> Duration {
        let base = initialBackoff * (1 << min(max(attempt, 1) - 1, 16))
        return min(base, maxBackoff) * Double.random(in: 0.5...1.0)
    }
}

/// `meshledger record`: follows a Kubernetes API server the way an informer does, and records
/// every change into the store. For each kind: list (recorded as a relist: what is gone is
/// deleted), then watch from the list's resourceVersion with bookmarks, committing each arrival
/// as one batch; a dropped watch resumes from the last resourceVersion seen; 410 Gone, a
/// malformed event or any gap it cannot close lists again. Unchanged objects append nothing, so a
/// restart (which lists again) records nothing twice. Runs until cancelled or a graceful
/// shutdown; a batch is appended whole or not at all.
public final class Recorder: Service, Sendable {
    let store: Store
    let client: KubeClient
    let configuration: RecorderConfiguration
    let logger: Logger
    /// The metrics it keeps (served by `--metrics-listen`).
    public let metrics: RecorderMetrics
    let sink: RecordSink
    /// The actor recorded on every event: `record:<context>`.
    public let actor: String

    /// A recorder of the API server of `context` into `store`.
    public init(
        store: Store, context: KubeconfigContext, configuration: RecorderConfiguration = .init(),
        logger: Logger = Logger(label: "meshledger.record")
    ) throws {
        self.store = store
        self.client = try KubeClient(context)
        self.configuration = configuration
        self.logger = logger
        self.metrics = RecorderMetrics()
        self.actor = "record:\(context.name)"
        let metrics = self.metrics
        self.sink = try RecordSink(
            writer: Writer(store: store, snapshotInterval: configuration.snapshotInterval) { sequence in
                metrics.snapshot.set(Int64(sequence))
            }, metrics: metrics)
    }

    /// Records until cancelled or shut down gracefully (SIGTERM, SIGINT in a service group).
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.record() }
        } catch is CancellationError {
            // A graceful stop: every batch was appended whole or not at all.
        }
        await client.shutdown()
        let head = await sink.head()
        logger.info("recorder stopped", metadata: ["head": "\(head)"])
    }

    /// Records, with `/metrics` served at `metricsAt` when given, until SIGTERM or SIGINT (or an
    /// error): the stop is graceful, every batch appended whole or not at all.
    public func runUntilSignalled(
        metricsAt address: (host: String, port: Int)?, onMetricsListening: @escaping @Sendable (String) -> Void
    ) async throws {
        var services: [any Service] = [self]
        if let address {
            services.append(metrics.server(host: address.host, port: address.port, onListening: onMetricsListening))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The first list of every kind, then one watch loop per kind.
    func record() async throws {
        logger.info(
            "recording \(client.context.server) as \(actor)",
            metadata: ["kinds": "\(configuration.kinds.map(\.plural).joined(separator: ","))"])
        var versions: [ResourceKind: String] = [:]
        for kind in configuration.kinds {
            versions[kind] = try await relistWithRetry(kind, reason: "start")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for kind in configuration.kinds {
                let start = versions[kind]!
                group.addTask { try await self.follow(kind, from: start) }
            }
            try await group.waitForAll()
        }
    }

    // MARK: - Relist

    /// Lists a kind and records the list as a relist; returns the list's resourceVersion.
    func relist(_ kind: ResourceKind, reason: String) async throws -> String {
        let (items, version) = try await client.list(kind, namespace: configuration.namespace)
        var manifests: [Manifest] = []
        for (index, item) in items.enumerated() {
            do {
                let manifest = try Manifest(object: item)
                guard manifest.key.kind == kind else {
                    report(.otherKind(manifest, in: kind), kind, in: "item \(index + 1) of the list")
                    continue
                }
                manifests.append(manifest)
            } catch {
                report(WatchStream.Problem(error), kind, in: "item \(index + 1) of the list")
            }
        }
        let batch = try Batch.relist(kind, manifests, namespace: configuration.namespace, actor: actor)
        let result = try await sink.append(batch)
        metrics.relisted(kind)
        metrics.observe(kind, resourceVersion: version)
        let deleted = result.outcomes.filter { $0.outcome == .deleted }.count
        logger.info(
            "relisted \(kind.plural) (\(reason)): \(manifests.count) listed, \(result.events.count - deleted) recorded, \(deleted) deleted as gone",
            metadata: ["kind": "\(kind.rawValue)", "resourceVersion": "\(version)"])
        return version
    }

    /// Reports bad input from the server (one log line, one count by reason); it is skipped.
    func report(_ problem: WatchStream.Problem, _ kind: ResourceKind, in place: String) {
        metrics.badEvent(problem.reason)
        logger.error(
            "\(place) of \(kind.plural): \(problem.message); skipped", metadata: ["kind": "\(kind.rawValue)"])
    }

    /// `relist`, retried with backoff until it succeeds (or the recorder stops).
    func relistWithRetry(_ kind: ResourceKind, reason: String) async throws -> String {
        var attempt = 0
        while true {
            do {
                return try await relist(kind, reason: reason)
            } catch let error where !(error is CancellationError) {
                attempt += 1
                let delay = configuration.backoff(attempt: attempt)
                logger.warning(
                    "list of \(kind.plural) failed: \(error); retrying in \(delay)",
                    metadata: ["kind": "\(kind.rawValue)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    // MARK: - Watch

    /// Why a watch loop lists again.
    struct Relist: Error {
        let reason: String
    }

    /// Watches a kind from `version`, forever: resumes after a dropped stream, lists again when
    /// the server says the version is gone.
    func follow(_ kind: ResourceKind, from version: String) async throws {
        var version = version
        var attempt = 0
        while !Task.isCancelled {
            var stream = WatchStream(kind: kind)
            do {
                let response = try await client.watch(
                    kind, namespace: configuration.namespace, resourceVersion: version,
                    timeoutSeconds: configuration.watchTimeoutSeconds)
                attempt = 0
                for try await chunk in response.body {
                    let arrival = stream.take(Array(chunk.readableBytesView))
                    for problem in arrival.problems { report(problem, kind, in: "the watch") }
                    if !arrival.events.isEmpty {
                        _ = try await sink.append(Batch.ingest(arrival.events, actor: actor))
                    }
                    if let last = arrival.resourceVersion {
                        version = last
                        metrics.observe(kind, resourceVersion: last)
                    }
                    if let relist = arrival.relist { throw relist }
                }
                if stream.hasPartialEvent {
                    metrics.badEvent("truncated")
                    logger.warning(
                        "watch of \(kind.plural) ended inside an event (truncated); it was not recorded, resuming from \(version)",
                        metadata: ["kind": "\(kind.rawValue)"])
                } else {
                    logger.debug("watch of \(kind.plural) ended; renewing from \(version)")
                }
            } catch let relist as Relist {
                logger.warning(
                    "watch of \(kind.plural): \(relist.reason); listing again", metadata: ["kind": "\(kind.rawValue)"])
                version = try await relistWithRetry(kind, reason: relist.reason)
            } catch let error as APIStatusError where error.code == 410 {
                logger.warning(
                    "watch of \(kind.plural) from \(version): 410 Gone (\(error.message)); listing again",
                    metadata: ["kind": "\(kind.rawValue)"])
                version = try await relistWithRetry(kind, reason: "410 Gone")
            } catch let error where !(error is CancellationError) && !Task.isCancelled {
                attempt += 1
                metrics.watchRestarted(kind)
                let delay = configuration.backoff(attempt: attempt)
                if stream.hasPartialEvent {
                    metrics.badEvent("truncated")
                    logger.warning(
                        "watch of \(kind.plural) broke off inside an event (truncated); it was not recorded",
                        metadata: ["kind": "\(kind.rawValue)"])
                }
                logger.warning(
                    "watch of \(kind.plural) dropped: \(error); reconnecting in \(delay) from resourceVersion \(version)",
                    metadata: ["kind": "\(kind.rawValue)"])
                try await Task.sleep(for: delay)
            }
        }
    }

}

/// The recorder's side of the store's `Writer`: the watch loops' batches are appended one at a
/// time, and snapshots taken by the writer's policy.
actor RecordSink {
    let writer: Writer
    let metrics: RecorderMetrics

    init(writer: Writer, metrics: RecorderMetrics) {
        self.writer = writer
        self.metrics = metrics
    }

    func append(_ batch: Batch) throws -> AppendResult {
        let result = try writer.append(batch).result
        for event in result.events { metrics.recorded(event.key.kind) }
        metrics.head.set(Int64(result.head))
        return result
    }

    func head() -> UInt64 { (try? writer.store.log.head().sequence) ?? 0 }
}

/// The lines of one watch response as they arrive: complete lines become events, the rest waits
/// for the next chunk.
struct WatchStream {
    let kind: ResourceKind
    private var buffer: [UInt8] = []

    init(kind: ResourceKind) { self.kind = kind }

    /// Bad input from the server: what is reported and skipped, and its reason (the metric's label).
    struct Problem {
        let reason: String
        let message: String

        init(reason: String, message: String) {
            self.reason = reason
            self.message = message
        }

        /// An object that fails validation (of a kind MeshLedger does not take, or malformed).
        init(_ error: ManifestError) {
            self.init(reason: error.code == .unknownKind ? "unknown_kind" : "invalid_object", message: "\(error)")
        }

        /// An object of a kind MeshLedger takes, but not the kind listed or watched.
        static func otherKind(_ manifest: Manifest, in kind: ResourceKind) -> Problem {
            Problem(
                reason: "unknown_kind", message: "a \(manifest.key.kind.rawValue) \(manifest.key) among \(kind.plural)")
        }
    }

    /// What one chunk brought: the events to record (one batch), the resourceVersion reached
    /// once they are recorded, problems, and whether the kind must be listed again.
    struct Arrival {
        var events: [ManifestReader.WatchEvent] = []
        var resourceVersion: String?
        var problems: [Problem] = []
        var relist: Recorder.Relist?
    }

    /// Whether bytes of an incomplete line are left (the stream ended inside an event).
    var hasPartialEvent: Bool { !JSONText.isBlank(buffer) }

    /// Takes one chunk. A line that is not JSON, or a watch event without a readable type, ends
    /// the arrival with a relist (whatever it carried is recovered by listing again); an object
    /// of another kind or one that fails validation is reported and skipped; an ERROR event
    /// lists again on 410 and is reported otherwise.
    mutating func take(_ chunk: [UInt8]) -> Arrival {
        buffer += chunk
        var arrival = Arrival()
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(buffer[..<newline])
            buffer.removeFirst(newline + 1)
            guard !JSONText.isBlank(line) else { continue }
            guard let value = try? JSONText.parse(line), let type = value["type"]?.stringValue else {
                arrival.problems.append(
                    Problem(reason: "malformed", message: "a line that is not a watch event: \(preview(line))"))
                arrival.relist = Recorder.Relist(reason: "a malformed watch event")
                buffer = []
                return arrival
            }
            let object = value["object"] ?? .null
            switch type {
            case "ERROR":
                let error = APIStatusError(status: object) ?? APIStatusError(code: 0, message: "no Status")
                arrival.relist = Recorder.Relist(
                    reason: error.code == 410 ? "410 Gone (\(error.message))" : "ERROR \(error.code): \(error.message)")
                buffer = []
                return arrival
            case "BOOKMARK":
                if let version = object[path: ["metadata", "resourceVersion"]]?.stringValue {
                    arrival.resourceVersion = version
                }
                continue
            default:
                break
            }
            if let version = object[path: ["metadata", "resourceVersion"]]?.stringValue {
                arrival.resourceVersion = version
            }
            do {
                let event = try ManifestReader.watchEvent(value, location: "watch of \(kind.plural)")
                if let manifest = event.manifest, manifest.key.kind != kind {
                    arrival.problems.append(.otherKind(manifest, in: kind))
                    continue
                }
                arrival.events.append(event)
            } catch {
                arrival.problems.append(Problem(error))
            }
        }
        return arrival
    }

    private func preview(_ line: [UInt8]) -> String {
        let text = String(decoding: line.prefix(80), as: UTF8.self)
        return line.count > 80 ? text + "…" : text
    }
}
