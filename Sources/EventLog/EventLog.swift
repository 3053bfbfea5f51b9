import Glibc
package import LMDBKit
public import MeshModel

import struct Crypto.SHA256

/// Why the log refused or failed an operation.
public struct LogError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A precondition (expected head or resourceVersion) did not hold; nothing was appended.
        public static let conflict = Code(rawValue: "conflict")
        /// A delete named an object that does not exist; nothing was appended.
        public static let notFound = Code(rawValue: "notFound")
        /// No store at the path (read-only open of a missing store).
        public static let noStore = Code(rawValue: "noStore")
        /// The store was written by an incompatible version.
        public static let formatMismatch = Code(rawValue: "formatMismatch")
        /// A record failed to decode or verify.
        public static let corrupted = Code(rawValue: "corrupted")
        /// A batch that contradicts itself or the command (resync of objects of another cluster).
        public static let invalidBatch = Code(rawValue: "invalidBatch")
        /// LMDB failed; `underlying` has its error.
        public static let storage = Code(rawValue: "storage")
        /// A replicated store cannot write now (no writer, or its log of record is unreachable or
        /// without quorum); nothing was appended, the caller may retry.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The batch's records exceed what one entry of the log of record may hold; nothing appended.
        public static let tooLarge = Code(rawValue: "tooLarge")
        /// A write the object's state forbids (a new finalizer on an object being deleted);
        /// nothing was appended.
        public static let forbidden = Code(rawValue: "forbidden")
    }

    /// What kind of failure.
    public let code: Code
    /// One line saying what happened.
    public let message: String
    /// The lower-level error, if any.
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}

/// One change to append: an upsert of a validated manifest or a delete of a key.
public struct Change: Sendable {
    /// What to do.
    public enum Operation: Sendable {
        /// Create or replace the object.
        case upsert(Manifest)
        /// Delete the object; the manifest, when given, is recorded as the deleted object.
        case delete(ObjectKey, Manifest?)
    }

    /// What to do.
    public var operation: Operation
    /// discovery, user or controller.
    public var source: EventSource
    /// Who.
    public var actor: String
    /// The actor's groups (an authenticated identity's), recorded with the event.
    public var groups: [String] = []
    /// The client that makes the change (an API write's field manager), recorded with the event.
    public var manager: String?
    /// Precondition: the sequence of the object's last change (its resourceVersion); 0 means the
    /// object must not exist.
    public var expectedVersion: UInt64?
    /// For deletes: a missing object is skipped instead of failing the batch.
    public var ignoreNotFound: Bool
    /// For upserts of kinds with a generation: the generation the object's own API server gave
    /// it (a recorded object's `metadata.generation`), taken as is; nil: counted here.
    public var sourceGeneration: UInt64?
    /// A write by a user or client through an API (not a recording of a cluster, nor a discovery
    /// agent's report): its object's finalizers hold a delete, the deletion mark is the log's, and
    /// the write that removes an object's last pending finalizer deletes it (docs/domain.md 3.4).
    public var honorsFinalizers = false

    /// Creates a change.
    public init(
        _ operation: Operation, source: EventSource, actor: String, expectedVersion: UInt64? = nil,
        ignoreNotFound: Bool = false, groups: [String] = []
    ) {
        self.operation = operation
        self.source = source
        self.actor = actor
        self.groups = groups
        self.expectedVersion = expectedVersion
        self.ignoreNotFound = ignoreNotFound
    }

    /// The key of the object changed.
    public var key: ObjectKey {
        switch operation {
        case .upsert(let manifest): manifest.key
        case .delete(let key, _): key
        }
    }
}

/// A full resync: existing objects of `kinds` (from `cluster`, in `namespace`, when given) that the
/// batch does not upsert are deleted, in the same transaction, each with its kind's source.
public struct Resync: Sendable {
    /// The cluster resynced (nil: objects of every cluster).
    public var cluster: String?
    /// The namespace resynced (nil: every namespace).
    public var namespace: String?
    /// The kinds resynced (a discovery agent's: Destination and Mesh).
    public var kinds: Set<ResourceKind>
    /// Who deletes the missing objects.
    public var actor: String
    /// Creates a resync.
    public init(cluster: String?, namespace: String? = nil, kinds: Set<ResourceKind>, actor: String) {
        self.cluster = cluster
        self.namespace = namespace
        self.kinds = kinds
        self.actor = actor
    }

    /// Whether an existing object is one the resync covers.
    func covers(_ state: ObjectState) -> Bool {
        kinds.contains(state.key.kind) && (cluster == nil || state.originCluster == cluster)
            && (namespace == nil || state.key.namespace == namespace)
    }
}

/// Changes appended atomically: all or nothing.
public struct Batch: Sendable {
    /// The changes, in order.
    public var changes: [Change]
    /// Precondition: the log's head must be this sequence.
    public var expectedHead: UInt64?
    /// A full resync to fold into the batch.
    public var resync: Resync?

    /// Creates a batch.
    public init(_ changes: [Change], expectedHead: UInt64? = nil, resync: Resync? = nil) {
        self.changes = changes
        self.expectedHead = expectedHead
        self.resync = resync
    }
}

