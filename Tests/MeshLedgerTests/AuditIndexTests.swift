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

    /// `verify` names an index entry missing for an event, and one that names an event without
    /// that value; `reindex` repairs both.
    @Test func verifyNamesAnEntryThatDisagreesWithTheLog() throws {
        let store = try chaosStore(seed: 5, batches: 40)
        #expect(try store.log.verify().failure == nil)
        let event = try #require(try store.log.event(at: 7))
        let entry = [AuditField.actor.rawValue] + Array(event.actor.utf8) + [0] + EventLog.sequenceKey(7)
        let audit = store.log.environment.database("audit")
        _ = try store.log.environment.write { txn in try txn.delete(audit, entry) }
        let missing = try #require(try store.log.verify().failure)
        #expect(missing.sequence == 7 && missing.problem.contains("no entry actor=\(event.actor) @7"), "\(missing)")
        try store.reindex()
        #expect(try store.log.verify().failure == nil)
        let bogus = [AuditField.actor.rawValue] + Array("mallory".utf8) + [0] + EventLog.sequenceKey(9)
        try store.log.environment.write { txn in try txn.put(audit, bogus, []) }
        let extra = try #require(try store.log.verify().failure)
        #expect(extra.sequence == 9 && extra.problem.contains("actor=mallory @9"), "\(extra)")
    }

    /// A store whose index is missing (written before it existed) still answers when opened
    /// read-only, by scanning, and says so; its first writable open builds the index, with the
    /// same answers.
    @Test func aStoreWithoutTheIndexIsUpgradedAndAnswersTheSame() throws {
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
}

/// Progress calls, kept.
final class ProgressLines: @unchecked Sendable {
    // @unchecked Sendable: guarded by the lock.
    private let lock = NSLock()
    private var kept: [String] = []
    func add(_ line: String) { lock.withLock { kept.append(line) } }
    var lines: [String] { lock.withLock { kept } }
}
