internal import LMDBKit
public import MeshModel

import struct Crypto.SHA256

extension EventLog {
    /// Appends a batch atomically and returns what happened. Throws `LogError` (`conflict`,
    /// `notFound`, `invalidBatch`) without appending anything when a precondition fails.
    ///
    /// `clock` gives the recorded time; the log never lets recorded time go backwards.
    public func append(_ batch: Batch, clock: @Sendable () -> Timestamp = Timestamp.now) throws -> AppendResult {
        let prepared = batch.changes.map(PreparedChange.init)
        try checkBatch(batch, prepared)
        do {
            return try environment.write { txn in try appendInTransaction(txn, batch, prepared, clock) }
        } catch let error as LMDBError {
            throw LogError(.storage, "append failed: \(error)", underlying: error)
        }
    }

    /// Appends several independent batches in one write transaction (group commit): each batch is
    /// all or nothing in a nested transaction, and a batch whose precondition fails does not
    /// affect the others. Returns one result per batch, in order.
    public func appendGroup(
        _ batches: [Batch], clock: @Sendable () -> Timestamp = Timestamp.now
    ) throws -> [Result<AppendResult, LogError>] {
        try appendGroup(batches, clock: clock, commit: true).results
    }

    /// Group commit without committing (a replicated store's writer): the per-batch outcomes and
    /// the records the group would append, in order, from the aborted write transaction. The
    /// records reach this log only once the log of record has them (`applyReplicated`).
    public func prepareGroup(
        _ batches: [Batch], clock: @Sendable () -> Timestamp = Timestamp.now
    ) throws -> (results: [Result<AppendResult, LogError>], records: [[UInt8]]) {
        try appendGroup(batches, clock: clock, commit: false)
    }

    private func appendGroup(
        _ batches: [Batch], clock: @Sendable () -> Timestamp, commit: Bool
    ) throws -> (results: [Result<AppendResult, LogError>], records: [[UInt8]]) {
        let prepared = batches.map { $0.changes.map(PreparedChange.init) }
        do {
            return try environment.write(commit: commit) { txn in
                var results: [Result<AppendResult, LogError>] = []
                for (batch, changes) in zip(batches, prepared) {
                    do {
                        try checkBatch(batch, changes)
                        // A batch of one change without a resync refuses (LogError) only before
                        // its first write: it needs no nested transaction to be all or nothing.
                        // Nesting costs LMDB a dirty-page list per batch (about 30 µs each).
                        let result =
                            batch.resync == nil && changes.count <= 1
                            ? try appendInTransaction(txn, batch, changes, clock)
                            : try txn.nested { child in try appendInTransaction(child, batch, changes, clock) }
                        results.append(.success(result))
                    } catch let error as LogError {
                        results.append(.failure(error))
                    }
                }
                var records: [[UInt8]] = []
                let first = results.compactMap { (try? $0.get())?.range?.lowerBound }.min()
                if !commit, let first {
                    try txn.scan(events, from: EventLog.sequenceKey(first)) { _, value in
                        records.append(Array(value))
                        return true
                    }
                }
                return (results, records)
            }
        } catch let error as LMDBError {
            throw LogError(.storage, "append failed: \(error)", underlying: error)
        }
    }

    /// Refuses a batch the log does not take: an object over the limit of one object
    /// (`ManifestReader.maxDocumentBytes` encoded, whichever front end, patch or expansion made
    /// it), or a resync that names objects of another cluster.
    private func checkBatch(_ batch: Batch, _ prepared: [PreparedChange]) throws {
        for change in prepared {
            guard let size = change.packedObject?.count, size > ManifestReader.maxDocumentBytes else { continue }
            throw LogError(
                .tooLarge,
                "\(change.change.key) is \(size) bytes encoded; the limit for one object is \(ManifestReader.maxDocumentBytes >> 20) MiB; nothing appended"
            )
        }
        guard let cluster = batch.resync?.cluster else { return }
        for change in prepared where change.change.source == .discovery && change.originCluster != cluster {
            throw LogError(
                .invalidBatch,
                "\(change.change.key) belongs to cluster \(change.originCluster ?? "(none)"), not \(cluster); a resync takes one cluster's objects"
            )
        }
    }

