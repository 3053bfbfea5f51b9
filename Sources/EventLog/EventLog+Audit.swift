internal import LMDBKit
public import MeshModel

/// A field of an event that audit queries filter on, indexed in the `audit` database: one entry
/// per event and value, `field, value (UTF-8), 0, sequence (8 bytes, big-endian)`, written in the
/// transaction that appends the event (or applies it on a replica), so the index cannot disagree
/// with the log. A filter is answered by seeking in its value's range; several filters by a
/// leapfrog join of their ranges (each seek lands on the next sequence at or after a candidate),
/// so a combined query reads the entries near its answers, not the log.
public enum AuditField: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The authenticated user (or the discovery agent or controller) that made the change.
    case actor = 0x61  // a
    /// Each group of the actor's identity.
    case group = 0x67  // g
    /// `discovery`, `user` or `controller`.
    case source = 0x73  // s
    /// The cluster the object came from, where known.
    case cluster = 0x63  // c
    /// The object's kind.
    case kind = 0x6B  // k
    /// The object's name, across kinds and namespaces.
    case name = 0x6E  // n
    /// The object's namespace.
    case namespace = 0x4E  // N

    public var description: String {
        switch self {
        case .actor: "actor"
        case .group: "group"
        case .source: "source"
        case .cluster: "cluster"
        case .kind: "kind"
        case .name: "name"
        case .namespace: "namespace"
        }
    }

    /// An event's values of this field.
    func values(_ event: Event) -> [String] {
        switch self {
        case .actor: [event.actor]
        case .group: event.groups
        case .source: [event.source.rawValue]
        case .cluster: event.originCluster.map { [$0] } ?? []
        case .kind: [event.key.kind.rawValue]
        case .name: [event.key.name]
        case .namespace: [event.key.namespace]
        }
    }
}

/// One audit filter: a field and the value it must have.
public struct AuditTerm: Sendable, Hashable {
    public var field: AuditField
    public var value: String

    public init(_ field: AuditField, _ value: String) {
        self.field = field
        self.value = value
    }

    /// The entries' common prefix.
    var prefix: [UInt8] { [field.rawValue] + Array(value.utf8) + [0] }
}

extension EventLog {
    /// The database name of the audit index, and the meta key that says it covers the whole log.
    static let auditDatabase = "audit"
    static let auditIndexedKey = Array("audit.indexed".utf8)

