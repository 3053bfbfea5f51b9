import Glibc
internal import LMDBKit
public import MeshModel

import struct Crypto.SHA256

extension EventLog {
    /// The head: the last sequence (0 for an empty log) and its checksum.
    public func head() throws -> (sequence: UInt64, digest: Digest) {
        try environment.read { txn in
            let (sequence, digest, _) = try EventLog.head(in: txn, events)
            return (sequence, digest)
        }
    }

    /// The event at `sequence`, or nil.
    public func event(at sequence: UInt64) throws -> Event? {
        try events(at: [sequence])[0]
    }

    /// The events at `sequences`, in that order (nil where there is none), from one read
    /// transaction; objects of the kinds in `shapes` decoded only as far as their shape.
    public func events(at sequences: [UInt64], objects shapes: [ResourceKind: ValueShape] = [:]) throws -> [Event?] {
        try environment.read { txn in
            try sequences.map { sequence in
                try txn.withValue(events, EventLog.sequenceKey(sequence)) { buffer in
                    try buffer.map { try decodeRecord($0, sequence, shapes) }
                }
            }
        }
    }

    /// Visits events with sequences in `range` in order, until `body` returns false. All of them
    /// come from one read transaction: one consistent snapshot. Objects of the kinds in `shapes`
    /// are decoded only as far as their shape (`EventCodec.decode`).
    public func scan(
        _ range: ClosedRange<UInt64>, objects shapes: [ResourceKind: ValueShape] = [:], _ body: (Event) throws -> Bool
    ) throws {
        try environment.read { txn in
            try txn.scan(events, from: EventLog.sequenceKey(range.lowerBound)) { key, value in
                let sequence = EventLog.decodeUInt64(key)
                guard sequence <= range.upperBound else { return false }
                return try body(decodeRecord(value, sequence, shapes))
            }
        }
    }

    /// Visits the raw records in `range` (key, record) without decoding, until `body` returns false.
    public func scanRecords(
        _ range: ClosedRange<UInt64>, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try environment.read { txn in
            try txn.scan(events, from: EventLog.sequenceKey(range.lowerBound)) { key, value in
                let sequence = EventLog.decodeUInt64(key)
                guard sequence <= range.upperBound else { return false }
                return try body(sequence, value)
            }
        }
    }

    /// The sequences of every change to one object, oldest first.
    public func history(of key: ObjectKey) throws -> [UInt64] {
        let prefix = EventLog.objectKeyBytes(key) + [0]
        return try environment.read { txn in
            var sequences: [UInt64] = []
            try txn.scan(history, from: prefix) { entry, _ in
                guard entry.count == prefix.count + 8, entry.starts(with: prefix) else { return false }
                sequences.append(EventLog.decodeUInt64(entry[prefix.count...]))
                return true
            }
            return sequences
        }
    }

    /// The first sequence recorded at or after `time` (nil if none), from the time index.
    public func firstSequence(atOrAfter time: Timestamp) throws -> UInt64? {
        try environment.read { txn in
            var found: UInt64?
            try txn.scan(byTime, from: EventLog.timeKey(time, 0)) { key, _ in
                found = EventLog.decodeUInt64(key[8...])
                return false
            }
            return found
        }
    }

    /// The last sequence recorded at or before `time` (nil if none), from the time index.
    public func lastSequence(atOrBefore time: Timestamp) throws -> UInt64? {
        try environment.read { txn in
            var found: UInt64?
            try txn.scan(byTime, from: EventLog.timeKey(time, UInt64.max), reverse: true) { key, _ in
                found = EventLog.decodeUInt64(key[8...])
                return false
            }
            return found
        }
    }

    /// The current state of one object (deleted objects included, with `exists` false).
    public func state(of key: ObjectKey) throws -> ObjectState? {
        try environment.read { txn in
            try txn.withValue(objects, EventLog.objectKeyBytes(key)) { buffer in
                try buffer.map { try ObjectStateCodec.decode($0, key: key) }
            }
        }
    }

    /// Every object the store has seen, in key order (deleted ones included, with `exists` false).
    public func objectStates() throws -> [ObjectState] {
        try environment.read { txn in
            var states: [ObjectState] = []
            try txn.scan(objects) { keyBytes, value in
                if let key = EventLog.objectKey(from: keyBytes) {
                    states.append(try ObjectStateCodec.decode(value, key: key))
                }
                return true
            }
            return states
        }
    }

