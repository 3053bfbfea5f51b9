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
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_append_latency_seconds", unitName: "",
                helpText: "Time from an append request's arrival to its commit."),
            buckets: [
                .microseconds(200), .milliseconds(1), .milliseconds(5), .milliseconds(20), .milliseconds(100),
                .seconds(1),
            ])
        batchSize = registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_commit_requests", unitName: "",
                helpText: "Append requests per write transaction (group commit)."),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256])
        head = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_head", unitName: "", helpText: "The log's head sequence."))
        watchers = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_watchers", unitName: "", helpText: "Open watch streams."))
        etcdLatency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_etcd_request_seconds", unitName: "",
                helpText: "Time of each request to etcd (replicated stores)."),
            buckets: [
                .milliseconds(1), .milliseconds(5), .milliseconds(20), .milliseconds(100), .seconds(1), .seconds(5),
            ])
        replicationLag = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_replication_lag", unitName: "",
                helpText: "Events etcd has that this replica has not applied yet."))
        elections = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_replication_elections", unitName: "",
                helpText: "Times this replica was elected the writer."))
        snapshot = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "meshledger_snapshot_sequence", unitName: "",
                helpText: "The sequence of the newest snapshot this server took."))
        var counters: [ResourceKind: Counter] = [:]
        for kind in ResourceKind.allCases {
            counters[kind] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "meshledger_events_total", unitName: "", helpText: "Events folded, by kind."),
                labels: [("kind", kind.rawValue)])
        }
        eventCounters = counters
    }

    func events(_ kind: ResourceKind) -> Counter { eventCounters[kind]! }
}