    /// Every audit index entry of an event.
    static func auditKeys(_ event: Event) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        let sequence = EventLog.sequenceKey(event.sequence)
        for field in AuditField.allCases {
            for value in Set(field.values(event)) { keys.append(AuditTerm(field, value).prefix + sequence) }
        }
        return keys
    }

    /// Indexes an event, in the transaction that writes it.
    func indexAudit(_ event: Event, _ txn: borrowing WriteTransaction) throws {
        guard let audit else { return }
        for key in EventLog.auditKeys(event) { try txn.put(audit, key, []) }
    }

    /// Whether the audit index covers every event (false for a store written before it existed
    /// and opened read-only: its queries scan).
    public var auditIndexed: Bool {
        guard audit != nil else { return false }
        return (try? environment.read { txn in try txn.get(meta, EventLog.auditIndexedKey) }) != nil
    }

    /// Builds the audit index of every event (a store written before it existed), a chunk of
    /// events per transaction, then marks it complete in the transaction that indexes the last
    /// events. Appends by other processes meanwhile index themselves. `progress` is called with
    /// (indexed, head) after each chunk.
    public func buildAuditIndex(chunk: UInt64 = 100_000, progress: ((UInt64, UInt64) -> Void)? = nil) throws {
        guard let audit else {
            throw LogError(.storage, "the store is open read-only: its audit index cannot be built")
        }
        try environment.write { txn in try txn.clear(audit) }
        var next: UInt64 = 1
        while true {
            // The body may run again (a grown map): it changes nothing outside the transaction.
            let (last, head) = try environment.write { txn -> (UInt64, UInt64) in
                let head = try EventLog.head(in: txn, events).sequence
                let last = min(head, next + chunk - 1)
                if next <= last {
                    try txn.scan(events, from: EventLog.sequenceKey(next)) { key, value in
                        guard EventLog.decodeUInt64(key) <= last else { return false }
                        let event = try EventCodec.decode(value, objects: EventLog.headersOnly)
                        for entry in EventLog.auditKeys(event) { try txn.put(audit, entry, []) }
                        return true
                    }
                }
                if last == head { try txn.put(meta, EventLog.auditIndexedKey, [1]) }
                return (last, head)
            }
            progress?(last, head)
            if last == head { return }
            next = last + 1
        }
    }

    /// The shapes that decode no object: for readers of events' headers alone (the audit index,
    /// an object's lives).
    public static let headersOnly: [ResourceKind: ValueShape] = Dictionary(
        uniqueKeysWithValues: ResourceKind.allCases.map { ($0, [:]) })

    /// The sequences in `range` whose events have every term's value, ascending, at most `limit`
    /// of them (read again from the last one + 1 for more). Needs `auditIndexed`.
    public func auditSequences(
        _ terms: [AuditTerm], in range: ClosedRange<UInt64>, limit: Int = 1024
    ) throws -> [UInt64] {
        guard let audit, !terms.isEmpty else { return [] }
        return try environment.read { txn in
            let prefixes = terms.map(\.prefix)
            var result: [UInt64] = []
            var candidate = range.lowerBound
            search: while candidate <= range.upperBound && result.count < limit {
                for prefix in prefixes {
                    guard let found = try EventLog.seek(txn, audit, prefix, candidate), found <= range.upperBound else {
                        break search
                    }
                    if found > candidate {
                        candidate = found
                        continue search
                    }
                }
                result.append(candidate)
                if candidate == UInt64.max { break }
                candidate += 1
            }
            return result
        }
    }

    /// The first sequence at or after `from` in the entries with `prefix`, or nil.
    private static func seek(
        _ txn: borrowing ReadTransaction, _ audit: Database, _ prefix: [UInt8], _ from: UInt64
    ) throws -> UInt64? {
        var found: UInt64?
        try txn.scan(audit, from: prefix + EventLog.sequenceKey(from)) { key, _ in
            guard key.starts(with: prefix) else { return false }
            // A longer value that starts with this one and a 0 byte: not this term's.
            guard key.count == prefix.count + 8 else { return true }
            found = EventLog.decodeUInt64(UnsafeRawBufferPointer(rebasing: key[prefix.count...]))
            return false
        }
        return found
    }

    /// Whether `verify` checks the audit index (it covers the whole log).
    func auditIndexComplete(_ txn: borrowing ReadTransaction) throws -> Bool {
        try audit != nil && txn.get(meta, EventLog.auditIndexedKey) != nil
    }

    /// For `verify`, per event in its one scan of the log: the first of the event's audit index
    /// entries that is missing, or nil; `entries` counts the entries the events have.
    func auditIndexMissing(_ event: Event, _ txn: borrowing ReadTransaction, entries: inout Int) throws -> String? {
        guard let audit else { return nil }
        for entry in EventLog.auditKeys(event) {
            entries += 1
            if try txn.get(audit, entry) == nil {
                return "the audit index has no entry \(EventLog.describeAuditKey(entry))"
            }
        }
        return nil
    }

    /// For `verify`, after its scan found every event's entries: when the index holds more than
    /// the `entries` the events have, one that no event has.
    func auditIndexExtra(_ txn: borrowing ReadTransaction, entries: Int) throws -> (sequence: UInt64, problem: String)?
    {
        guard let audit, try txn.count(audit) != entries else { return nil }
        var failure: (UInt64, String)?
        try txn.scan(audit) { key, _ in
            guard key.count > 9 else {
                failure = (0, "the audit index has a malformed entry")
                return false
            }
            let sequence = EventLog.decodeUInt64(UnsafeRawBufferPointer(rebasing: key[(key.count - 8)...]))
            let entry = Array(key)
            let event = try txn.withValue(events, EventLog.sequenceKey(sequence)) { buffer in
                try buffer.map { try EventCodec.decode($0, objects: EventLog.headersOnly) }
            }
            if let event, EventLog.auditKeys(event).contains(entry) { return true }
            failure = (sequence, "the audit index entry \(EventLog.describeAuditKey(entry)) disagrees with the log")
            return false
        }
        return failure
    }

    /// `field=value @sequence`, for a message.
    static func describeAuditKey(_ key: [UInt8]) -> String {
        guard key.count > 9, let field = AuditField(rawValue: key[0]) else { return "(malformed)" }
        let value = String(decoding: key[1..<(key.count - 9)], as: UTF8.self)
        let sequence = key[(key.count - 8)...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return "\(field)=\(value) @\(sequence)"
    }
}
