internal import LMDBKit
public import MeshModel

/// A field of an event that audit queries filter on. The identity's (actor, groups), the source
/// and the cluster are indexed in the `audit` database as posting blocks (`AuditBlock`): per
/// transaction and value, the sequences of the events that have it,
/// under the key `field, value (UTF-8), 0, last sequence (8 bytes, big-endian)`, written in the
/// transaction that appends the events (or applies them on a replica), so the index cannot
/// disagree with the log. A filter is answered by seeking in its value's blocks; several filters
/// by a leapfrog join (each seek lands on the next sequence at or after a candidate), so a
/// combined query reads the blocks near its answers, not the log.
///
/// The name is answered otherwise: its values are as many as the objects, so posting it would
/// touch a page per object changed in every transaction. Its filter reads the objects of that
/// name (an entry `o, name, 0, object key` per object, written when the object first appears)
/// and joins their histories, the per-object index every append writes anyway. Kind and
/// namespace narrow those objects and filter the other filters' answers (decision 0019).
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

    /// Whether the field's values have postings: the identity's (actor, groups), the source and
    /// the cluster. The name is answered from its objects' histories; kind and namespace filter
    /// the other filters' candidates (alone they select a large share of the log: a scan).
    var isPosted: Bool { [.actor, .group, .source, .cluster].contains(self) }

    /// Whether a filter on the field is answered from the index (posted, or the name).
    public var isIndexed: Bool { isPosted || self == .name }

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
    package var prefix: [UInt8] { [field.rawValue] + Array(value.utf8) + [0] }
}

/// One block of an audit value's postings: ascending sequences, stored as a varint count, the
/// first sequence and the gaps to each next one (varints), under a key that ends with the last.
/// A transaction writes one block per value it touches (split at `capacity`), so a batch of a
/// thousand events writes a few hundred entries, not seven thousand.
package enum AuditBlock {
    /// The most sequences in one block (a block stays well inside an LMDB page).
    package static let capacity = 512

    package static func encode(_ sequences: ArraySlice<UInt64>) -> [UInt8] {
        var out = ByteWriter()
        out.varint(UInt64(sequences.count))
        var previous: UInt64 = 0
        for sequence in sequences {
            out.varint(sequence - previous)
            previous = sequence
        }
        return out.bytes
    }

    /// The sequences of a block whose key ends with `last`; nil when it is malformed (empty, not
    /// ascending, trailing bytes, or not ending at `last`).
    package static func decode(_ buffer: UnsafeRawBufferPointer, last: UInt64) -> [UInt64]? {
        var reader = ByteReader(buffer: buffer)
        guard let sequences = read(&reader), reader.isAtEnd, sequences.last == last else { return nil }
        return sequences
    }

    /// The first block of the value `prefix` whose last sequence is at or after `from` (the block
    /// holding the value's next sequence from there: a value's blocks are disjoint ascending
    /// runs): its last sequence and its sequences, or nil when there is none. A block that does
    /// not decode is `LogError.corrupted`, naming it.
    static func first<Access>(
        _ prefix: [UInt8], atOrAfter from: UInt64, _ txn: borrowing Transaction<Access>, _ audit: Database
    ) throws -> (last: UInt64, sequences: [UInt64])? {
        var found: (last: UInt64, sequences: [UInt64])?
        var malformed: UInt64?
        try txn.scan(audit, from: prefix + EventLog.sequenceKey(from)) { key, value in
            guard key.starts(with: prefix) else { return false }
            // A longer value that starts with this one and a 0 byte: not this value's.
            guard key.count == prefix.count + 8 else { return true }
            let last = EventLog.decodeUInt64(UnsafeRawBufferPointer(rebasing: key[prefix.count...]))
            if let sequences = decode(value, last: last) { found = (last, sequences) } else { malformed = last }
            return false
        }
        if let malformed {
            throw LogError(
                .corrupted,
                "the audit index block \(EventLog.describeTerm(prefix)) @\(malformed) is malformed; `meshledger reindex` rebuilds it"
            )
        }
        return found
    }

    /// Reads what `encode` wrote: nil when it is empty, not ascending or cut short.
    static func read(_ reader: inout ByteReader) -> [UInt64]? {
        guard let count = try? reader.count(), count > 0 else { return nil }
        var sequences: [UInt64] = []
        sequences.reserveCapacity(count)
        var previous: UInt64 = 0
        for _ in 0..<count {
            guard let gap = try? reader.varint(), gap > 0 else { return nil }
            let (sequence, overflow) = previous.addingReportingOverflow(gap)
            guard !overflow else { return nil }
            sequences.append(sequence)
            previous = sequence
        }
        return sequences
    }
}

