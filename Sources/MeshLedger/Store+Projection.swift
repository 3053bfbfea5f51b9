public import EventLog
public import MeshModel
public import Projection

import struct Crypto.SHA256

extension Store {
    /// How a projection was obtained.
    public struct ProjectionOrigin: Sendable {
        /// The snapshot it started from (nil: event 1).
        public var snapshot: UInt64?
        /// Snapshots passed over, with why (altered bytes, unknown format, wrong digest).
        public var skipped: [(sequence: UInt64, reason: String)] = []
    }

    /// The projection at `sequence` (the head when nil): from the newest usable snapshot at or
    /// before it plus the events after, or from event 1 when `useSnapshots` is false or no
    /// snapshot is usable. Also returns the sequence reached and where it started. Outputs are
    /// translated when they are asked for: a reader of `states` or `outputObjects` (which
    /// translate what is pending on every read) calls `settleOutputs()` first. Throws
    /// `CancellationError` when the calling task is cancelled (its requester went away).
    public func project(
        upTo sequence: UInt64? = nil, useSnapshots: Bool = true, progress: ((UInt64, UInt64) -> Void)? = nil
    ) throws -> (projection: Projection, sequence: UInt64, origin: ProjectionOrigin) {
        let (head, _) = try log.head()
        let target = min(sequence ?? head, head)
        var projection = Projection()
        var origin = ProjectionOrigin()
        // Snapshots are read one at a time, newest first: the first usable one ends the search.
        var candidate = useSnapshots ? target : 0
        for _ in 0..<8 where candidate > 0 {
            guard let (info, payload) = try log.snapshots(atOrBefore: candidate, limit: 1).first else { break }
            candidate = info.sequence - 1
            guard let payload else {
                origin.skipped.append((info.sequence, "checksum mismatch (altered bytes)"))
                continue
            }
            guard info.isUsable else {
                let formats = Projection.readableSnapshotFormats
                origin.skipped.append(
                    (
                        info.sequence,
                        "format \(info.format), this version reads \(formats.lowerBound)-\(formats.upperBound)"
                    ))
                continue
            }
            do {
                projection = try Projection.restore(
                    payload: payload, expectedDigest: info.digest, events: foldEvents(at:))
                origin.snapshot = info.sequence
                break
            } catch {
                origin.skipped.append((info.sequence, "\(error)"))
            }
        }
        let start = projection.sequence + 1
        if start <= target {
            try log.scan(start...target, objects: Projection.foldShapes) { event in
                projection.apply(event)
                if event.sequence % 1024 == 0 { try Task.checkCancellation() }
                if event.sequence % 4096 == 0 {
                    progress?(event.sequence - start + 1, target - start + 1)
                }
                return true
            }
            progress?(target - start + 1, target - start + 1)
        }
        return (projection, target, origin)
    }

    /// The events at `sequences` as a fold reads them (`Projection.foldShapes`): what a snapshot
    /// restore reads its inputs from.
    public func foldEvents(at sequences: [UInt64]) throws -> [Event?] {
        try log.events(at: sequences, objects: Projection.foldShapes)
    }

    /// Takes a snapshot at `sequence` (default: the head) and returns its header; `complete`:
    /// see `writeSnapshot(of:complete:)`.
    @discardableResult
    public func createSnapshot(at sequence: UInt64? = nil, complete: Bool = true) throws -> EventLog.SnapshotInfo {
        let (projection, reached, _) = try project(upTo: sequence)
        try writeSnapshot(of: projection, complete: complete)
        guard let info = try log.snapshotInfos().first(where: { $0.sequence == reached }) else {
            throw LogError(.corrupted, "snapshot at \(reached) was not stored")
        }
        return info
    }

    /// Stores a snapshot of `projection` at its sequence (the server takes them of the projection
    /// it keeps folded, without a replay). `complete` settles the digest first, so that the
    /// snapshot records every contribution and its digest is the state digest (what `snapshot
    /// create` takes); otherwise it records only the contributions already settled and translates
    /// nothing, and a restore computes the others when a digest is asked for (what automatic
    /// snapshots take: decision 0006, addendum "format 5").
    public func writeSnapshot(of projection: Projection, complete: Bool) throws {
        var projection = projection
        if complete { projection.settleDigest() }  // translates what is pending once
        let (payload, digest) = projection.snapshot()
        try log.writeSnapshot(
            sequence: projection.sequence, format: Projection.snapshotFormat, digest: digest, payload: payload)
    }

