import Hummingbird
import MeshModel
public import Prometheus
public import ServiceLifecycle
import Synchronization

/// The recorder's Prometheus metrics: events recorded per kind, relists, watch restarts, bad
/// input, and how far each kind's watch is behind the newest resourceVersion seen.
public final class RecorderMetrics: Sendable {
    /// The registry `/metrics` emits.
    public let registry = PrometheusCollectorRegistry()
    let head: Gauge
    /// The newest snapshot's sequence (the writer's policy, as `serve`'s).
    let snapshot: Gauge
    private let recordedCounters: [ResourceKind: Counter]
    private let relistCounters: [ResourceKind: Counter]
    private let restartCounters: [ResourceKind: Counter]
    private let lagGauges: [ResourceKind: Gauge]
    private let badCounters: [String: Counter]
    /// The newest resourceVersion seen on any stream, and each kind's.
    private let versions = Mutex<(newest: UInt64, byKind: [ResourceKind: UInt64])>((0, [:]))

    init() {
        head = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_record_head", unitName: "", helpText: "The recording store's head sequence."))
        snapshot = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_record_snapshot_sequence", unitName: "",
                helpText: "The sequence of the recording store's newest snapshot."))
        var recorded: [ResourceKind: Counter] = [:]
        var relists: [ResourceKind: Counter] = [:]
        var restarts: [ResourceKind: Counter] = [:]
        var lags: [ResourceKind: Gauge] = [:]
        for kind in ResourceKind.allCases where kind != .syncResult {
            let labels = [("kind", kind.rawValue)]
            recorded[kind] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "meshledger_record_events_total", unitName: "", helpText: "Events recorded, by kind."),
                labels: labels)
            relists[kind] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "meshledger_record_relists_total", unitName: "",
                    helpText: "Lists recorded as a relist, by kind."), labels: labels)
            restarts[kind] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "meshledger_record_watch_restarts_total", unitName: "",
                    helpText: "Watches reconnected after an error, by kind."), labels: labels)
            lags[kind] = registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "meshledger_record_lag", unitName: "",
                    helpText:
                        "The newest resourceVersion seen on any stream minus the kind's last one (numeric versions)."),
                labels: labels)
        }
        var bad: [String: Counter] = [:]
        for reason in ["malformed", "unknown_kind", "invalid_object", "truncated"] {
            bad[reason] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "meshledger_record_bad_input_total", unitName: "",
                    helpText: "Bad input from the server, reported and skipped or retried, by reason."),
                labels: [("reason", reason)])
        }
        recordedCounters = recorded
        relistCounters = relists
        restartCounters = restarts
        lagGauges = lags
        badCounters = bad
    }

    func recorded(_ kind: ResourceKind) { recordedCounters[kind]?.increment() }
    func relisted(_ kind: ResourceKind) { relistCounters[kind]?.increment() }
    func watchRestarted(_ kind: ResourceKind) { restartCounters[kind]?.increment() }
    func badEvent(_ reason: String) { badCounters[reason]?.increment() }

    /// A kind reached `resourceVersion` (an event, a bookmark or a list): updates every lag.
    func observe(_ kind: ResourceKind, resourceVersion: String) {
        guard let version = UInt64(resourceVersion) else { return }
        let lags = versions.withLock { state in
            state.newest = max(state.newest, version)
            state.byKind[kind] = version
            return state.byKind.mapValues { state.newest - $0 }
        }
        for (kind, lag) in lags { lagGauges[kind]?.set(Int64(lag)) }
    }

    /// A service answering `GET /metrics` on `host:port`; `onListening` gets the address bound.
    public func server(
        host: String, port: Int, onListening: @escaping @Sendable (String) -> Void
    ) -> some Service {
        let router = Router()
        let registry = self.registry
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: registry.emitToString())))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "meshledger-record"),
            onServerRunning: { channel in
                onListening(channel.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? 0)" } ?? "?")
            })
    }
}
