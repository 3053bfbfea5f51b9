import MeshModel
import Prometheus

/// The server's Prometheus metrics.
final class Metrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let appendLatency: DurationHistogram
    let batchSize: ValueHistogram
    let head: Gauge
    let watchers: Gauge
    let etcdLatency: DurationHistogram
    let replicationLag: Gauge
    let elections: Gauge
    let snapshot: Gauge
    private let eventCounters: [ResourceKind: Counter]

    init() {
        appendLatency = registry.makeDurationHistogram(
            name: "meshledger_append_latency_seconds",
            buckets: [
                .microseconds(200), .milliseconds(1), .milliseconds(5), .milliseconds(20), .milliseconds(100),
                .seconds(1),
            ],
            help: "Time from an append request's arrival to its commit.")
        batchSize = registry.makeValueHistogram(
            name: "meshledger_commit_requests", buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
            help: "Append requests per write transaction (group commit).")
        head = registry.makeGauge(name: "meshledger_head", help: "The log's head sequence.")
        watchers = registry.makeGauge(name: "meshledger_watchers", help: "Open watch streams.")
        etcdLatency = registry.makeDurationHistogram(
            name: "meshledger_etcd_request_seconds",
            buckets: [
                .milliseconds(1), .milliseconds(5), .milliseconds(20), .milliseconds(100), .seconds(1), .seconds(5),
            ],
            help: "Time of each request to etcd (replicated stores).")
        replicationLag = registry.makeGauge(
            name: "meshledger_replication_lag", help: "Events etcd has that this replica has not applied yet.")
        elections = registry.makeGauge(
            name: "meshledger_replication_elections", help: "Times this replica was elected the writer.")
        snapshot = registry.makeGauge(
            name: "meshledger_snapshot_sequence", help: "The sequence of the newest snapshot this server took.")
        var counters: [ResourceKind: Counter] = [:]
        for kind in ResourceKind.allCases {
            counters[kind] = registry.makeCounter(
                name: "meshledger_events_total", labels: [("kind", kind.rawValue)], help: "Events folded, by kind.")
        }
        eventCounters = counters
    }

    func events(_ kind: ResourceKind) -> Counter { eventCounters[kind]! }
}