    /// The default snapshot policy's shortest interval: 500 events since automatic snapshots
    /// translate nothing (about 4 ms each on the benchmark fleet): a past status is then a restore
    /// plus at most 499 events (decision 0006, "format 5").
    public static let defaultSnapshotInterval: UInt64 = 500

    /// The default snapshot policy: one every 500 events, or every (live objects) events when that
    /// is more. A snapshot's cost, its writing and its bytes (about 340 per live object), is
    /// proportional to the state, so per event it stays flat as the fleet grows (about 8 µs and a
    /// fifth of the store on the benchmark fleet, whose 410 objects take the 500), and a past
    /// status's tail, on average, costs no more than about two restores. A configured interval
    /// (`$MESHLEDGER_SNAPSHOT_EVERY`, `serve --snapshot-every`) is used as it is.
    public static func automaticSnapshotInterval(liveObjects: Int) -> UInt64 {
        max(defaultSnapshotInterval, UInt64(liveObjects))
    }

    /// Whether a snapshot is due at `head` when the newest is at `newest`: `interval` or more
    /// events later (nil: the default policy, `automaticSnapshotInterval`; 0: never). The live
    /// objects are counted only once the default's shortest interval has passed. What `Writer`
    /// decides by, for every front end.
    public static func isSnapshotDue(
        head: UInt64, newest: UInt64, interval: UInt64?, liveObjects: () throws -> Int
    ) rethrows -> Bool {
        guard interval != 0, head >= newest + (interval ?? defaultSnapshotInterval) else { return false }
        guard interval == nil else { return true }
        return head >= newest + automaticSnapshotInterval(liveObjects: try liveObjects())
    }

    /// Takes a snapshot of the head, replayed from the newest snapshot, when one is due
    /// (`isSnapshotDue`); `newest`, when the caller knows it (a `Writer` keeps it), saves looking
    /// it up. Runs after an append's transaction has committed, so the append itself is never
    /// held up by it.
    @discardableResult
    public func snapshotIfDue(interval: UInt64? = nil, newest known: UInt64? = nil) throws -> EventLog.SnapshotInfo? {
        guard interval != 0 else { return nil }
        let (head, _) = try log.head()
        // Only snapshots this version can use count (an upgrade must not wait on older formats).
        let newest = try known ?? log.newestSnapshot(where: \.isUsable)?.sequence ?? 0
        let due = try Store.isSnapshotDue(head: head, newest: newest, interval: interval) {
            try log.objectStates().count(where: \.exists)
        }
        return due ? try createSnapshot(at: head, complete: false) : nil
    }

    /// Deletes all but the newest `keep` snapshots; returns the sequences deleted.
    public func pruneSnapshots(keep: Int) throws -> [UInt64] {
        let infos = try log.snapshotInfos()
        let doomed = infos.dropLast(max(keep, 0)).map(\.sequence)
        for sequence in doomed { try log.deleteSnapshot(sequence) }
        return doomed
    }

    /// Replays from event 1 without snapshots; with `verifySnapshots`, checks every stored
    /// snapshot against the replay at its sequence (`Projection.disagreement(withSnapshot:digest:)`:
    /// its statuses and recorded contributions, and so, for a complete one, its digest). Returns
    /// the digest at `sequence` and the snapshot problems found.
    public func replay(
        to sequence: UInt64? = nil, verifySnapshots: Bool = false, progress: ((UInt64, UInt64) -> Void)? = nil
    ) throws -> (digest: Digest, sequence: UInt64, snapshotProblems: [(sequence: UInt64, problem: String)]) {
        let (head, _) = try log.head()
        let target = min(sequence ?? head, head)
        var checks: [UInt64: EventLog.SnapshotInfo] = [:]
        if verifySnapshots {
            for info in try log.snapshotInfos() where info.sequence <= target { checks[info.sequence] = info }
        }
        var problems: [(UInt64, String)] = []
        for info in checks.values where !info.intact {
            problems.append((info.sequence, "checksum mismatch (altered bytes)"))
        }
        var projection = Projection()
        var failure: (any Error)?
        func check(_ s: UInt64) {
            guard let info = checks[s], info.isUsable else { return }
            do {
                guard let payload = try log.snapshots(atOrBefore: s, limit: 1).first?.payload else { return }
                if let problem = projection.disagreement(withSnapshot: payload, digest: info.digest) {
                    problems.append((s, problem))
                }
            } catch {
                failure = error
            }
        }
        check(0)
        if target > 0 {
            try log.scan(1...target, objects: Projection.foldShapes) { event in
                projection.apply(event)
                check(event.sequence)
                if event.sequence % 1024 == 0 { try Task.checkCancellation() }
                if event.sequence % 4096 == 0 {
                    progress?(event.sequence, target)
                }
                return failure == nil
            }
            progress?(target, target)
        }
        if let failure { throw failure }
        return (projection.digest, target, problems.sorted { $0.0 < $1.0 }.map { (sequence: $0.0, problem: $0.1) })
    }