/// What an append did.
public struct AppendResult: Sendable {
    /// What happened to one object.
    public enum Outcome: String, Sendable {
        case created, configured, unchanged, deleted, notFound
        /// A delete that is waiting for the object's finalizers: the object is marked
        /// (`metadata.deletionTimestamp`) and stays until its last finalizer is removed.
        case deleting
    }

    /// Per object, in order: the key, what happened, and the sequence appended (if any).
    public var outcomes: [(key: ObjectKey, outcome: Outcome, sequence: UInt64?)]
    /// The sequences appended, or nil when nothing was.
    public var range: ClosedRange<UInt64>?
    /// The head after the append.
    public var head: UInt64
    /// The events appended, as stored (a caller maintaining a projection folds these instead of
    /// reading them back).
    public var events: [Event] = []

    /// An outcome (a forwarded append's, as the writer reported it).
    public init(
        outcomes: [(key: ObjectKey, outcome: Outcome, sequence: UInt64?)], range: ClosedRange<UInt64>?, head: UInt64,
        events: [Event] = []
    ) {
        self.outcomes = outcomes
        self.range = range
        self.head = head
        self.events = events
    }
}

/// What the store knows about an object now (the `objects` index).
public struct ObjectState: Sendable, Hashable {
    /// The object's key.
    public var key: ObjectKey
    /// The sequence of its last change: its resourceVersion.
    public var lastSequence: UInt64
    /// Its current generation (user kinds).
    public var generation: UInt64
    /// False once deleted.
    public var exists: Bool
    /// SHA-256 of its canonical content (for no-op detection).
    public var contentHash: Digest
    /// SHA-256 of its canonical spec (for generation counting; zeros for kinds without one).
    public var specHash: Digest
    /// The cluster it came from, where known.
    public var originCluster: String?
    /// Whether the object is marked for deletion (`metadata.deletionTimestamp`).
    public var deleting = false
}

/// The append-only event log in LMDB (docs/domain.md section 3).
///
/// Databases: `events` (8-byte big-endian sequence → record, appended with `MDB_APPEND`),
/// `objects` (object key → `ObjectState`), `history` (object key + sequence, for per-object
/// history), `bytime` (recorded time + sequence, for `--since/--until`), `meta` (format, counters).
public final class EventLog: Sendable {
    /// How to open the log.
    public struct Options: Sendable {
        /// Open read-only (for queries, backups, read-only media).
        public var readOnly = false
        /// The initial map size; it grows automatically.
        public var mapSize = 64 << 20
        /// Skip fsync at commit (benchmarks only).
        public var noSync = false
        /// A replica's store: a system crash may undo its last transaction (the log of record in
        /// etcd has it and the replica applies it again), which saves one fsync per commit.
        public var noMetaSync = false
        /// Keep and use the audit index. False (benchmarks, to measure what the index costs and
        /// saves): appends write no entries and queries scan; a writable open then drops the
        /// index's completeness mark, so the next open with the index builds it again.
        public var auditIndex = true
        /// Called while a writable open builds the audit index of a store written before it
        /// existed, with (events indexed, head).
        public var auditIndexProgress: (@Sendable (UInt64, UInt64) -> Void)?
        /// The defaults: read-write, 64 MiB initial map, durable commits.
        public init() {}
    }

    /// The storage format of the store as a whole (databases and encodings).
    public static let storeFormat: UInt8 = 1
    static let databaseNames = ["events", "objects", "history", "bytime", "meta", "snapshots", "audit"]

    /// The LMDB environment (for this package's tests and tools; other modules see only the log).
    package let environment: Environment
    let events: Database
    let objects: Database
    let history: Database
    let byTime: Database
    let meta: Database
    let snapshots: Database
    /// The audit index (`EventLog+Audit.swift`); nil in a store written before it existed and
    /// opened read-only.
    let audit: Database?

    /// Opens the log in directory `path` (created on first write).
    public static func open(at path: String, options: Options = Options()) throws -> EventLog {
        if options.readOnly && access(path + "/data.mdb", F_OK) != 0 {
            throw LogError(.noStore, "no MeshLedger store at \(path)")
        }
        var envOptions = Environment.Options()
        envOptions.databases = databaseNames
        envOptions.optionalDatabases = [auditDatabase]
        envOptions.readOnly = options.readOnly
        envOptions.mapSize = options.mapSize
        envOptions.noSync = options.noSync
        envOptions.noMetaSync = options.noMetaSync
        let environment: Environment
        do {
            environment = try Environment.open(path: path, options: envOptions)
        } catch let error as LMDBError where error.code == .notFound {
            throw LogError(.noStore, "\(path) is not a MeshLedger store (databases missing)", underlying: error)
        } catch let error as LMDBError {
            throw LogError(.storage, "cannot open store at \(path): \(error.message)", underlying: error)
        }
        let log = EventLog(environment: environment, auditIndex: options.auditIndex)
        try log.checkFormat(writable: !options.readOnly)
        if !options.auditIndex {
            if !options.readOnly {
                try environment.write { txn in _ = try txn.delete(log.meta, EventLog.auditIndexedKey) }
            }
        } else if !options.readOnly && !log.auditIndexed {
            // An empty log is indexed as it grows; an older store's events are indexed now.
            var progress: ((UInt64, UInt64) -> Void)?
            if try log.head().sequence > 0, let report = options.auditIndexProgress { progress = report }
            try log.buildAuditIndex(progress: progress)
        }
        return log
    }

