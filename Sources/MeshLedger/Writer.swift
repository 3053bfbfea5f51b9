public import EventLog
import Foundation
public import MeshModel
public import Projection
import Synchronization

/// The one writer of a store in a process: the command line's appends, the recorder's and the
/// server's (standalone; a replica's groups commit through its replicator and are folded here
/// the same way) go through it, so every front end follows the same policies (decision 0021):
///
/// - commits: one batch (`append`), or a group of batches in one transaction, each all or
///   nothing (`commit`, the server's group commit);
/// - snapshots: after a commit, one is taken when `Store.isSnapshotDue` says so, of the
///   projection the process keeps folded (`folded(_:)`, in the background, one at a time), or,
///   for a process that keeps none (the command line, the recorder), of the head replayed from
///   the newest snapshot, before `append` returns;
/// - waiters: `reached` advances with every commit, and `wait(for:timeout:)` wakes at once when a
///   commit reaches the sequence asked for.
public final class Writer: Sendable {
    /// The store written.
    public let store: Store
    /// A snapshot every this many events (nil: `Store.automaticSnapshotInterval` of the live
    /// objects; 0: none).
    public let snapshotInterval: UInt64?
    /// The newest usable snapshot's sequence (taken or found at the start).
    private let newest: Mutex<UInt64>
    /// The snapshot being written in the background, if any.
    private let writing = Mutex<Task<Void, Never>?>(nil)
    /// The sequence the writer's commits reached, and who waits for one.
    private let waiters: SequenceWaiters
    /// Called with each snapshot taken (for metrics).
    private let onSnapshot: @Sendable (UInt64) -> Void

    /// A writer of `store`; `onSnapshot` hears of each snapshot taken.
    public init(
        store: Store, snapshotInterval: UInt64?, onSnapshot: @escaping @Sendable (UInt64) -> Void = { _ in }
    ) throws {
        self.store = store
        self.snapshotInterval = snapshotInterval
        self.onSnapshot = onSnapshot
        // Only snapshots this version can use count (an upgrade must not wait on older formats).
        newest = Mutex(try store.log.newestSnapshot(where: \.isUsable)?.sequence ?? 0)
        waiters = SequenceWaiters(reached: try store.log.head().sequence)
    }

    /// The newest snapshot's sequence.
    public var newestSnapshot: UInt64 { newest.withLock { $0 } }

    /// The last sequence committed (by this writer, or found by `advance(to:)`).
    public var reached: UInt64 { waiters.reached }

    /// Appends one batch, then takes a due snapshot of the head, replayed from the newest one
    /// (a process that keeps no projection: the command line, the recorder); returns the append
    /// and the snapshot taken, if any.
    public func append(
        _ batch: Batch, clock: @Sendable () -> Timestamp = Timestamp.now
    ) throws -> (result: AppendResult, snapshot: EventLog.SnapshotInfo?) {
        let result = try store.log.append(batch, clock: clock)
        advance(to: result.head)
        guard result.range != nil,
            let info = try store.snapshotIfDue(interval: snapshotInterval, newest: newestSnapshot)
        else { return (result, nil) }
        newest.withLock { $0 = max($0, info.sequence) }
        onSnapshot(info.sequence)
        return (result, info)
    }

    /// Commits a group of batches in one transaction, each all or nothing (the server's group
    /// commit); the caller folds what it appended and hands the projection to `folded(_:)`.
    public func commit(_ batches: [Batch]) throws -> [Result<AppendResult, LogError>] {
        let results = try store.log.appendGroup(batches)
        advance(to: results.compactMap { try? $0.get().head }.max() ?? 0)
        return results
    }

    /// After the process folded the log to `projection.sequence`: takes a snapshot of (a copy
    /// of) it when one is due, in the background, one at a time, so neither the writer nor a
    /// reader waits for it. It records the digest contributions already settled and translates
    /// nothing (`Store.writeSnapshot(of:complete:)`).
    public func folded(_ projection: Projection) {
        advance(to: projection.sequence)
        guard
            Store.isSnapshotDue(
                head: projection.sequence, newest: newestSnapshot, interval: snapshotInterval,
                liveObjects: { projection.world.inputs.count })
        else { return }
        newest.withLock { $0 = max($0, projection.sequence) }
        let (store, onSnapshot) = (store, onSnapshot)
        writing.withLock { writing in
            let previous = writing
            writing = Task.detached(priority: .utility) {
                await previous?.value
                do {
                    try store.writeSnapshot(of: projection, complete: false)
                    onSnapshot(projection.sequence)
                } catch {
                    FileHandle.standardError.write(
                        Data("meshledger: snapshot at \(projection.sequence) failed: \(error)\n".utf8))
                }
            }
        }
    }

    /// Records that the log reached `sequence` (a commit of this writer, or a replica's or
    /// another process's append the process found), waking whoever waits for it.
    public func advance(to sequence: UInt64) { waiters.advance(to: sequence) }

    /// Waits until the writer reaches `sequence`, it stops, or `timeout` passes; whether it
    /// reached it. Woken by the commit that reaches it, without polling.
    public func wait(for sequence: UInt64, timeout: Duration) async -> Bool {
        await waiters.wait(for: sequence, timeout: timeout)
    }

    /// Ends every wait, then waits for the snapshot being written.
    public func stop() async {
        waiters.stop()
        await writing.withLock { $0 }?.value
    }
}
