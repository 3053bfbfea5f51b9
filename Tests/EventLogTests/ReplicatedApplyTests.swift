import Foundation
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

@testable import EventLog

/// A replica's log is written only from records the log of record committed
/// (`applyReplicated`); the writer's records come from a dry run of the group commit
/// (`prepareGroup`). Both must leave exactly what a local append leaves.
@Suite struct ReplicatedApplyTests {
    /// Appends a messy stream (every kind, deletes, resyncs, controller reports) to a log.
    func source(batches: Int = 400, seed: UInt64 = 7) throws -> EventLog {
        let log = try EventLog.open(at: temporaryDirectory())
        var stream = ChaosStream(seed: seed, clusters: 3)
        let clock = fixedClock()
        for _ in 0..<batches { _ = try? log.append(Batch(try stream.next()), clock: clock) }
        var workload = FleetWorkload(.init(clusters: 2, servicesPerCluster: 4, virtualDestinations: 6))
        for batch in workload.initialBatches() { _ = try log.append(Batch(batch), clock: clock) }
        let (changes, resync) = workload.resync(1)
        _ = try log.append(Batch(Array(changes.dropLast()), resync: resync), clock: clock)
        return log
    }

    func records(_ log: EventLog) throws -> [[UInt8]] {
        var records: [[UInt8]] = []
        try log.scanRecords(1...UInt64.max) { _, record in
            records.append(Array(record))
            return true
        }
        return records
    }

    @Test func aReplicaAppliedInChunksEqualsTheSourceByteForByte() throws {
        let source = try source()
        let all = try records(source)
        #expect(all.count > 300)
        let replica = try EventLog.open(at: temporaryDirectory())
        var applied = 0
        for chunk in stride(from: 0, to: all.count, by: 37) {
            applied += try replica.applyReplicated(Array(all[chunk..<min(chunk + 37, all.count)]), revision: 9).count
        }
        #expect(applied == all.count)
        #expect(try records(replica) == all)
        #expect(try replica.objectStates() == source.objectStates())
        let (kinds, sources) = try replica.counters()
        #expect(kinds == (try source.counters().byKind))
        #expect(sources == (try source.counters().bySource))
        #expect(try replica.head() == source.head())
        #expect(try replica.verify().failure == nil)  // its audit index agrees with its log
        // The replica derived the audit index from the records it applied: the same answers.
        for terms in [
            [AuditTerm(.source, "user")], [AuditTerm(.kind, "Destination"), AuditTerm(.source, "discovery")],
        ] {
            let answer = try replica.auditSequences(terms, in: 1...UInt64(all.count), limit: 10_000)
            let expected = try source.auditSequences(terms, in: 1...UInt64(all.count), limit: 10_000)
            #expect(!answer.isEmpty && answer == expected)
        }
        #expect(try replica.replication().revision == 9)
        // The same records again (the writer's own entry coming back through the watch): nothing.
        #expect(try replica.applyReplicated(Array(all.suffix(50))).isEmpty)
        // Further appends on top of a replica give what the source gives: its states are right.
        let batch = Batch([
            Change(.delete(try #require(source.objectStates().first { $0.exists }).key, nil), source: .user, actor: "x")
        ])
        let clock = fixedClock(start: 1_900_000_000_000_000)
        let clock2 = fixedClock(start: 1_900_000_000_000_000)
        _ = try source.append(batch, clock: clock)
        _ = try replica.append(batch, clock: clock2)
        #expect(try records(replica) == records(source))
    }

    @Test func aDryRunAppendsNothingAndItsRecordsAreTheAppend() throws {
        let writer = try source(batches: 50)
        let mirror = try EventLog.open(at: temporaryDirectory())
        _ = try mirror.applyReplicated(try records(writer))
        let head = try writer.head()
        var workload = FleetWorkload(.init(clusters: 2, servicesPerCluster: 4, virtualDestinations: 6))
        _ = workload.initialBatches()
        let batches = [
            Batch(workload.nextBatch()), Batch(workload.nextBatch(), expectedHead: 1),
            Batch(workload.nextBatch()), Batch([]),
        ]
        let (results, prepared) = try writer.prepareGroup(batches, clock: fixedClock(start: 1_950_000_000_000_000))
        #expect(try writer.head() == head)
        #expect(results.count == 4)
        if case .success = results[1] { Issue.record("the expected head 1 must fail") }
        let events = results.compactMap { try? $0.get() }.flatMap(\.events)
        #expect(prepared.count == events.count)
        #expect(try prepared.map { try EventCodec.decode($0).checksum } == events.map(\.checksum))
        // Applied, the writer holds what a committed group commit would have appended.
        #expect(try writer.applyReplicated(prepared).count == prepared.count)
        let committed = try mirror.appendGroup(batches, clock: fixedClock(start: 1_950_000_000_000_000))
        #expect(committed.count == 4)
        #expect(try records(writer) == records(mirror))
        #expect(try writer.objectStates() == mirror.objectStates())
    }

    @Test func aForgedGappedOrUnchainedRecordStopsReplicationNamingItsSequence() throws {
        let all = try records(try source(batches: 30))
        let replica = try EventLog.open(at: temporaryDirectory())
        _ = try replica.applyReplicated(Array(all.prefix(10)))
        func refusal(_ records: [[UInt8]]) -> String {
            do {
                _ = try replica.applyReplicated(records)
                return "applied"
            } catch let error as LogError {
                return error.code == .corrupted ? error.message : "wrong code \(error.code)"
            } catch {
                return "\(error)"
            }
        }
        var forged = all[10]
        forged[forged.count / 2] ^= 1
        #expect(refusal([forged]).contains("replicated event 11 does not verify"))
        #expect(refusal([all[12]]).contains("event 13 does not follow the local head 10"))
        var other = all[5]
        other[other.count - 40] ^= 1  // a different record 6 (its checksum no longer matches)
        #expect(refusal([other]).contains("event 6"))
        // A well-formed record 11 that chains elsewhere: another log's record.
        let stranger = try records(try source(batches: 30, seed: 8))
        #expect(stranger[10] != all[10])
        #expect(refusal([stranger[10]]).contains("event 11"))
        // Nothing of a refused call was appended; the right record still applies.
        #expect(try replica.head().sequence == 10)
        #expect(try replica.applyReplicated([all[10], all[11]]).count == 2)
    }
}