/// The postings a transaction adds to the audit index: per value, the sequences of its events
/// (ascending, as they are appended). A small transaction writes them as one tail entry (`t`,
/// its first sequence), a page for all its values instead of one per value; once the tail holds
/// `AuditTail.limit` entries, or the transaction is large, the tail and the transaction's
/// postings are folded into blocks together (the blocks of a value stay ascending, the tail
/// after them).
struct AuditPostings {
    private var postings: [[UInt8]: [UInt64]] = [:]
    private var first: UInt64?
    private var events = 0

    /// Adds an event's values.
    mutating func add(_ event: Event) {
        if first == nil { first = event.sequence }
        events += 1
        for prefix in EventLog.auditPrefixes(event) { postings[prefix, default: []].append(event.sequence) }
    }

    /// Writes the postings into `audit` (nil: a log opened without the index writes nothing);
    /// `fold` writes blocks whatever the size (building the index).
    func write(_ audit: Database?, _ txn: borrowing WriteTransaction, fold: Bool = false) throws {
        guard let audit, let first else { return }
        if try !fold && events < AuditTail.smallTransaction && AuditTail.count(txn, audit) < AuditTail.limit {
            try txn.put(audit, AuditTail.key(first), AuditTail.encode(postings))
            return
        }
        let tail = try AuditTail.read(txn, audit)
        var merged = tail.postings
        for (prefix, sequences) in postings { merged[prefix, default: []] += sequences }
        for key in tail.entries { _ = try txn.delete(audit, key) }
        for (prefix, sequences) in merged {
            var start = sequences.startIndex
            while start < sequences.endIndex {
                let end = min(start + AuditBlock.capacity, sequences.endIndex)
                let block = sequences[start..<end]
                try txn.put(audit, prefix + EventLog.sequenceKey(block.last!), AuditBlock.encode(block))
                start = end
            }
        }
    }
}

/// The audit index's tail: the postings of the last small transactions, one entry each, not yet
/// folded into blocks. Its sequences follow every block's.
enum AuditTail {
    /// The first byte of a tail entry's key (then the transaction's first sequence).
    static let marker: UInt8 = 0x74  // t
    /// Tail entries before they are folded into blocks.
    static let limit = 32
    /// A transaction with this many events or more writes blocks at once.
    static let smallTransaction = 64

    static func key(_ first: UInt64) -> [UInt8] { [marker] + EventLog.sequenceKey(first) }

    /// How many entries the tail has (keys only: what a small transaction reads).
    static func count(_ txn: borrowing WriteTransaction, _ audit: Database) throws -> Int {
        var count = 0
        try txn.scan(audit, from: [marker]) { key, _ in
            guard key.first == marker else { return false }
            count += 1
            return true
        }
        return count
    }

    /// A varint count of values, then per value its prefix (a varint length and the bytes), a
    /// varint count and the sequences as gaps.
    static func encode(_ postings: [[UInt8]: [UInt64]]) -> [UInt8] {
        var out = ByteWriter()
        out.varint(UInt64(postings.count))
        for (prefix, sequences) in postings.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            out.varint(UInt64(prefix.count))
            out.bytes += prefix
            out.bytes += AuditBlock.encode(sequences[...])
        }
        return out.bytes
    }

    /// The tail's entries (keys) and their postings merged per value, in sequence order; throws
    /// on a malformed entry.
    static func read<Access>(
        _ txn: borrowing Transaction<Access>, _ audit: Database
    ) throws -> (
        entries: [[UInt8]], postings: [[UInt8]: [UInt64]]
    ) {
        var entries: [[UInt8]] = []
        var postings: [[UInt8]: [UInt64]] = [:]
        var malformed = false
        try txn.scan(audit, from: [marker]) { key, value in
            guard key.first == marker else { return false }
            guard key.count == 9, let decoded = decode(value) else {
                malformed = true
                return false
            }
            entries.append(Array(key))
            for (prefix, sequences) in decoded {
                guard postings[prefix]?.last.map({ $0 < sequences[0] }) ?? true else {
                    malformed = true
                    return false
                }
                postings[prefix, default: []] += sequences
            }
            return true
        }
        if malformed {
            throw LogError(.corrupted, "the audit index's tail is malformed; `meshledger reindex` rebuilds it")
        }
        return (entries, postings)
    }

    private static func decode(_ buffer: UnsafeRawBufferPointer) -> [([UInt8], [UInt64])]? {
        var reader = ByteReader(buffer: buffer)
        guard let count = try? reader.count() else { return nil }
        var result: [([UInt8], [UInt64])] = []
        for _ in 0..<count {
            guard let length = try? reader.count(), length > 1, reader.index + length <= buffer.count else {
                return nil
            }
            let prefix = Array(buffer[reader.index..<(reader.index + length)])
            reader.index += length
            guard let sequences = AuditBlock.read(&reader) else { return nil }
            result.append((prefix, sequences))
        }
        return reader.isAtEnd ? result : nil
    }
}

