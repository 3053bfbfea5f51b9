import EventLog
import Foundation
import LMDBKit
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

/// The audit index: every filter of `log` answered from it gives what a full scan gives; `verify`
/// names an entry that disagrees with the log; a store written before it gains it.
@Suite struct AuditIndexTests {
    /// A store of a seeded chaos stream (discovery, users, controllers, clusters), each user
    /// change by alice or bob with groups.
    func chaosStore(seed: UInt64, batches: Int) throws -> Store {
        let store = try temporaryStore("audit-\(seed)")
        var stream = ChaosStream(seed: seed, clusters: 3)
        var random = SplitMix64(seed: seed)
        for _ in 0..<batches {
            var changes = try stream.next()
            for index in changes.indices where changes[index].source == .user {
                changes[index].groups = [["admins"], ["admins", "auditors"], [], ["auditors"]][Int(random.next() % 4)]
            }
            _ = try store.log.append(Batch(changes), clock: fixedClock())
        }
        return store
    }

    /// The sequences a full scan finds.
    func scanned(_ store: Store, _ query: LogQuery) throws -> [UInt64] {
        var found: [UInt64] = []
        let (head, _) = try store.log.head()
        guard head > 0 else { return [] }
        var low: UInt64 = 1
        var high = head
        if case .sequence(let s)? = query.since { low = max(low, s) }
        if case .sequence(let s)? = query.until { high = min(high, s) }
        guard low <= high else { return [] }
        try store.log.scan(low...high) { event in
            if query.matches(event) { found.append(event.sequence) }
            return true
        }
        return found
    }

    func answered(_ store: Store, _ query: LogQuery) throws -> [UInt64] {
        var found: [UInt64] = []
        try store.query(query) { event in
            found.append(event.sequence)
            return true
        }
        return found
    }

    /// Random filters, alone and combined, with values the log has and some it has not, and
    /// random bounds: the index answers exactly what the scan answers.
    @Test(arguments: [3, 11])
    func everyFilterAndCombinationAnswersWhatAScanAnswers(seed: UInt64) throws {
        let store = try chaosStore(seed: seed, batches: 300)
        #expect(store.log.auditIndexed)
        var events: [Event] = []
        try store.log.scan(1...(try store.log.head().sequence)) { event in
            events.append(event)
            return true
        }
        #expect(events.count > 200)
        func pick<T>(_ values: [T], _ random: inout SplitMix64) -> T {
            values[Int(random.next() % UInt64(values.count))]
        }
        var random = SplitMix64(seed: seed * 7 + 1)
        let actors = Array(Set(events.map(\.actor))).sorted() + ["nobody"]
        let clusters = Array(Set(events.compactMap(\.originCluster))).sorted() + ["cluster-99"]
        let names = Array(Set(events.map(\.key.name))).sorted() + ["absent"]
        let namespaces = Array(Set(events.map(\.key.namespace))).sorted()
        var nonEmpty = 0
        var combined = 0
        for _ in 0..<300 {
            var query = LogQuery()
            if random.next() % 3 == 0 { query.actor = pick(actors, &random) }
            if random.next() % 4 == 0 { query.group = pick(["admins", "auditors", "none"], &random) }
            if random.next() % 4 == 0 { query.source = pick(EventSource.allCases, &random) }
            if random.next() % 3 == 0 { query.cluster = pick(clusters, &random) }
            if random.next() % 3 == 0 { query.name = pick(names, &random) }
            if random.next() % 4 == 0 { query.namespace = pick(namespaces, &random) }
            if random.next() % 4 == 0 { query.kind = pick(ResourceKind.allCases, &random) }
            if random.next() % 3 == 0 { query.since = .sequence(random.next() % UInt64(events.count)) }
            if random.next() % 3 == 0 { query.until = .sequence(random.next() % UInt64(events.count + 5)) }
            let expected = try scanned(store, query)
            let answer = try answered(store, query)
            #expect(answer == expected, "\(query)")
            if !expected.isEmpty { nonEmpty += 1 }
            if [query.actor, query.group, query.cluster, query.name, query.namespace].compactMap({ $0 }).count >= 2,
                !expected.isEmpty
            {
                combined += 1
            }
        }
        #expect(nonEmpty > 60)
        #expect(combined > 5)
    }