    private init(environment: Environment, auditIndex: Bool) {
        self.environment = environment
        events = environment.database("events")
        objects = environment.database("objects")
        history = environment.database("history")
        byTime = environment.database("bytime")
        meta = environment.database("meta")
        snapshots = environment.database("snapshots")
        audit = auditIndex ? environment.databaseIfPresent(EventLog.auditDatabase) : nil
    }

    private func checkFormat(writable: Bool) throws {
        let stored = try environment.read { txn in try txn.get(meta, Array("format".utf8)) }
        if let stored {
            guard stored == [EventLog.storeFormat] else {
                throw LogError(
                    .formatMismatch,
                    "store format \(stored.first ?? 0) is not supported by this version (it reads format \(EventLog.storeFormat))"
                )
            }
        } else if writable {
            try environment.write { txn in try txn.put(meta, Array("format".utf8), [EventLog.storeFormat]) }
        }
    }

    /// The head as a transaction sees it: the last record's sequence, checksum and time (zeros for
    /// an empty log). The one place a head is read; appends, replicated applies and readers call it.
    static func head<Access>(
        in txn: borrowing Transaction<Access>, _ events: Database
    ) throws -> (sequence: UInt64, digest: Digest, time: Timestamp) {
        var last: (UInt64, Digest, Timestamp) = (0, .zero, Timestamp(microseconds: 0))
        try txn.scan(events, reverse: true) { key, value in
            last = try EventLog.headFields(key, value)
            return false
        }
        return last
    }

    static func headFields(
        _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer
    ) throws -> (UInt64, Digest, Timestamp) {
        guard key.count == 8, value.count > 50, let checksum = EventCodec.storedChecksum(value) else {
            throw LogError(.corrupted, "the last event record is malformed")
        }
        var micros: UInt64 = 0
        for i in 9..<17 { micros = micros << 8 | UInt64(value[i]) }
        return (decodeUInt64(Array(key)), checksum, Timestamp(microseconds: Int64(bitPattern: micros)))
    }

    // MARK: - Keys

    /// The 8-byte big-endian key of a sequence number.
    public static func sequenceKey(_ sequence: UInt64) -> [UInt8] {
        withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
    }

    static func decodeUInt64<C: Collection<UInt8>>(_ bytes: C) -> UInt64 {
        bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func timeKey(_ time: Timestamp, _ sequence: UInt64) -> [UInt8] {
        // Flip the sign bit so that negative times (before 1970) sort first.
        sequenceKey(UInt64(bitPattern: time.microseconds) ^ (1 << 63)) + sequenceKey(sequence)
    }

    static func objectKeyBytes(_ key: ObjectKey) -> [UInt8] {
        Array(key.kind.rawValue.utf8) + [0] + Array(key.namespace.utf8) + [0] + Array(key.name.utf8)
    }

    static func objectKey(from bytes: UnsafeRawBufferPointer) -> ObjectKey? {
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let kind = ResourceKind(rawValue: String(decoding: parts[0], as: UTF8.self)) else {
            return nil
        }
        return ObjectKey(
            kind: kind, namespace: String(decoding: parts[1], as: UTF8.self),
            name: String(decoding: parts[2], as: UTF8.self))
    }
}

/// The encoding of `ObjectState` in the `objects` database.
enum ObjectStateCodec {
    static func encode(_ state: ObjectState) -> [UInt8] {
        var out = ByteWriter()
        out.byte(state.exists ? 1 : 0)
        out.uint64BE(state.lastSequence)
        out.varint(state.generation)
        out.bytes.append(contentsOf: state.contentHash.bytes)
        out.bytes.append(contentsOf: state.specHash.bytes)
        if let cluster = state.originCluster {
            out.varint(UInt64(cluster.utf8.count) + 1)
            out.bytes.append(contentsOf: cluster.utf8)
        } else {
            out.varint(0)
        }
        // Written only when set: a state without it has the encoding it always had.
        if state.deleting { out.byte(1) }
        return out.bytes
    }

    static func decode(_ buffer: UnsafeRawBufferPointer, key: ObjectKey) throws -> ObjectState {
        var reader = ByteReader(buffer: buffer)
        let exists = try reader.byte() == 1
        let last = try reader.uint64BE()
        let generation = try reader.varint()
        let content = Digest(bytes: try reader.bytes(32))
        let spec = Digest(bytes: try reader.bytes(32))
        let clusterLength = try reader.varint()
        let cluster: String? = clusterLength == 0 ? nil : try reader.string(length: Int(clamping: clusterLength - 1))
        let deleting = reader.isAtEnd ? false : try reader.byte() == 1
        return ObjectState(
            key: key, lastSequence: last, generation: generation, exists: exists, contentHash: content,
            specHash: spec, originCluster: cluster, deleting: deleting)
    }
}
