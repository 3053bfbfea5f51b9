public import EventLog
import Glibc
public import MeshModel

/// The MeshLedger store: the event log plus what the commands ask of it.
///
/// This is the facade the CLI (and later the HTTP server) talks to: it turns manifests and watch
/// streams into atomic batches, and answers audit queries over the log.
public final class Store: Sendable {
    /// The event log underneath.
    public let log: EventLog
    /// The store directory.
    public let path: String

    /// Opens the store at `path`; a writable open creates it.
    public init(path: String, readOnly: Bool = false, options: EventLog.Options = EventLog.Options()) throws {
        var options = options
        options.readOnly = readOnly
        self.path = path
        self.log = try EventLog.open(at: path, options: options)
    }

    // MARK: - Writing

    /// `apply`: upserts user objects as one atomic batch. A `metadata.resourceVersion` in a
    /// manifest is a precondition (optimistic concurrency, like `kubectl replace`).
    public func apply(
        _ manifests: [Manifest], actor: String, expectedHead: UInt64? = nil,
        clock: @Sendable () -> Timestamp = Timestamp.now
    ) throws -> AppendResult {
        try refuseDuplicates(manifests.map(\.key))
        for manifest in manifests where manifest.key.kind.source != .user {
            throw LogError(
                .invalidBatch,
                "\(manifest.key) is reported by discovery agents, not applied by users; use `meshledger discover`")
        }
        let changes = manifests.map {
            Change(.upsert($0), source: .user, actor: actor, expectedVersion: $0.resourceVersion)
        }
        return try log.append(Batch(changes, expectedHead: expectedHead), clock: clock)
    }

    /// `delete`: deletes objects named by key (with the manifest when deleting from a file).
    public func delete(
        _ targets: [(ObjectKey, Manifest?)], actor: String, ignoreNotFound: Bool = false, expectedHead: UInt64? = nil,
        clock: @Sendable () -> Timestamp = Timestamp.now
    ) throws -> AppendResult {
        try refuseDuplicates(targets.map(\.0))
        let changes = targets.map { key, manifest in
            Change(
                .delete(key, manifest), source: key.kind.source, actor: actor,
                expectedVersion: manifest?.resourceVersion,
                ignoreNotFound: ignoreNotFound)
        }
        return try log.append(Batch(changes, expectedHead: expectedHead), clock: clock)
    }

    /// `discover`: upserts discovery objects (Destination, Mesh) as one atomic batch; with
    /// `resyncCluster`, deletes that cluster's discovered objects the batch does not name.
    public func discover(
        _ manifests: [Manifest], agent: String, resyncCluster: String? = nil, expectedHead: UInt64? = nil,
        clock: @Sendable () -> Timestamp = Timestamp.now
    ) throws -> AppendResult {
        try refuseDuplicates(manifests.map(\.key))
        for manifest in manifests where manifest.key.kind.source != .discovery {
            throw LogError(.invalidBatch, "\(manifest.key) is a user object; use `meshledger apply`")
        }
        let changes = manifests.map { Change(.upsert($0), source: .discovery, actor: agent) }
        let resync = resyncCluster.map {
            Resync(cluster: $0, kinds: [.destination, .mesh], actor: agent)
        }
        return try log.append(Batch(changes, expectedHead: expectedHead, resync: resync), clock: clock)
    }

    /// `ingest`: a watch-event stream as one atomic batch (ADDED/MODIFIED upsert, DELETED deletes
    /// and is skipped when the object is already gone; BOOKMARKs are ignored).
    public func ingest(
        _ events: [ManifestReader.WatchEvent], actor: String, clock: @Sendable () -> Timestamp = Timestamp.now
    ) throws -> AppendResult {
        var changes: [Change] = []
        for event in events {
            guard let manifest = event.manifest else { continue }
            let source = manifest.key.kind.source
            switch event.type {
            case .added, .modified: changes.append(Change(.upsert(manifest), source: source, actor: actor))
            case .deleted:
                changes.append(
                    Change(.delete(manifest.key, manifest), source: source, actor: actor, ignoreNotFound: true))
            case .bookmark: continue
            }
        }
        return try log.append(Batch(changes), clock: clock)
    }

    private func refuseDuplicates(_ keys: [ObjectKey]) throws {
        var seen = Set<ObjectKey>()
        for key in keys where !seen.insert(key).inserted {
            throw LogError(.invalidBatch, "\(key) appears twice in the input; one batch changes each object once")
        }
    }

    // MARK: - Reading

    /// Runs an audit query and hands each matching event to `body`, oldest first, until it
    /// returns false.
    public func query(_ query: LogQuery, _ body: (Event) throws -> Bool) throws {
        let (head, _) = try log.head()
        guard let range = try query.sequenceRange(in: log, head: head) else { return }
        if let key = query.exactKey {
            for sequence in try log.history(of: key) where range.contains(sequence) {
                guard let event = try log.event(at: sequence) else { continue }
                if query.matches(event), try !body(event) { return }
            }
            return
        }
        try log.scan(range) { event in
            query.matches(event) ? try body(event) : true
        }
    }

    /// Head, counts and sizes.
    public func stats() throws -> StoreStats {
        let (head, digest) = try log.head()
        let (byKind, bySource) = try log.counters()
        let states = try log.objectStates()
        var live: [ResourceKind: Int] = [:]
        for state in states where state.exists { live[state.key.kind, default: 0] += 1 }
        let info = log.storageInfo
        var fileInfo = stat()
        let fileSize = stat(path + "/data.mdb", &fileInfo) == 0 ? Int(fileInfo.st_size) : 0
        return StoreStats(
            head: head, headDigest: digest, eventsByKind: byKind, eventsBySource: bySource, liveObjects: live,
            fileSize: fileSize, mapSize: info.mapSize, usedBytes: info.usedBytes)
    }
}

/// What `stats` shows.
public struct StoreStats: Sendable {
    /// The last sequence.
    public var head: UInt64
    /// Its checksum (the head of the hash chain).
    public var headDigest: Digest
    /// Events appended, by kind.
    public var eventsByKind: [ResourceKind: UInt64]
    /// Events appended, by source.
    public var eventsBySource: [EventSource: UInt64]
    /// Objects that exist now, by kind.
    public var liveObjects: [ResourceKind: Int]
    /// Size of data.mdb on disk.
    public var fileSize: Int
    /// The LMDB map size.
    public var mapSize: Int
    /// Bytes in use inside the map.
    public var usedBytes: Int
}