    /// Event counts kept at append time, by kind and by source.
    public func counters() throws -> (byKind: [ResourceKind: UInt64], bySource: [EventSource: UInt64]) {
        try environment.read { txn in
            var byKind: [ResourceKind: UInt64] = [:]
            var bySource: [EventSource: UInt64] = [:]
            try txn.scan(meta, from: Array("count.".utf8)) { key, value in
                let name = String(decoding: key, as: UTF8.self)
                guard name.hasPrefix("count.") else { return false }
                let count = EventLog.decodeUInt64(value)
                if name.hasPrefix("count.kind."), let kind = ResourceKind(rawValue: String(name.dropFirst(11))) {
                    byKind[kind] = count
                } else if name.hasPrefix("count.source."),
                    let source = EventSource(rawValue: String(name.dropFirst(13)))
                {
                    bySource[source] = count
                }
                return true
            }
            return (byKind, bySource)
        }
    }

    /// Writes a compact, consistent copy of the store into `directory` (which must be new or
    /// empty) while writers go on.
    public func backup(to directory: String) throws {
        if access(directory + "/data.mdb", F_OK) == 0 {
            throw LogError(.invalidBatch, "\(directory) already holds a store; back up into a new directory")
        }
        do {
            try environment.copy(to: directory, compact: true)
        } catch {
            throw LogError(.storage, "backup to \(directory) failed: \(error)", underlying: error)
        }
    }

    /// The outcome of `verify`.
    public struct VerifyReport: Sendable {
        /// Events checked.
        public var checked: UInt64
        /// The first bad sequence and what is wrong with it, or nil when all is well.
        public var failure: (sequence: UInt64, problem: String)?
        /// The head's checksum after the last good event.
        public var headDigest: Digest
    }

    /// Checks every record's checksum, the hash chain, the sequence's gaplessness and that every
    /// record decodes; stops at the first bad sequence. `progress` is called now and then with
    /// (checked, head).
    public func verify(progress: ((UInt64, UInt64) -> Void)? = nil) throws -> VerifyReport {
        try environment.read { txn in
            var expected: UInt64 = 1
            var previous = Digest.zero
            var failure: (UInt64, String)?
            let total = try txn.count(events)
            // The audit index is checked in the same scan (each event's postings), then for
            // postings no event has.
            var indexCheck = try auditIndexComplete(txn) ? audit.map { try AuditIndexCheck(txn, $0) } : nil
            try txn.scan(events) { key, value in
                let sequence = key.count == 8 ? EventLog.decodeUInt64(key) : 0
                if key.count != 8 || sequence != expected {
                    failure = (expected, key.count != 8 ? "malformed key" : "missing (next present is \(sequence))")
                    return false
                }
                let event: Event
                do {
                    event = try EventCodec.decode(value, verify: true)
                } catch {
                    failure = (sequence, "\(error)")
                    return false
                }
                if event.sequence != sequence {
                    failure = (sequence, "record claims sequence \(event.sequence)")
                    return false
                }
                if event.previousDigest != previous {
                    failure = (sequence, "hash chain broken: previous digest does not match event \(sequence - 1)")
                    return false
                }
                previous = event.checksum
                // An index problem is reported only when the log itself is intact (below).
                try indexCheck?.check(event, txn)
                if sequence % 65536 == 0 { progress?(sequence, UInt64(total)) }
                expected += 1
                return true
            }
            progress?(expected - 1, UInt64(total))
            if failure == nil, var indexCheck {
                try indexCheck.finish(txn)
                failure = indexCheck.failure
            }
            return VerifyReport(
                checked: expected - 1, failure: failure.map { (sequence: $0.0, problem: $0.1) }, headDigest: previous)
        }
    }

    private func decodeRecord(
        _ buffer: UnsafeRawBufferPointer, _ sequence: UInt64, _ shapes: [ResourceKind: ValueShape]
    ) throws -> Event {
        do {
            return try EventCodec.decode(buffer, objects: shapes)
        } catch {
            throw LogError(.corrupted, "event \(sequence) does not decode: \(error)", underlying: error)
        }
    }
}

extension EventLog {
    /// Map size and bytes in use, from LMDB.
    public struct StorageInfo: Sendable {
        /// The current map size in bytes.
        public let mapSize: Int
        /// Bytes of pages in use.
        public let usedBytes: Int
    }

    /// Map size and bytes in use.
    public var storageInfo: StorageInfo {
        let info = environment.info
        return StorageInfo(mapSize: info.mapSize, usedBytes: (info.lastPage + 1) * info.pageSize)
    }
}