    /// A change with what can be computed before the write transaction.
    struct PreparedChange {
        let change: Change
        let contentHash: Digest?
        let specHash: Digest?
        let originCluster: String?
        /// The object's packed encoding, reused by the record (it is encoded once).
        let packedObject: [UInt8]?
        /// The object's key in the `objects` and `history` databases.
        let keyBytes: [UInt8]
        /// Whether the upserted object carries the deletion mark.
        let deleting: Bool

        /// The encoding of an absent spec (an empty object).
        static let emptySpec = PackedValue.encode(.object(JSONObject()))

        init(_ change: Change) {
            self.change = change
            keyBytes = EventLog.objectKeyBytes(change.key)
            switch change.operation {
            case .upsert(let manifest):
                // Hashes are over the packed encoding (canonical: members in key order), taken in
                // one pass: the spec's encoding is a range of the object's. When the object
                // carries no server-set fields, its content is the object itself.
                let (packed, specRange) = PackedValue.encode(manifest.object, locating: "spec")
                let contentBytes = manifest.hasServerFields ? PackedValue.encode(manifest.content) : packed
                contentHash = Digest(bytes: Array(SHA256.hash(data: contentBytes)))
                // Only kinds with a generation read the spec hash (discovery kinds store zeros).
                specHash =
                    change.key.kind.hasGeneration
                    ? Digest(
                        bytes: Array(SHA256.hash(data: specRange.map { packed[$0] } ?? PreparedChange.emptySpec[...])))
                    : .zero
                originCluster = manifest.originCluster
                packedObject = packed
                deleting = Manifest.isDeleting(manifest.object)
            case .delete(_, let manifest):
                deleting = false
                contentHash = nil
                specHash = nil
                originCluster = manifest?.originCluster
                packedObject = nil
            }
        }
    }

    /// One batch inside the write transaction, step by step: the head precondition, each change
    /// (its resourceVersion precondition, then upsert or delete), the resync's deletes, then the
    /// object states and counters.
    private func appendInTransaction(
        _ txn: borrowing WriteTransaction, _ batch: Batch, _ prepared: [PreparedChange], _ clock: () -> Timestamp
    ) throws -> AppendResult {
        var writer = try BatchWriter(log: self, txn, expectedHead: batch.expectedHead, clock: clock)
        for item in prepared {
            let live = try writer.checkPrecondition(item, txn)
            switch item.change.operation {
            case .upsert(let manifest) where item.change.honorsFinalizers:
                try writer.upsertHonoringFinalizers(item, manifest, live: live, txn)
            case .upsert(let manifest): try writer.upsert(item, manifest, live: live, txn)
            case .delete(_, let manifest) where item.change.honorsFinalizers:
                try writer.deleteHonoringFinalizers(item, manifest, live: live, txn)
            case .delete(_, let manifest): try writer.delete(item, manifest, live: live, txn)
            }
        }
        if let resync = batch.resync { try writer.deleteMissing(resync, txn) }
        return try writer.finish(txn)
    }
}

/// What one batch has appended so far inside the write transaction, and the steps that append.
private struct BatchWriter {
    let log: EventLog
    /// The head before the batch.
    let head: UInt64
    /// The recorded time of every event of the batch (never before the head's).
    let time: Timestamp
    /// The last sequence appended.
    var sequence: UInt64
    /// The checksum of the last event appended (the next event's chain link).
    var previous: Digest
    /// Object states changed by the batch, written to `objects` at the end.
    var pending: [ObjectKey: (state: ObjectState, keyBytes: [UInt8])] = [:]
    var outcomes: [(key: ObjectKey, outcome: AppendResult.Outcome, sequence: UInt64?)] = []
    var kindCounts: [ResourceKind: UInt64] = [:]
    var sourceCounts: [EventSource: UInt64] = [:]
    var appended: [Event] = []
    /// The batch's audit index postings, written at the end.
    var postings = AuditPostings()
    /// Objects the batch upserts (a resync does not delete them).
    var upserted = Set<ObjectKey>()

