internal import LMDBKit
public import MeshModel

extension EventLog {
    /// Appends records that the log of record (etcd, for a replicated store) has committed, byte
    /// for byte: each is verified (checksum), must follow the head (sequence and hash chain), and
    /// goes into `events`, `history`, `bytime`, `objects` and the counters exactly as the writer's
    /// own append would have put it. Records already present with the same checksum are skipped
    /// (the writer's own entries come back through the watch). Returns the events appended.
    ///
    /// Throws `LogError(.corrupted)` naming the sequence when a record does not verify, leaves a
    /// gap, breaks the chain or differs from the local copy: nothing of the call is appended, and
    /// the caller must stop replicating rather than serve a forked log.
    public func applyReplicated(_ records: [[UInt8]], revision: Int64? = nil) throws -> [Event] {
        do {
            return try environment.write { txn in
                let last = try EventLog.head(in: txn, events)
                var head = (sequence: last.sequence, digest: last.digest)
                var states: [ObjectKey: (state: ObjectState, keyBytes: [UInt8])] = [:]
                var counters: [String: UInt64] = [:]
                var postings = AuditPostings()
                var applied: [Event] = []
                for record in records {
                    let event = try EventLog.verifiedEvent(record)
                    if event.sequence <= head.sequence {
                        let local = try txn.withValue(events, EventLog.sequenceKey(event.sequence)) { buffer in
                            buffer.flatMap(EventCodec.storedChecksum)
                        }
                        guard local == event.checksum else {
                            throw LogError(
                                .corrupted,
                                "replicated event \(event.sequence) differs from the local copy (forked log); replication stopped"
                            )
                        }
                        continue
                    }
                    guard event.sequence == head.sequence + 1 else {
                        throw LogError(
                            .corrupted,
                            "replicated event \(event.sequence) does not follow the local head \(head.sequence) (gap); replication stopped"
                        )
                    }
                    guard event.previousDigest == head.digest else {
                        throw LogError(
                            .corrupted,
                            "replicated event \(event.sequence) does not chain to event \(head.sequence); replication stopped"
                        )
                    }
                    let keyBytes = EventLog.objectKeyBytes(event.key)
                    try txn.put(events, EventLog.sequenceKey(event.sequence), record, flags: .append)
                    try txn.put(history, keyBytes + [0] + EventLog.sequenceKey(event.sequence), [])
                    postings.add(event)
                    try txn.put(byTime, EventLog.timeKey(event.recordedAt, event.sequence), [], flags: .append)
                    let previous =
                        try states[event.key]?.state
                        ?? txn.withValue(objects, keyBytes) { buffer in
                            try buffer.map { try ObjectStateCodec.decode($0, key: event.key) }
                        }
                    states[event.key] = (EventLog.state(after: event, previous: previous), keyBytes)
                    counters["count.kind.\(event.key.kind.rawValue)", default: 0] += 1
                    counters["count.source.\(event.source.rawValue)", default: 0] += 1
                    head = (event.sequence, event.checksum)
                    applied.append(event)
                }
                for (state, keyBytes) in states.values {
                    try txn.put(objects, keyBytes, ObjectStateCodec.encode(state))
                }
                try postings.write(audit, txn)
                try EventLog.indexNames(states.keys, audit, txn)
                for (name, delta) in counters { try addCounter(name, delta, txn) }
                if let revision, !applied.isEmpty {
                    try txn.put(meta, Array("repl.revision".utf8), EventLog.sequenceKey(UInt64(revision)))
                }
                return applied
            }
        } catch let error as LMDBError {
            throw LogError(.storage, "applying replicated events failed: \(error)", underlying: error)
        }
    }

    /// A record decoded and its checksum verified; a failure names the sequence the record claims.
    static func verifiedEvent(_ record: [UInt8]) throws -> Event {
        do {
            return try EventCodec.decode(record, verify: true)
        } catch {
            let claimed = record.count > 9 ? EventLog.decodeUInt64(record[1..<9]) : 0
            throw LogError(
                .corrupted, "replicated event \(claimed) does not verify: \(error); replication stopped")
        }
    }

    /// An object's state after an event, as the append that wrote the event computed it: an
    /// upsert's hashes are a pure function of the recorded object; a delete keeps the previous
    /// state, marked gone.
    static func state(after event: Event, previous: ObjectState?) -> ObjectState {
        switch event.change {
        case .upsert:
            let manifest = Manifest(recorded: event.object, key: event.key)
            let prepared = PreparedChange(Change(.upsert(manifest), source: event.source, actor: event.actor))
            return ObjectState(
                key: event.key, lastSequence: event.sequence, generation: event.generation, exists: true,
                contentHash: prepared.contentHash!, specHash: prepared.specHash!, originCluster: prepared.originCluster,
                deleting: prepared.deleting)
        case .delete:
            var gone =
                previous
                ?? ObjectState(
                    key: event.key, lastSequence: 0, generation: event.generation, exists: false, contentHash: .zero,
                    specHash: .zero, originCluster: event.originCluster)
            gone.exists = false
            gone.lastSequence = event.sequence
            return gone
        }
    }

    /// What a store directory says about replication: the log of record it replicates (nil: a
    /// standalone store) and the last etcd revision applied.
    public func replication() throws -> (source: String?, revision: Int64?) {
        try environment.read { txn in
            let source = try txn.get(meta, Array("replicated".utf8)).map { String(decoding: $0, as: UTF8.self) }
            let revision = try txn.get(meta, Array("repl.revision".utf8)).map { Int64(EventLog.decodeUInt64($0)) }
            return (source, revision)
        }
    }

    /// Marks the store a replica of `source` (CLI writes are then refused: they would fork it).
    public func markReplicated(_ source: String) throws {
        try environment.write { txn in try txn.put(meta, Array("replicated".utf8), Array(source.utf8)) }
    }
}
