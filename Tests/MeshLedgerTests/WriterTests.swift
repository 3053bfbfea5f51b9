import EventLog
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Projection
import Testing
import Workload

/// The store's one writer: the snapshot policy every front end follows, and its waiters.
@Suite struct WriterTests {
    /// One-change batches, as the recorder appends them: the fleet workload's changes.
    func changes(_ count: Int) -> [Change] {
        var workload = FleetWorkload(
            FleetWorkload.Parameters(clusters: 3, servicesPerCluster: 20, virtualDestinations: 20, seed: 7))
        var changes = workload.initialBatches().flatMap { $0 }
        while changes.count < count { changes += workload.nextBatch() }
        return Array(changes.prefix(count))
    }

    /// Appending one batch at a time (the command line, the recorder), the default policy takes a
    /// snapshot every 500 events (the fleet has fewer live objects), each of the head replayed
    /// from the one before, each agreeing with a full replay; a past status then restores one.
    @Test func oneBatchAtATimeTakesSnapshotsByTheDefaultPolicy() throws {
        let store = try temporaryStore()
        let writer = try Writer(store: store, snapshotInterval: nil)
        var taken: [UInt64] = []
        for change in changes(2_100) {
            let (result, snapshot) = try writer.append(Batch([change]), clock: fixedClock())
            if let snapshot {
                #expect(snapshot.sequence == result.head)
                taken.append(snapshot.sequence)
            }
        }
        let head = try store.log.head().sequence
        #expect(taken.count == Int(head / 500), "\(taken) of \(head)")
        #expect(zip([0] + taken, taken).allSatisfy { $1 - $0 >= 500 && $1 - $0 < 510 }, "\(taken)")
        #expect(try store.log.snapshotInfos().map(\.sequence) == taken)
        #expect(try store.replay(verifySnapshots: true).snapshotProblems.isEmpty)
        let (_, _, origin) = try store.project(upTo: head - 10)
        #expect(origin.snapshot == taken.last { $0 <= head - 10 })
    }

    /// A configured interval is used as it is; 0 takes none; a writer opened on a store with
    /// snapshots counts from the newest.
    @Test func aConfiguredIntervalAndNone() throws {
        let store = try temporaryStore()
        let batches = changes(300).map { Batch([$0]) }
        let none = try Writer(store: store, snapshotInterval: 0)
        for batch in batches.prefix(150) { _ = try none.append(batch, clock: fixedClock()) }
        #expect(try store.log.snapshotInfos().isEmpty)
        let every50 = try Writer(store: store, snapshotInterval: 50)
        for batch in batches.dropFirst(150) { _ = try every50.append(batch, clock: fixedClock()) }
        let sequences = try store.log.snapshotInfos().map(\.sequence)
        #expect(!sequences.isEmpty && zip([0] + sequences, sequences).allSatisfy { $1 - $0 >= 50 }, "\(sequences)")
        let reopened = try Writer(store: store, snapshotInterval: 50)
        #expect(reopened.newestSnapshot == sequences.last)
    }

    /// A process that keeps the projection folded (the server) hands it over after each fold:
    /// the snapshot is of that projection, written in the background, and `stop` waits for it.
    /// `wait(for:)` wakes when a commit reaches the sequence, and not before.
    @Test func aFoldedProjectionIsSnapshottedAndWaitersWake() async throws {
        let store = try temporaryStore()
        let writer = try Writer(store: store, snapshotInterval: 40)
        let early = Task { await writer.wait(for: 40, timeout: .seconds(30)) }
        var projection = Projection()
        for change in changes(45) {
            let results = try writer.commit([Batch([change])])
            for event in try results[0].get().events { projection.apply(event) }
            writer.folded(projection)
        }
        #expect(await early.value)
        #expect(await writer.wait(for: 1_000, timeout: .milliseconds(50)) == false)
        await writer.stop()
        let snapshots = try store.log.snapshotInfos()
        #expect(snapshots.map(\.sequence) == [40])
        let (restored, _, origin) = try store.project(upTo: 40)
        var folded = Projection()
        try store.log.scan(1...40) { event in
            folded.apply(event)
            return true
        }
        #expect(origin.snapshot == 40 && restored.digest == folded.digest)
    }
}
