import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

@testable import Projection

/// Builds events through the real event log (generation counting, no-op detection), in a fresh
/// store per call.
final class Ledger {
    let log: EventLog
    var events: [Event] = []
    private var clock: Int64 = 1_800_000_000_000_000

    init() throws {
        var options = EventLog.Options()
        options.noSync = true
        log = try EventLog.open(
            at: FileManager.default.temporaryDirectory.path + "/projection-\(UUID().uuidString)", options: options)
    }

    /// Appends upserts of the manifests in `yaml` (one batch) and returns the new events.
    @discardableResult
    func apply(_ yaml: String, actor: String = "test") throws -> [Event] {
        let manifests = try ManifestReader.manifests(Array(yaml.utf8), name: "test")
        return try append(manifests.map { Change(.upsert($0), source: $0.key.kind.source, actor: actor) })
    }

    /// A full resync of one cluster's discovered objects.
    @discardableResult
    func resync(cluster: String, _ yaml: String) throws -> [Event] {
        let manifests = try ManifestReader.manifests(Array(yaml.utf8), name: "resync")
        return try append(
            manifests.map { Change(.upsert($0), source: .discovery, actor: "agent-\(cluster)") },
            resync: Resync(cluster: cluster, kinds: [.destination, .mesh], actor: "agent-\(cluster)"))
    }

    /// A watch stream, as `ingest` records it.
    @discardableResult
    func watch(_ json: String) throws -> [Event] {
        let changes = try ManifestReader.watchEvents(Array(json.utf8), name: "watch").compactMap { event -> Change? in
            guard let manifest = event.manifest else { return nil }
            if event.type == .deleted {
                return Change(
                    .delete(manifest.key, manifest), source: manifest.key.kind.source, actor: "watch",
                    ignoreNotFound: true)
            }
            return Change(.upsert(manifest), source: manifest.key.kind.source, actor: "watch")
        }
        return try append(changes)
    }

    /// Deletes every object of the manifests in `yaml`.
    @discardableResult
    func delete(_ yaml: String) throws -> [Event] {
        let manifests = try ManifestReader.manifests(Array(yaml.utf8), name: "delete")
        return try append(manifests.map { Change(.delete($0.key, $0), source: $0.key.kind.source, actor: "test") })
    }

    /// Deletes an object.
    @discardableResult
    func delete(_ kind: ResourceKind, _ namespace: String, _ name: String) throws -> [Event] {
        try append([
            Change(
                .delete(ObjectKey(kind: kind, namespace: namespace, name: name), nil), source: kind.source,
                actor: "test")
        ])
    }

    func append(_ changes: [Change], resync: Resync? = nil) throws -> [Event] {
        clock += 1_000_000
        let time = clock
        let result = try log.append(Batch(changes, resync: resync), clock: { Timestamp(microseconds: time) })
        guard let range = result.range else { return [] }
        var new: [Event] = []
        try log.scan(range) { event in
            new.append(event)
            return true
        }
        events += new
        return new
    }

    /// Both projections folded over every event so far; fails the test if they disagree.
    func project() -> Projection {
        var incremental = Projection()
        var reference = ReferenceProjection()
        for event in events {
            incremental.apply(event)
            reference.apply(event)
        }
        #expect(canonicalState(incremental.states) == canonicalState(reference.states))
        // And the evaluations behind them (the issues `explain` traces, with their inputs).
        #expect(incremental.states.mapValues(\.evaluation) == reference.states.mapValues(\.evaluation))
        return incremental
    }
}

extension Projection {
    /// The status of a VirtualDestination as JSON.
    func status(_ name: String, _ namespace: String = "bookinfo") -> JSONValue? {
        status(of: ObjectRef(name: name, namespace: namespace))?.json
    }

}