    /// Reads the head and checks the batch's head precondition.
    init(
        log: EventLog, _ txn: borrowing WriteTransaction, expectedHead: UInt64?, clock: () -> Timestamp
    ) throws {
        self.log = log
        let (head, headDigest, lastTime) = try EventLog.head(in: txn, log.events)
        if let expected = expectedHead, expected != head {
            throw LogError(
                .conflict, "conflict: expected head \(expected), but the log is at \(head); nothing appended")
        }
        self.head = head
        self.time = max(clock(), lastTime)
        self.sequence = head
        self.previous = headDigest
    }

    /// The object's state as the batch sees it (its own earlier changes included).
    func current(_ key: ObjectKey, _ keyBytes: [UInt8], _ txn: borrowing WriteTransaction) throws -> ObjectState? {
        if let state = pending[key]?.state { return state }
        return try txn.withValue(log.objects, keyBytes) { buffer in
            try buffer.map { try ObjectStateCodec.decode($0, key: key) }
        }
    }

    /// Checks a change's resourceVersion precondition; returns the object's live state.
    func checkPrecondition(_ item: EventLog.PreparedChange, _ txn: borrowing WriteTransaction) throws -> ObjectState? {
        let key = item.change.key
        let state = try current(key, item.keyBytes, txn)
        let live = state?.exists == true ? state : nil
        if let expected = item.change.expectedVersion {
            let actual = live?.lastSequence ?? 0
            if expected != actual {
                let now = live == nil ? "does not exist" : "is at resourceVersion \(actual)"
                throw LogError(
                    .conflict,
                    "conflict: \(key) was expected at resourceVersion \(expected) but \(now); nothing appended")
            }
        }
        return live
    }

    /// An upsert: nothing when the content is unchanged; else an event with the next generation
    /// when the spec changed (user kinds).
    mutating func upsert(
        _ item: EventLog.PreparedChange, _ manifest: Manifest, live: ObjectState?, _ txn: borrowing WriteTransaction
    ) throws {
        let key = item.change.key
        upserted.insert(key)
        if let live, live.contentHash == item.contentHash {
            outcomes.append((key, .unchanged, nil))
            return
        }
        var generation: UInt64 = 0
        if key.kind.hasGeneration {
            if let given = item.change.sourceGeneration {
                generation = given
            } else if let live {
                generation =
                    live.specHash == item.specHash || live.generation >= Manifest.maxGeneration
                    ? live.generation : live.generation + 1
            } else {
                generation = 1
            }
        }
        let state = ObjectState(
            key: key, lastSequence: sequence + 1, generation: generation, exists: true,
            contentHash: item.contentHash!, specHash: item.specHash!, originCluster: item.originCluster,
            deleting: item.deleting)
        try emit(
            key, .upsert, item.change.source, item.change.actor, item.originCluster, generation, manifest.object,
            keyBytes: item.keyBytes, state: state, packedObject: item.packedObject, groups: item.change.groups,
            manager: item.change.manager, txn)
        outcomes.append((key, live == nil ? .created : .configured, sequence))
    }

    /// A delete: an event carrying the object as it was; a missing object fails the batch unless
    /// the change ignores it.
    mutating func delete(
        _ item: EventLog.PreparedChange, _ manifest: Manifest?, live: ObjectState?, _ txn: borrowing WriteTransaction
    ) throws {
        let key = item.change.key
        guard let live else {
            if item.change.ignoreNotFound {
                outcomes.append((key, .notFound, nil))
                return
            }
            throw LogError(.notFound, "\(key) not found; nothing appended")
        }
        try deleteEvent(
            live, source: item.change.source, actor: item.change.actor,
            originCluster: live.originCluster ?? item.originCluster, object: manifest?.object,
            keyBytes: item.keyBytes, groups: item.change.groups, manager: item.change.manager, txn)
    }

