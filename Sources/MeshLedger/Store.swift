public import EventLog
import Foundation
import Glibc
public import MeshModel

/// The MeshLedger store: the event log plus what the commands ask of it.
///
/// This is the facade every front end (the CLI, the HTTP API) talks to. The use cases live here
/// once: the batches of `Batches.swift`, the queries, explanations, outputs and history; the
/// front ends parse their input, call them and render.
public final class Store: Sendable {
    /// The event log underneath.
    public let log: EventLog
    /// The store directory.
    public let path: String

    /// Opens the store at `path`; a writable open creates it.
    public init(path: String, readOnly: Bool = false, options: EventLog.Options = EventLog.Options()) throws {
        var options = options
        options.readOnly = readOnly
        if options.auditIndexProgress == nil {
            // A store written before the audit index: its first writable open builds it.
            options.auditIndexProgress = { indexed, head in
                FileHandle.standardError.write(Data("indexing the audit log: \(indexed) of \(head) events\n".utf8))
            }
        }
        self.path = path
        self.log = try EventLog.open(at: path, options: options)
    }

    // MARK: - Reading

    /// Runs an audit query and hands each matching event to `body`, oldest first, until it
    /// returns false. One object's events come from its history; the identity, source, cluster
    /// and name filters from the audit index (a join, `EventLog.auditSequences`), kind and
    /// namespace then applied to its answers; a query with no other filter than kind and
    /// namespace, or on a store without the index (written before it, opened read-only: see
    /// `answersFromIndex`), scans the range.
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
        let terms = query.auditTerms
        if terms.contains(where: \.field.isIndexed) && log.auditIndexed {
            var low = range.lowerBound
            while low <= range.upperBound {
                let sequences = try log.auditSequences(terms, in: low...range.upperBound)
                guard let last = sequences.last else { return }
                try Task.checkCancellation()
                for event in try log.events(at: sequences) {
                    guard let event else { continue }
                    if query.matches(event), try !body(event) { return }
                }
                guard last < range.upperBound else { return }
                low = last + 1
            }
            return
        }
        try log.scan(range) { event in
            // A long scan ends when the request that asked for it is gone.
            if event.sequence % 1024 == 0 { try Task.checkCancellation() }
            return query.matches(event) ? try body(event) : true
        }
    }

    /// Whether a filtered log query is answered from the audit index; false for a store written
    /// before the index existed and opened read-only (its queries scan the log; a writable open,
    /// or `meshledger reindex`, builds the index).
    public func answersFromIndex(_ query: LogQuery) -> Bool {
        query.exactKey != nil || !query.auditTerms.contains(where: \.field.isIndexed) || log.auditIndexed
    }

    /// Builds the audit index again from the log (`meshledger reindex`), with a progress line
    /// per 100,000 events.
    public func reindex(progress: ((UInt64, UInt64) -> Void)? = nil) throws {
        try log.buildAuditIndex(progress: progress)
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