    /// Rewrites the block of `term`'s postings that holds `sequence` (or where it would go).
    func editBlock(
        _ store: Store, _ term: AuditTerm, at sequence: UInt64, _ edit: (inout [UInt64]) -> Void
    ) throws {
        let audit = store.log.environment.database("audit")
        let prefix = term.prefix
        try store.log.environment.write { txn in
            var found: (key: [UInt8], sequences: [UInt64])?
            try txn.scan(audit, from: prefix + EventLog.sequenceKey(sequence)) { key, value in
                guard key.starts(with: prefix) else { return false }
                let last = key[(key.count - 8)...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                found = (Array(key), AuditBlock.decode(value, last: last) ?? [])
                return false
            }
            var sequences = found?.sequences ?? []
            if let found { _ = try txn.delete(audit, found.key) }
            edit(&sequences)
            if let last = sequences.last {
                try txn.put(audit, prefix + EventLog.sequenceKey(last), AuditBlock.encode(sequences[...]))
            }
        }
    }

    /// `verify` names a posting missing for an event, one that names an event without that value
    /// (of a value other events have, and of a value none has) and a malformed block; `reindex`
    /// repairs each.
    @Test func verifyNamesAnEntryThatDisagreesWithTheLog() throws {
        let store = try chaosStore(seed: 5, batches: 40)
        #expect(try store.log.verify().failure == nil)  // blocks and the tail of small transactions
        try store.reindex()  // blocks only: the test edits blocks
        let event = try #require(try store.log.event(at: 7))
        let actor = AuditTerm(.actor, event.actor)
        try editBlock(store, actor, at: 7) { $0.removeAll { $0 == 7 } }
        let missing = try #require(try store.log.verify().failure)
        #expect(missing.sequence == 7 && missing.problem.contains("no entry actor=\(event.actor) @7"), "\(missing)")
        try store.reindex()
        #expect(try store.log.verify().failure == nil)
        // A sequence whose event another actor made, in this actor's postings.
        let head = try store.log.head().sequence
        let other = try #require(try (1...head).first { try store.log.event(at: $0)?.actor != event.actor })
        try editBlock(store, actor, at: other) { sequences in
            sequences.append(other)
            sequences.sort()
        }
        let wrong = try #require(try store.log.verify().failure)
        #expect(
            wrong.sequence == other && wrong.problem.contains("actor=\(event.actor) @\(other), which event"),
            "\(wrong)")
        try store.reindex()
        try editBlock(store, AuditTerm(.actor, "mallory"), at: 9) { $0 = [9] }
        let extra = try #require(try store.log.verify().failure)
        #expect(extra.sequence == 9 && extra.problem.contains("actor=mallory @9"), "\(extra)")
        try store.reindex()
        let audit = store.log.environment.database("audit")
        try store.log.environment.write { txn in
            try txn.put(audit, actor.prefix + EventLog.sequenceKey(head + 5), [2, 1])
        }
        let malformed = try #require(try store.log.verify().failure)
        #expect(malformed.problem.contains("malformed"), "\(malformed)")
        try store.reindex()
        // The objects of a name: one no longer listed, and one listed that no event changed.
        let nameEntry =
            [UInt8(ascii: "o")] + Array(event.key.name.utf8) + [0]
            + Array(event.key.kind.rawValue.utf8) + [0] + Array(event.key.namespace.utf8) + [0]
            + Array(event.key.name.utf8)
        _ = try store.log.environment.write { txn in try txn.delete(audit, nameEntry) }
        let unlisted = try #require(try store.log.verify().failure)
        #expect(unlisted.problem.contains("does not list \(event.key)"), "\(unlisted)")
        var named = LogQuery()
        named.name = event.key.name
        #expect(try answered(store, named).isEmpty)  // what the index says: why verify names it
        try store.reindex()
        #expect(try answered(store, named).contains(7))
        let ghost =
            [UInt8(ascii: "o")] + Array("ghost".utf8) + [0] + Array("Mesh".utf8) + [0] + Array("ns".utf8)
            + [0] + Array("ghost".utf8)
        try store.log.environment.write { txn in try txn.put(audit, ghost, []) }
        let listed = try #require(try store.log.verify().failure)
        #expect(listed.problem.contains("no event changed"), "\(listed)")
        try store.reindex()
        try store.log.environment.write { txn in
            try txn.put(audit, actor.prefix + EventLog.sequenceKey(head + 5), [2, 1])
        }
        let malformedAgain = try #require(try store.log.verify().failure)
        #expect(malformedAgain.problem.contains("malformed"), "\(malformedAgain)")
        var query = LogQuery()
        query.actor = event.actor
        query.since = .sequence(head)
        #expect(throws: LogError.self) { try store.query(query) { _ in true } }
        try store.reindex()
        #expect(try store.log.verify().failure == nil)
        // A small transaction's postings are a tail entry: one lost is named too.
        var stream = ChaosStream(seed: 6, clusters: 3)
        var appended: AppendResult
        repeat {
            appended = try store.log.append(Batch(try stream.next()), clock: fixedClock())
        } while appended.events.isEmpty
        let first = try #require(appended.events.first)
        _ = try store.log.environment.write { txn in
            try txn.delete(audit, [UInt8(ascii: "t")] + EventLog.sequenceKey(first.sequence))
        }
        let lost = try #require(try store.log.verify().failure)
        #expect(lost.sequence == first.sequence && lost.problem.contains("no entry"), "\(lost)")
    }

