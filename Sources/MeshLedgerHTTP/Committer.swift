import EventLog
import Foundation
import MeshLedger
import MeshLedgerReplication
import MeshModel
import Projection
import Prometheus
import Synchronization

/// The server's side of the store's `Writer`. Concurrent append requests are coalesced into one
/// LMDB write transaction (group commit, bounded by `maxBatchRequests`), each all or nothing, so
/// that a failed precondition fails only its own request. The writer never waits for company: requests
/// that arrive while a group commits form the next group. After every
/// commit the live projection folds the new events and records which statuses each one changed,
/// for watchers, and the writer takes a snapshot of it when one is due.
actor Committer {
    /// One status change caused by an event: the VirtualDestination and its new status (nil: deleted).
    struct StatusChange: Sendable {
        let virtualDestination: ObjectRef
        let status: JSONValue?
    }

    private struct Pending {
        let batch: Batch
        let continuation: CheckedContinuation<Result<AppendResult, LogError>, Never>
        let started: ContinuousClock.Instant
    }

    let store: Store
    let groupCommit: Bool
    let maxBatchRequests: Int
    let retention: UInt64
    let metrics: Metrics
    /// A replica's replication: appends go through it (to etcd, or to the writer).
    let replicator: Replicator?
    /// The store's writer: commits, and the snapshots of the folded projection (its policy).
    let writer: Writer
    private var pending: [Pending] = []
    private var flushing = false
    private(set) var projection = Projection()
    /// Status changes per sequence, for the last `retention` sequences.
    private var changes: [UInt64: [StatusChange]] = [:]
    private var stopped = false
    /// The watch streams' slots, shared fairly between callers.
    private var watchSlots: WatchSlots

    /// Set when the server shuts down: open watch streams end (clients resume elsewhere or later).
    /// Read without a hop to the actor, as is the sequence folded last.
    nonisolated var watchesStopped: Bool { folded.stopped }

    /// The last sequence the live projection folded: every event up to it is in the log and its
    /// status changes are recorded. Watch streams read it without a hop to the actor.
    nonisolated var foldedSequence: UInt64 { folded.reached }
    /// Watch streams waiting for the next event, woken by the fold that folds it.
    private let folded = SequenceWaiters(reached: 0)

    /// Ends every open watch stream (graceful shutdown).
    func stopWatches() {
        folded.stop()
    }

    /// Waits until an event after `sequence` is folded (woken by the fold that folds it, at once,
    /// without a hop to the actor), the watches stop, or `timeout` passes: events another process
    /// appends to the store are found by a fold after the timeout, one look for every waiter
    /// whose timeout ends within `lookInterval` of it (a hundred idle watches look once, not a
    /// hundred times).
    nonisolated func waitForEvents(after sequence: UInt64, timeout: Duration) async {
        if await !folded.wait(for: sequence + 1, timeout: timeout), !watchesStopped, lookIsDue() {
            await foldNewEvents()
        }
    }

    /// When a waiter last looked for other processes' appends.
    private let lastLook = Mutex<ContinuousClock.Instant?>(nil)
    static let lookInterval = Duration.milliseconds(200)

    private nonisolated func lookIsDue() -> Bool {
        lastLook.withLock { last in
            let now = ContinuousClock.now
            if let last, now - last < Self.lookInterval { return false }
            last = now
            return true
        }
    }

    /// Waits until the fold reaches `sequence` (another process's appends are found within 250 ms),
    /// the watches stop, or `timeout` passes; whether it reached it.
    nonisolated func waitUntilFolded(_ sequence: UInt64, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while foldedSequence < sequence, !watchesStopped, ContinuousClock.now < deadline {
            await waitForEvents(after: foldedSequence, timeout: min(.milliseconds(250), deadline - ContinuousClock.now))
        }
        return foldedSequence >= sequence
    }

    /// Takes a watch slot for `holder` (see `WatchSlots`); nil: refused.
    func openWatch(for holder: String) -> WatchSlot? { watchSlots.take(for: holder) }

    /// Gives a watch slot back.
    func closeWatch(_ slot: WatchSlot) { watchSlots.release(slot) }

    init(
        store: Store, groupCommit: Bool, maxBatchRequests: Int, retention: UInt64, metrics: Metrics,
        replicator: Replicator? = nil, snapshotInterval: UInt64? = 0, maxWatchers: Int = 256
    ) throws {
        watchSlots = WatchSlots(limit: maxWatchers)
        self.replicator = replicator
        self.writer = try Writer(store: store, snapshotInterval: snapshotInterval) { sequence in
            metrics.snapshot.set(Double(sequence))
        }
        self.store = store
        self.groupCommit = groupCommit
        self.maxBatchRequests = maxBatchRequests
        self.retention = retention
        self.metrics = metrics
        let (projection, _, _) = try store.project()
        self.projection = projection
        folded.advance(to: projection.sequence)
        metrics.head.set(Double(projection.sequence))
        metrics.snapshot.set(Double(writer.newestSnapshot))
    }

    /// Appends a batch (through the group when group commit is on) and returns its outcome.
    func submit(_ batch: Batch) async -> Result<AppendResult, LogError> {
        if stopped { return .failure(LogError(.storage, "the server is shutting down")) }
        let started = ContinuousClock.now
        // A replica always commits in groups: its writer commits one group at a time to etcd.
        if !groupCommit && replicator == nil {
            let result: Result<AppendResult, LogError>
            do {
                result = try writer.commit([batch])[0]
            } catch let error as LogError {
                result = .failure(error)
            } catch {
                result = .failure(LogError(.storage, "\(error)"))
            }
            metrics.appendLatency.record(ContinuousClock.now - started)
            metrics.batchSize.record(Int64(1))
            foldNewEvents(appended: (try? result.get())?.events ?? [])
            return result
        }
        return await withCheckedContinuation { continuation in
            pending.append(Pending(batch: batch, continuation: continuation, started: started))
            if !flushing {
                flushing = true
                Task { await self.flushLoop() }
            }
        }
    }

    /// Commits pending requests in groups until none is left.
    private func flushLoop() async {
        // No wait for company, even when the writer was idle: requests that arrive while a group
        // commits form the next group by themselves, so under load the groups commit back to back,
        // and a request to an idle writer commits at once. (A 2 ms wait at an idle writer cost
        // 64 clients that wait for their answers before sending again 10-16% of their rate: the
        // writer slept while every request was in its group. Decision 0007, addendum.)
        while !pending.isEmpty {
            let group = Array(pending.prefix(maxBatchRequests))
            pending.removeFirst(group.count)
            let results: [Result<AppendResult, LogError>]
            do {
                if let replicator {
                    results = await replicator.commit(group.map(\.batch))
                } else {
                    results = try writer.commit(group.map(\.batch))
                }
            } catch let error as LogError {
                results = Array(repeating: .failure(error), count: group.count)
            } catch {
                results = Array(repeating: .failure(LogError(.storage, "\(error)")), count: group.count)
            }
            metrics.batchSize.record(Int64(group.count))
            foldNewEvents(appended: results.flatMap { (try? $0.get())?.events ?? [] })
            let now = ContinuousClock.now
            for (request, result) in zip(group, results) {
                metrics.appendLatency.record(now - request.started)
                request.continuation.resume(returning: result)
            }
        }
        flushing = false
    }

    /// Folds events appended since the projection's sequence (by this server or anyone else):
    /// first those this server just appended and holds (`appended`, no read back), then whatever
    /// else the log has.
    func foldNewEvents(appended: [Event] = []) {
        let before = projection.sequence
        defer {
            if projection.sequence > before {
                folded.advance(to: projection.sequence)
                writer.folded(projection)
            }
        }
        for event in appended where event.sequence == projection.sequence + 1 { fold(event) }
        if let head = try? store.log.head().sequence, head > projection.sequence {
            try? store.log.scan((projection.sequence + 1)...head) { event in
                fold(event)
                return true
            }
        }
        metrics.head.set(Double(projection.sequence))
    }

    /// Folds one event and records the status changes it made.
    private func fold(_ event: Event) {
        // A deleted VirtualDestination's DELETED carries its last status, as kube-apiserver's
        // carries the object's last state.
        let ref = ObjectRef(name: event.key.name, namespace: event.key.namespace)
        let lastStatus =
            event.key.kind == .virtualDestination && event.change == .delete ? projection.status(of: ref)?.json : nil
        projection.apply(event)
        metrics.events(event.key.kind).increment()
        var list: [StatusChange] = []
        // The projection records when each status changed (`statusChangedAt`).
        for ref in projection.lastChanged.sorted() where projection.statusChangedAt[ref] == event.sequence {
            list.append(StatusChange(virtualDestination: ref, status: projection.status(of: ref)?.json))
        }
        if let lastStatus { list.append(StatusChange(virtualDestination: ref, status: lastStatus)) }
        if !list.isEmpty { changes[event.sequence] = list }
        if event.sequence > retention { changes[event.sequence - retention] = nil }
    }

    /// The status changes recorded for a sequence (nil when older than the retention window).
    func statusChanges(at sequence: UInt64) -> [StatusChange]? {
        let head = projection.sequence
        if sequence + retention <= head { return nil }
        return changes[sequence] ?? []
    }

    /// The oldest sequence a watch may start from (older ones are gone: 410).
    func oldestWatchable() -> UInt64 {
        projection.sequence > retention ? projection.sequence - retention + 1 : 1
    }

    /// The current projection (a value: later folds do not change it).
    func current() -> Projection {
        foldNewEvents()
        projection.settleOutputs()  // readers look at many states: translate the pending outputs once
        return projection
    }

    /// Stops taking requests after the ones in flight.
    func stop() async {
        stopped = true
        while flushing { try? await Task.sleep(for: .milliseconds(5)) }
        await writer.stop()
    }
}