extension EventLog {
    /// The database name of the audit index, and the meta key that says it covers the whole log.
    static let auditDatabase = "audit"
    static let auditIndexedKey = Array("audit.indexed".utf8)
    /// The index's layout, the value of its completeness mark: 2, posting blocks (a store whose
    /// mark says 1, one entry per event and value, is indexed again on its next writable open).
    static let auditIndexFormat: [UInt8] = [2]

    /// The first byte of the entries that list the objects of a name.
    static let objectByName: UInt8 = 0x6F  // o

    /// The entry that lists an object under its name.
    static func nameEntry(_ key: ObjectKey) -> [UInt8] {
        [objectByName] + Array(key.name.utf8) + [0] + objectKeyBytes(key)
    }

    /// Lists the objects that do not have their name entry yet (new ones), in a write.
    static func indexNames(
        _ keys: some Sequence<ObjectKey>, _ audit: Database?, _ txn: borrowing WriteTransaction
    )
        throws
    {
        guard let audit else { return }
        for key in keys {
            let entry = nameEntry(key)
            if try txn.get(audit, entry) == nil { try txn.put(audit, entry, []) }
        }
    }

    /// The objects named `name` (of `kind` and in `namespace` when given), as their history
    /// prefixes.
    static func historyPrefixes(
        named name: String, kind: String?, namespace: String?, _ txn: borrowing ReadTransaction, _ audit: Database
    ) throws -> [[UInt8]] {
        let prefix = [objectByName] + Array(name.utf8) + [0]
        var prefixes: [[UInt8]] = []
        try txn.scan(audit, from: prefix) { key, _ in
            guard key.starts(with: prefix) else { return false }
            let objectKey = UnsafeRawBufferPointer(rebasing: key[prefix.count...])
            // Not a longer name that starts with this one and a 0 byte.
            if let object = EventLog.objectKey(from: objectKey), object.name == name,
                kind == nil || object.kind.rawValue == kind, namespace == nil || object.namespace == namespace
            {
                prefixes.append(Array(objectKey) + [0])
            }
            return true
        }
        return prefixes
    }

    /// The prefixes of an event's posting entries: one per posted field and distinct value.
    static func auditPrefixes(_ event: Event) -> [[UInt8]] {
        var prefixes: [[UInt8]] = []
        for field in AuditField.allCases where field.isPosted {
            let values = field.values(event)
            for (index, value) in values.enumerated() where !values[..<index].contains(value) {
                prefixes.append(AuditTerm(field, value).prefix)
            }
        }
        return prefixes
    }

    /// Whether the audit index covers every event (false for a store written before it existed
    /// and opened read-only: its queries scan).
    public var auditIndexed: Bool {
        guard audit != nil else { return false }
        return (try? environment.read { txn in try txn.get(meta, EventLog.auditIndexedKey) })
            == EventLog.auditIndexFormat
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
                    var postings = AuditPostings()
                    var objects = Set<ObjectKey>()
                    try txn.scan(events, from: EventLog.sequenceKey(next)) { key, value in
                        guard EventLog.decodeUInt64(key) <= last else { return false }
                        let event = try EventCodec.decode(value, objects: EventLog.headersOnly)
                        postings.add(event)
                        objects.insert(event.key)
                        return true
                    }
                    try postings.write(audit, txn, fold: true)
                    try EventLog.indexNames(objects, audit, txn)
                }
                if last == head { try txn.put(meta, EventLog.auditIndexedKey, EventLog.auditIndexFormat) }
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

