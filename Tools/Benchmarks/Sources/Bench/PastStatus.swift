import EventLog
import Foundation
import MeshLedger
import MeshModel
import Projection
import Workload

/// Status at a past sequence (snapshot + tail) against full replay, on a log of `events` events
/// (default: `--events`), and the cost of one snapshot restore.
func pastStatus(_ options: Options, events: Int? = nil, rows: inout [Row]) throws {
    let parameters = options.fleet
    let events = events ?? options.int("events", 200_000)
    // --interval N: one every N events; by default the server's and the CLI's policy.
    let configured = options.int("interval", -1)
    let interval: UInt64? = configured >= 0 ? UInt64(configured) : nil
    let samples = options.int("samples", 10)
    let path = scratch("past")
    defer { try? FileManager.default.removeItem(atPath: path) }
    FileHandle.standardError.write(
        Data("building a log of \(events) events (snapshot every \(interval.map(String.init) ?? "default"))...\n".utf8))
    snapshotWrites = (0, 0)
    let store = try buildStore(parameters, events: events, interval: interval, path: path)
    let written = snapshotWrites
    let head = try store.log.head().sequence
    let live = try store.log.objectStates().count(where: \.exists)
    let every = interval ?? Store.automaticSnapshotInterval(liveObjects: live)
    var random = SplitMix64(seed: 99)
    var withSnapshots: [Double] = []
    var fullReplay: [Double] = []
    for _ in 0..<samples {
        let m = head / 2 + random.next() % (head / 2)
        var t = now()
        let fast = try store.project(upTo: m)
        withSnapshots.append(now() - t)
        t = now()
        let full = try store.project(upTo: m, useSnapshots: false)
        fullReplay.append(now() - t)
        precondition(fast.projection.digest == full.projection.digest, "snapshot and replay disagree at \(m)")
    }
    // What sets the interval: restoring a snapshot against folding events.
    let (payload, restores) = try timedRestores(store, at: head, count: 5)
    let restore = restores[2]
    let t = now()
    var folded = 0
    var projection = Projection()
    try store.log.scan(1...min(head, 50_000)) { event in
        projection.apply(event)
        folded += 1
        return true
    }
    let foldRate = Double(folded) / (now() - t)
    let mean = { (xs: [Double]) in xs.reduce(0, +) / Double(xs.count) }
    rows.append(
        Row(
            measure:
                "status at a past sequence (\(samples) samples, second half of a \(head)-event log): snapshot + tail",
            value: String(format: "%.1f ms", mean(withSnapshots) * 1000),
            ratio: String(
                format: "%.1fx faster than full replay (%.1f ms)", mean(fullReplay) / mean(withSnapshots),
                mean(fullReplay) * 1000),
            target: ">= 100x"))
    rows.append(
        Row(
            measure: "  restore of one snapshot (\(payload.count) bytes; one every \(every) events), median of 5",
            value: String(format: "%.1f ms", restore * 1000),
            ratio: String(format: "= %.0f events of folding (%.0f events/s)", restore * foldRate, foldRate),
            target: "-"))
    if written.count > 0 {
        let each = written.seconds / Double(written.count)
        rows.append(
            Row(
                measure: "  writing a snapshot (payload, write; \(written.count) while building)",
                value: String(format: "%.1f ms", each * 1000),
                ratio: String(format: "= %.1f µs per event at one every %d", each * 1e6 / Double(every), every),
                target: "-"))
        // What an interval costs on disk: every snapshot is kept.
        let snapshotBytes = try store.log.snapshotInfos().reduce(0) { $0 + $1.size }
        let used = try store.stats().usedBytes
        rows.append(
            Row(
                measure: "  the snapshots' share of the store (\(written.count) kept)",
                value: String(format: "%.1f MiB", Double(snapshotBytes) / 1_048_576),
                ratio: String(
                    format: "%.0f%% of %.1f MiB in use (%.0f bytes per event)",
                    Double(snapshotBytes) * 100 / Double(used),
                    Double(used) / 1_048_576, Double(snapshotBytes) / Double(head)),
                target: "-"))
    }
}

