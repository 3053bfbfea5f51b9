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
    let interval = UInt64(options.int("interval", Int(Store.defaultSnapshotInterval)))
    let samples = options.int("samples", 10)
    let path = scratch("past")
    defer { try? FileManager.default.removeItem(atPath: path) }
    FileHandle.standardError.write(Data("building a log of \(events) events (snapshot every \(interval))...\n".utf8))
    let store = try buildStore(parameters, events: events, interval: interval, path: path)
    let head = try store.log.head().sequence
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
    let (snapshotted, _, _) = try store.project(upTo: head)
    let payload = snapshotted.snapshotPayload()
    var t = now()
    _ = try Projection.restore(payload: payload, expectedDigest: snapshotted.digest)
    let restore = now() - t
    t = now()
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
            measure: "  restore of one snapshot (\(payload.count) bytes; one every \(interval) events)",
            value: String(format: "%.1f ms", restore * 1000),
            ratio: String(format: "= %.0f events of folding (%.0f events/s)", restore * foldRate, foldRate),
            target: "-"))
}