    /// The sequences in `range` whose events have every indexed term's value (`AuditField.isIndexed`;
    /// kind and namespace only narrow a name's objects), ascending, at most `limit` of them (read
    /// again from the last one + 1 for more); none without an indexed term. Needs `auditIndexed`.
    public func auditSequences(
        _ terms: [AuditTerm], in range: ClosedRange<UInt64>, limit: Int = 1024
    ) throws -> [UInt64] {
        guard let audit, !terms.isEmpty else { return [] }
        return try environment.read { txn in
            // Kind and namespace narrow a name's objects; the caller applies them to the rest.
            let kind = terms.first { $0.field == .kind }?.value
            let namespace = terms.first { $0.field == .namespace }?.value
            let tail = try AuditTail.read(txn, audit).postings
            var cursors: [AuditCursor] = []
            for term in terms where term.field.isIndexed {
                if term.field.isPosted {
                    cursors.append(AuditCursor(prefix: term.prefix, tail: tail[term.prefix] ?? []))
                } else {
                    let objects = try EventLog.historyPrefixes(
                        named: term.value, kind: kind, namespace: namespace, txn, audit)
                    cursors.append(AuditCursor(histories: objects))
                }
            }
            guard !cursors.isEmpty else { return [] }
            var result: [UInt64] = []
            var candidate = range.lowerBound
            search: while candidate <= range.upperBound && result.count < limit {
                for index in cursors.indices {
                    guard let found = try cursors[index].seek(candidate, txn, audit: audit, history: history),
                        found <= range.upperBound
                    else {
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

    /// Whether `verify` checks the audit index (it covers the whole log).
    func auditIndexComplete(_ txn: borrowing ReadTransaction) throws -> Bool {
        try audit != nil && txn.get(meta, EventLog.auditIndexedKey) == EventLog.auditIndexFormat
    }
}

/// Reads one filter's sequences for a join: a value's postings (the block holding the next
/// sequence at or after a point, kept decoded while later points fall in it: a join's points
/// only grow), or, for a name, the union of its objects' histories.
struct AuditCursor {
    private let prefix: [UInt8]
    private let histories: [[UInt8]]?
    /// The value's sequences in the tail (after every block's).
    private let tail: [UInt64]
    private var block: [UInt64] = []

    init(prefix: [UInt8], tail: [UInt64]) {
        self.prefix = prefix
        self.tail = tail
        histories = nil
    }

    init(histories: [[UInt8]]) {
        prefix = []
        tail = []
        self.histories = histories
    }

    /// The first sequence at or after `from` this filter selects, or nil. `from` must not be
    /// less than the one before.
    mutating func seek(
        _ from: UInt64, _ txn: borrowing ReadTransaction, audit: Database, history: Database
    ) throws -> UInt64? {
        if let histories {
            var first: UInt64?
            for prefix in histories {
                try txn.scan(history, from: prefix + EventLog.sequenceKey(from)) { key, _ in
                    if key.count == prefix.count + 8 && key.starts(with: prefix) {
                        let found = EventLog.decodeUInt64(UnsafeRawBufferPointer(rebasing: key[prefix.count...]))
                        first = min(first ?? found, found)
                    }
                    return false
                }
            }
            return first
        }
        if let last = block.last, last >= from { return block[block.partitionPoint { $0 >= from }] }
        block = try AuditBlock.first(prefix, atOrAfter: from, txn, audit)?.sequences ?? []
        if !block.isEmpty { return block[block.partitionPoint { $0 >= from }] }
        guard let last = tail.last, last >= from else { return nil }
        return tail[tail.partitionPoint { $0 >= from }]
    }
}

/// `verify`'s check of the audit index, in its one scan of the log: each event's values must be
/// the next sequence of each value's postings, and after the scan no value may have postings
/// left, nor any value no event has; every object an event changed must be listed under its
/// name, and no other. The first disagreement is kept.
struct AuditIndexCheck {
    private struct Reader {
        var pending: ArraySlice<UInt64> = []
        var after: UInt64 = 0
        var exhausted = false
    }

    /// The index checked.
    private let audit: Database
    private var readers: [[UInt8]: Reader] = [:]
    /// The tail's postings.
    private var tail: [[UInt8]: [UInt64]] = [:]
    /// The objects the events changed, with the first sequence of each.
    private var objects: [ObjectKey: UInt64] = [:]
    private(set) var failure: (sequence: UInt64, problem: String)?

    /// A check of the index in `audit`, starting with its tail.
    init(_ txn: borrowing ReadTransaction, _ audit: Database) throws {
        self.audit = audit
        do {
            tail = try AuditTail.read(txn, audit).postings
        } catch let error as LogError {
            failure = (0, error.message)
        }
    }

    /// Checks an event's entries.
    mutating func check(_ event: Event, _ txn: borrowing ReadTransaction) throws {
        guard failure == nil else { return }
        if objects[event.key] == nil { objects[event.key] = event.sequence }
        for prefix in EventLog.auditPrefixes(event) {
            var reader = readers[prefix] ?? Reader()
            let next = try Self.next(&reader, prefix, tail: tail[prefix] ?? [], txn, audit)
            readers[prefix] = reader
            let term = EventLog.describeTerm(prefix)
            switch next {
            case .failure(let problem):
                failure = (event.sequence, problem)
            case .sequence(let found?) where found == event.sequence:
                continue
            case .sequence(let found?) where found < event.sequence:
                failure = (found, "the audit index has \(term) @\(found), which event \(found) does not have")
            default:
                failure = (event.sequence, "the audit index has no entry \(term) @\(event.sequence)")
            }
            return
        }
    }

    /// After the scan: postings no event had.
    mutating func finish(_ txn: borrowing ReadTransaction) throws {
        guard failure == nil else { return }
        for prefix in readers.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var reader = readers[prefix]!
            switch try Self.next(&reader, prefix, tail: tail[prefix] ?? [], txn, audit) {
            case .failure(let problem):
                failure = (0, problem)
                return
            case .sequence(let found?):
                failure = (
                    found,
                    "the audit index has \(EventLog.describeTerm(prefix)) @\(found), which event \(found) does not have"
                )
                return
            case .sequence(nil): continue
            }
        }
        var extra: (UInt64, String)?
        var listed = Set<ObjectKey>()
        try txn.scan(audit) { key, value in
            if key.first == AuditTail.marker { return true }
            if key.first == EventLog.objectByName {
                guard let zero = key.firstIndex(of: 0),
                    let object = EventLog.objectKey(from: UnsafeRawBufferPointer(rebasing: key[(zero + 1)...])),
                    Array(key) == EventLog.nameEntry(object), objects[object] != nil
                else {
                    extra = (0, "the audit index lists an object under a name that no event changed")
                    return false
                }
                listed.insert(object)
                return true
            }
            guard key.count > 10, key[key.count - 9] == 0 else {
                extra = (0, "the audit index has a malformed entry")
                return false
            }
            let prefix = Array(key.dropLast(8))
            guard readers[prefix] == nil else { return true }
            let last = EventLog.decodeUInt64(UnsafeRawBufferPointer(rebasing: key[(key.count - 8)...]))
            let first = AuditBlock.decode(value, last: last)?.first ?? last
            extra = (
                first,
                "the audit index has \(EventLog.describeTerm(prefix)) @\(first), which event \(first) does not have"
            )
            return false
        }
        if extra == nil,
            let (prefix, sequences) = tail.filter({ readers[$0.key] == nil }).min(by: {
                $0.value[0] < $1.value[0]
            })
        {
            extra = (
                sequences[0],
                "the audit index has \(EventLog.describeTerm(prefix)) @\(sequences[0]), which event \(sequences[0]) does not have"
            )
        }
        if let extra {
            failure = (sequence: extra.0, problem: extra.1)
        } else if let (object, first) = objects.filter({ !listed.contains($0.key) }).min(by: { $0.value < $1.value }) {
            failure = (first, "the audit index does not list \(object) under its name")
        }
    }

    private enum Next {
        case sequence(UInt64?)
        case failure(String)
    }

    /// The value's next posting, reading its next block when the current one is used up, and
    /// its tail after the last block.
    private static func next(
        _ reader: inout Reader, _ prefix: [UInt8], tail: [UInt64], _ txn: borrowing ReadTransaction,
        _ audit: Database
    ) throws -> Next {
        if reader.pending.isEmpty && !reader.exhausted {
            let block: (last: UInt64, sequences: [UInt64])?
            do {
                block = try AuditBlock.first(prefix, atOrAfter: reader.after, txn, audit)
            } catch let error as LogError {
                return .failure(error.message)
            }
            if let block {
                // Blocks are disjoint: one reaching back before the last one's end is malformed.
                guard block.sequences[0] >= reader.after else {
                    return .failure(
                        "the audit index block \(EventLog.describeTerm(prefix)) @\(block.last) is malformed; `meshledger reindex` rebuilds it"
                    )
                }
                reader.pending = block.sequences[...]
                reader.after = block.last + 1
            } else {
                reader.pending = tail[...]
                reader.exhausted = true
            }
        }
        return .sequence(reader.pending.popFirst())
    }
}

extension EventLog {
    /// `field=value`, for a message.
    static func describeTerm(_ prefix: [UInt8]) -> String {
        guard prefix.count >= 2, let field = AuditField(rawValue: prefix[0]) else { return "(malformed)" }
        return "\(field)=\(String(decoding: prefix[1..<(prefix.count - 1)], as: UTF8.self))"
    }
}