    /// A stored object as `get` shows it: the object as last applied, with the metadata an API
    /// server adds (`resourceVersion`: the sequence of its last change; `generation` for user
    /// kinds; `creationTimestamp` and a `uid` from the event that created it), or nil if it does
    /// not exist at `sequence`.
    public func storedObject(_ key: ObjectKey, at sequence: UInt64? = nil) throws -> JSONValue? {
        let sequences = try log.history(of: key).filter { s in sequence.map { s <= $0 } ?? true }
        guard let lastSequence = sequences.last, let last = try log.event(at: lastSequence), last.change == .upsert
        else { return nil }
        // Its creation: the first upsert after the last delete. The earlier events are read
        // without their objects (an empty shape), from the newest back to that delete.
        var created = last
        let earlier = try log.events(at: sequences.dropLast().reversed(), objects: EventLog.headersOnly)
        for event in earlier {
            guard let event, event.change == .upsert else { break }
            created = event
        }
        return Store.withServerMetadata(last, created: created)
    }

    /// Every object of a kind that exists at `sequence` (default: now), sorted by namespace and name.
    public func storedObjects(
        _ kind: ResourceKind, namespace: String? = nil, at sequence: UInt64? = nil
    ) throws -> [JSONValue] {
        var latest: [ObjectKey: (last: Event, created: Event)] = [:]
        if let sequence {
            guard sequence > 0 else { return [] }
            try log.scan(1...sequence) { event in
                guard event.key.kind == kind else { return true }
                let previous = latest[event.key]
                let isCreation = event.change == .upsert && (previous == nil || previous?.last.change == .delete)
                latest[event.key] = (event, isCreation ? event : previous?.created ?? event)
                return true
            }
        } else {
            return try log.objectStates()
                .filter { $0.key.kind == kind && $0.exists && (namespace == nil || $0.key.namespace == namespace) }
                .sorted { $0.key < $1.key }
                .compactMap { try storedObject($0.key) }
        }
        return latest.values
            .filter { $0.last.change == .upsert && (namespace == nil || $0.last.key.namespace == namespace) }
            .sorted { $0.last.key < $1.last.key }
            .map { Store.withServerMetadata($0.last, created: $0.created) }
    }

    /// The object of an event with the metadata a server would add.
    static func withServerMetadata(_ event: Event, created: Event) -> JSONValue {
        guard case .object(var root) = event.object, case .object(var metadata)? = root["metadata"] else {
            return event.object
        }
        metadata["resourceVersion"] = .string(String(event.sequence))
        if event.key.kind.hasGeneration { metadata["generation"] = .int(Int64(clamping: event.generation)) }
        metadata["creationTimestamp"] = .string(RFC3339.formatSeconds(created.recordedAt))
        metadata["uid"] = .string(Store.uid(of: event.key, createdAt: created.sequence))
        root["metadata"] = .object(metadata)
        root["status"] = nil
        return .object(root)
    }

    /// A stable uid for one life of an object (it changes when the object is deleted and created
    /// again): a UUID-shaped digest of its key and the sequence that created it.
    static func uid(of key: ObjectKey, createdAt sequence: UInt64) -> String {
        uuidShaped("\(key.kind.rawValue)/\(key.namespace)/\(key.name)@\(sequence)")
    }

    /// A UUID-shaped digest of `text` (the first 128 bits of its SHA-256, as 8-4-4-4-12 hex):
    /// the stable identifiers the store serves (uids, audit IDs).
    static func uuidShaped(_ text: String) -> String {
        let hex = Array(Digest(bytes: Array(SHA256.hash(data: Array(text.utf8)))).hex.prefix(32))
        return String(hex[0..<8]) + "-" + String(hex[8..<12]) + "-" + String(hex[12..<16]) + "-"
            + String(hex[16..<20]) + "-" + String(hex[20..<32])
    }
}

extension EventLog.SnapshotInfo {
    /// Whether this version can restore from it: intact and in the format it reads.
    public var isUsable: Bool { intact && Projection.readableSnapshotFormats.contains(format) }
}