    /// An upsert under kube-apiserver's finalizer rules: the deletion mark is the live object's
    /// (a writer can neither set nor clear it), no finalizer may be added to an object being
    /// deleted, and the write that leaves a deleting object without finalizers deletes it (the
    /// delete event carries that write's object).
    mutating func upsertHonoringFinalizers(
        _ item: EventLog.PreparedChange, _ manifest: Manifest, live: ObjectState?, _ txn: borrowing WriteTransaction
    ) throws {
        let liveObject = try live.flatMap { $0.deleting ? try lastObject($0, txn) : nil }
        guard liveObject != nil || item.deleting else {
            return try upsert(item, manifest, live: live, txn)
        }
        let object = Manifest.withDeletionMark(manifest.object, from: liveObject)
        let marked = Manifest(recorded: object, key: manifest.key)
        var change = item.change
        change.operation = .upsert(marked)
        let prepared = EventLog.PreparedChange(change)
        if let live, let liveObject {
            let before = Set(Manifest.finalizers(of: liveObject))
            let added = Manifest.finalizers(of: object).filter { !before.contains($0) }
            if !added.isEmpty {
                throw LogError(
                    .forbidden,
                    "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\(added.map { "\"\($0)\"" }.joined(separator: ", "))}"
                )
            }
            if Manifest.finalizers(of: object).isEmpty {
                upserted.insert(manifest.key)
                return try deleteEvent(
                    live, source: change.source, actor: change.actor, originCluster: live.originCluster, object: object,
                    keyBytes: item.keyBytes, groups: change.groups, manager: change.manager, txn)
            }
        }
        try upsert(prepared, marked, live: live, txn)
    }

    /// A delete under kube-apiserver's finalizer rules: an object with finalizers is marked for
    /// deletion (`deletionTimestamp` the batch's time, `deletionGracePeriodSeconds` 0) and stays
    /// until its last finalizer is removed; a delete of an object already marked changes nothing.
    mutating func deleteHonoringFinalizers(
        _ item: EventLog.PreparedChange, _ manifest: Manifest?, live: ObjectState?, _ txn: borrowing WriteTransaction
    ) throws {
        guard let live else { return try delete(item, manifest, live: nil, txn) }
        let object = try lastObject(live, txn)
        guard !Manifest.finalizers(of: object).isEmpty else { return try delete(item, manifest, live: live, txn) }
        if live.deleting {
            outcomes.append((live.key, .deleting, nil))
            return
        }
        let mark: JSONValue = [
            "metadata": ["deletionTimestamp": .string(RFC3339.formatSeconds(time)), "deletionGracePeriodSeconds": 0]
        ]
        let marked = Manifest(recorded: Manifest.withDeletionMark(object, from: mark), key: live.key)
        var change = item.change
        change.operation = .upsert(marked)
        try upsert(EventLog.PreparedChange(change), marked, live: live, txn)
        outcomes[outcomes.count - 1].outcome = .deleting
    }

    /// A resync's deletes: the cluster's objects of the resynced kinds the batch did not name, by
    /// key: `ResourceKind`'s order deletes what depends on an object before it (Destinations
    /// before their Mesh; decision 0015).
    mutating func deleteMissing(_ resync: Resync, _ txn: borrowing WriteTransaction) throws {
        var missing: [ObjectState] = []
        try txn.scan(log.objects) { keyBytes, value in
            guard let key = EventLog.objectKey(from: keyBytes), resync.kinds.contains(key.kind),
                !upserted.contains(key), pending[key] == nil
            else { return true }
            let state = try ObjectStateCodec.decode(value, key: key)
            if state.exists && resync.covers(state) { missing.append(state) }
            return true
        }
        for state in missing.sorted(by: { $0.key < $1.key }) {
            try deleteEvent(
                state, source: state.key.kind.source, actor: resync.actor, originCluster: state.originCluster,
                object: nil,
                keyBytes: EventLog.objectKeyBytes(state.key), txn)
        }
    }

    /// Appends the delete event of a live object (`object` nil: as it was last recorded).
    private mutating func deleteEvent(
        _ live: ObjectState, source: EventSource, actor: String, originCluster: String?, object: JSONValue?,
        keyBytes: [UInt8], groups: [String] = [], manager: String? = nil, _ txn: borrowing WriteTransaction
    ) throws {
        var gone = live
        gone.exists = false
        gone.lastSequence = sequence + 1
        try emit(
            live.key, .delete, source, actor, originCluster, live.generation, try object ?? lastObject(live, txn),
            keyBytes: keyBytes, state: gone, groups: groups, manager: manager, txn)
        outcomes.append((live.key, .deleted, sequence))
    }

    /// The object as its last event recorded it.
    func lastObject(_ state: ObjectState, _ txn: borrowing WriteTransaction) throws -> JSONValue {
        try txn.withValue(log.events, EventLog.sequenceKey(state.lastSequence)) { buffer in
            guard let buffer else { throw LogError(.corrupted, "event \(state.lastSequence) is missing") }
            do {
                return try EventCodec.decode(buffer).object
            } catch {
                throw LogError(.corrupted, "event \(state.lastSequence) does not decode: \(error)")
            }
        }
    }

    /// Appends the next event: its record, its history and time index entries, the chain link.
    private mutating func emit(
        _ key: ObjectKey, _ change: ChangeType, _ source: EventSource, _ actor: String, _ originCluster: String?,
        _ generation: UInt64, _ object: JSONValue, keyBytes: [UInt8], state: ObjectState,
        packedObject: [UInt8]? = nil, groups: [String] = [], manager: String? = nil,
        _ txn: borrowing WriteTransaction
    ) throws {
        sequence += 1
        var event = Event(
            sequence: sequence, recordedAt: time, source: source, actor: actor, originCluster: originCluster,
            key: key, change: change, generation: generation, object: object, previousDigest: previous,
            groups: groups, manager: manager)
        let (record, checksum) = EventCodec.encode(event, packedObject: packedObject)
        try txn.put(log.events, EventLog.sequenceKey(sequence), record, flags: .append)
        event.checksum = checksum
        appended.append(event)
        try txn.put(log.history, keyBytes + [0] + EventLog.sequenceKey(sequence), [])
        postings.add(event)
        // Recorded times never go backwards, so (time, sequence) keys arrive in order.
        try txn.put(log.byTime, EventLog.timeKey(time, sequence), [], flags: .append)
        pending[key] = (state, keyBytes)
        previous = checksum
        kindCounts[key.kind, default: 0] += 1
        sourceCounts[source, default: 0] += 1
    }

    /// Writes the changed object states and the counters; returns the batch's result.
    func finish(_ txn: borrowing WriteTransaction) throws -> AppendResult {
        for (state, keyBytes) in pending.values {
            try txn.put(log.objects, keyBytes, ObjectStateCodec.encode(state))
        }
        try postings.write(log.audit, txn)
        try EventLog.indexNames(pending.keys, log.audit, txn)
        for (kind, count) in kindCounts { try log.addCounter("count.kind.\(kind.rawValue)", count, txn) }
        for (source, count) in sourceCounts { try log.addCounter("count.source.\(source.rawValue)", count, txn) }
        return AppendResult(
            outcomes: outcomes, range: sequence > head ? (head + 1)...sequence : nil, head: sequence, events: appended)
    }
}

extension EventLog {
    /// Adds `delta` to the counter `name` in `meta` (the counts `stats` shows), in the transaction
    /// that appends the events it counts.
    func addCounter(_ name: String, _ delta: UInt64, _ txn: borrowing WriteTransaction) throws {
        let key = Array(name.utf8)
        let old = try txn.get(meta, key).map(EventLog.decodeUInt64) ?? 0
        try txn.put(meta, key, EventLog.sequenceKey(old + delta))
    }
}