/// Restores one snapshot of a `--events`-event fleet log (default 20,000) `--restores` times
/// (default 200): the restore alone, to profile (`perf record -g Bench restore`).
func restoreLoop(_ options: Options, rows: inout [Row]) throws {
    let events = options.int("events", 20_000)
    let restores = options.int("restores", 200)
    let path = scratch("restore")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let store = try buildStore(options.fleet, events: events, interval: 0, path: path)
    let head = try store.log.head().sequence
    let (payload, times) = try timedRestores(store, at: head, count: restores)
    rows.append(
        Row(
            measure: "restore of one snapshot (\(payload.count) bytes, \(events)-event log), \(restores) times",
            value: String(format: "%.2f ms (median)", times[times.count / 2] * 1000),
            ratio: String(format: "fastest %.2f ms", times[0] * 1000), target: "<= 5 ms"))
}

/// The snapshot payload of `store`'s projection at `sequence` and the times of `count` restores
/// of it, fastest first. The digest is settled before: translating what is pending is not part
/// of a restore.
func timedRestores(_ store: Store, at sequence: UInt64, count: Int) throws -> (payload: [UInt8], times: [Double]) {
    var projection = try store.project(upTo: sequence).projection
    projection.settleDigest()
    let (payload, digest) = projection.snapshot()
    var times: [Double] = []
    for _ in 0..<count {
        let t = now()
        let restored = try Projection.restore(payload: payload, expectedDigest: digest, events: store.foldEvents(at:))
        times.append(now() - t)
        precondition(restored.digest == digest)
    }
    return (payload, times.sorted())
}

/// A recorder's store against a served one (issue 30): `--recorded-events` (10,000) of the fleet
/// workload appended one batch at a time through the store's `Writer`, as `meshledger record`
/// appends them, and the same events in a store built as the server snapshots (`buildStore`);
/// the status at random past sequences of each (snapshot + tail), and a full replay (what a
/// recording cost before the recorder took snapshots).
func recordedPastStatus(_ options: Options, rows: inout [Row]) throws {
    let events = options.int("recorded-events", 10_000)
    let samples = options.int("samples", 10)
    let served = scratch("served")
    let recorded = scratch("recorded")
    defer { for path in [served, recorded] { try? FileManager.default.removeItem(atPath: path) } }
    let servedStore = try buildStore(options.fleet, events: events, interval: nil, path: served)
    let head = try servedStore.log.head().sequence
    var logOptions = EventLog.Options()
    logOptions.noSync = true
    let recordedStore = try Store(path: recorded, options: logOptions)
    let writer = try Writer(store: recordedStore, snapshotInterval: nil)
    // The served store's events, one batch each (their recorded times kept).
    try servedStore.log.scan(1...head) { event in
        let change: Change
        switch event.change {
        case .upsert:
            change = Change(
                .upsert(try Manifest(recorded: event.object, key: event.key)), source: event.source, actor: event.actor)
        case .delete:
            change = Change(.delete(event.key, nil), source: event.source, actor: event.actor, ignoreNotFound: true)
        }
        _ = try writer.append(Batch([change]), clock: { event.recordedAt })
        return true
    }
    let recordedHead = try recordedStore.log.head().sequence
    var random = SplitMix64(seed: 30)
    var times: (served: [Double], recorded: [Double], replay: [Double]) = ([], [], [])
    for _ in 0..<samples {
        let m = recordedHead / 2 + random.next() % (recordedHead / 2)
        var t = now()
        _ = try servedStore.project(upTo: min(m, head))
        times.served.append(now() - t)
        t = now()
        _ = try recordedStore.project(upTo: m)
        times.recorded.append(now() - t)
        t = now()
        _ = try recordedStore.project(upTo: m, useSnapshots: false)
        times.replay.append(now() - t)
    }
    let mean = { (xs: [Double]) in xs.reduce(0, +) / Double(xs.count) * 1000 }
    let snapshots = try recordedStore.log.snapshotInfos().count
    rows.append(
        Row(
            measure:
                "status at a past sequence on a recorder's store (\(recordedHead) events one batch at a time through the Writer, \(snapshots) snapshots)",
            value: String(format: "%.1f ms", mean(times.recorded)),
            ratio: String(
                format: "served store %.1f ms (%.2fx); full replay %.1f ms", mean(times.served),
                mean(times.recorded) / mean(times.served), mean(times.replay)),
            target: "as fast as a served store"))
}