    /// A store whose index is missing (written before it existed), or of the first layout (an
    /// entry per event and value), still answers when opened read-only, by scanning, and says
    /// so; its first writable open builds the index, with the same answers.
    @Test(arguments: [false, true]) func aStoreWithoutTheIndexIsUpgradedAndAnswersTheSame(firstLayout: Bool) throws {
        var query = LogQuery()
        query.actor = "alice"
        // One environment per path at a time in a process: each store is closed before the next.
        let (path, before) = try {
            let store = try chaosStore(seed: 9, batches: 120)
            let before = try answered(store, query)
            // As a store of the previous version: no index entries, no mark.
            let audit = store.log.environment.database("audit")
            let meta = store.log.environment.database("meta")
            try store.log.environment.write { txn in
                try txn.clear(audit)
                _ = try txn.delete(meta, Array("audit.indexed".utf8))
                if firstLayout {
                    try txn.put(audit, AuditTerm(.actor, "alice").prefix + EventLog.sequenceKey(3), [])
                    try txn.put(meta, Array("audit.indexed".utf8), [1])
                }
            }
            return (store.path, before)
        }()
        #expect(!before.isEmpty)
        try {
            let readOnly = try Store(path: path, readOnly: true)
            #expect(!readOnly.log.auditIndexed && !readOnly.answersFromIndex(query))
            #expect(try answered(readOnly, query) == before)
        }()
        let progress = ProgressLines()
        var options = EventLog.Options()
        options.auditIndexProgress = { indexed, head in progress.add("\(indexed)/\(head)") }
        let upgraded = try Store(path: path, options: options)
        let head = try upgraded.log.head().sequence
        #expect(upgraded.log.auditIndexed && upgraded.answersFromIndex(query))
        #expect(try answered(upgraded, query) == before)
        #expect(progress.lines == ["\(head)/\(head)"])
        #expect(try upgraded.log.verify().failure == nil)
    }

    /// One transaction with more events of a value than a block holds writes several blocks,
    /// appended and rebuilt alike, and a query reads across them.
    @Test func aValueWithMoreEventsThanABlockSpansBlocks() throws {
        let store = try temporaryStore()
        let workload = FleetWorkload(
            FleetWorkload.Parameters(clusters: 3, servicesPerCluster: 400, virtualDestinations: 10, seed: 2))
        _ = try store.log.append(Batch(workload.initialBatches().flatMap { $0 }), clock: fixedClock())
        var discovery = LogQuery()
        discovery.source = .discovery
        let head = try store.log.head().sequence
        var scanned: [UInt64] = []
        try store.log.scan(1...head) { event in
            if event.source == .discovery { scanned.append(event.sequence) }
            return true
        }
        #expect(scanned.count > 2 * AuditBlock.capacity)
        #expect(try answered(store, discovery) == scanned && store.answersFromIndex(discovery))
        #expect(try store.log.verify().failure == nil)
        try store.reindex()
        #expect(try answered(store, discovery) == scanned)
        #expect(try store.log.verify().failure == nil)
    }

    /// A writable open without the index (what benchmarks compare against) appends without
    /// entries and drops the completeness mark, so queries scan and the next open with the index
    /// builds it again: the index never claims events it does not hold.
    @Test func anOpenWithoutTheIndexCannotLeaveItStale() throws {
        var query = LogQuery()
        query.actor = "alice"
        let (path, before) = try {
            let store = try chaosStore(seed: 4, batches: 60)
            return (store.path, try answered(store, query))
        }()
        let (after, head) = try {
            var options = EventLog.Options()
            options.auditIndex = false
            let unindexed = try Store(path: path, options: options)
            #expect(!unindexed.log.auditIndexed && !unindexed.answersFromIndex(query))
            var stream = ChaosStream(seed: 5, clusters: 3)
            for _ in 0..<40 { _ = try unindexed.log.append(Batch(try stream.next()), clock: fixedClock()) }
            return (try answered(unindexed, query), try unindexed.log.head().sequence)
        }()
        #expect(after.count > before.count && Array(after.prefix(before.count)) == before)
        let progress = ProgressLines()
        var options = EventLog.Options()
        options.auditIndexProgress = { indexed, head in progress.add("\(indexed)/\(head)") }
        let reopened = try Store(path: path, options: options)
        #expect(reopened.log.auditIndexed && progress.lines == ["\(head)/\(head)"])
        #expect(try answered(reopened, query) == after)
        #expect(try reopened.log.verify().failure == nil)
    }
}

/// Progress calls, kept.
final class ProgressLines: @unchecked Sendable {
    // @unchecked Sendable: guarded by the lock.
    private let lock = NSLock()
    private var kept: [String] = []
    func add(_ line: String) { lock.withLock { kept.append(line) } }
    var lines: [String] { lock.withLock { kept } }
}
