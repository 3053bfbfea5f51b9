import CBaselines
import EventLog
import Foundation
import MeshModel
import Projection
import Workload

/// 5 and 8: full replay of a large log against a raw cursor scan of the same records; peak memory.
func replay(_ options: Options, rows: inout [Row]) throws {
    let events = options.int("replay-events", 1_000_000)
    let parameters = options.fleet
    let path = scratch("replay")
    var logOptions = EventLog.Options()
    logOptions.noSync = true
    let log = try EventLog.open(at: path, options: logOptions)
    var workload = FleetWorkload(parameters)
    for batch in workload.initialBatches() { _ = try log.append(Batch(batch)) }
    var pending: [Change] = []
    while try log.head().sequence < UInt64(events) {
        pending += workload.nextBatch()
        if pending.count == 1000 {
            _ = try log.append(Batch(pending))
            pending = []
        }
    }
    _ = try log.verify()  // reads every record once: the pages are warm for both scans
    let head = try log.head().sequence
    FileHandle.standardError.write(Data("  built \(head) events for replay\n".utf8))
    var records = 0
    var bytes = 0
    let scanSeconds = raw_lmdb_scan(path, &records, &bytes)
    var start = now()
    var decoded = 0
    try log.scan(1...head) { _ in
        decoded += 1
        return true
    }
    let decodeSeconds = now() - start
    start = now()
    try log.scan(1...head, objects: Projection.foldShapes) { _ in true }
    let foldDecodeSeconds = now() - start
    start = now()
    var projection = Projection()
    try log.scan(1...head, objects: Projection.foldShapes) { event in
        projection.apply(event)
        return true
    }
    projection.settleDigest()
    let replaySeconds = now() - start
    rows.append(
        Row(
            measure: "replay \(head) events: raw cursor scan", value: rate(records, scanSeconds), ratio: "1.00",
            target: "the limit"))
    rows.append(
        Row(
            measure: "replay \(head) events: decode only", value: rate(decoded, decodeSeconds),
            ratio: String(format: "1/%.0f of scan", decodeSeconds / scanSeconds), target: "-"))
    rows.append(
        Row(
            measure: "replay \(head) events: decode as a fold reads them (Projection.foldShapes)",
            value: rate(Int(head), foldDecodeSeconds),
            ratio: String(format: "1/%.0f of scan", foldDecodeSeconds / scanSeconds), target: "-"))
    rows.append(
        Row(
            measure: "replay \(head) events: full projection", value: rate(Int(head), replaySeconds),
            ratio: String(
                format: "1/%.0f of scan; state digest %@", replaySeconds / scanSeconds,
                String(projection.digest.hex.prefix(16))),
            target: ">= 1/20 of scan"))
    // Peak memory of a replay alone: `meshledger replay` in its own process.
    if let binary = options.values["binary"] {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = ["replay", "--store", path]
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        // Sampled from /proc while it runs: a spawned child's rusage peak includes this (large)
        // process's, so it cannot be used.
        var peak = 0.0
        var anonymous = 0.0
        while child.isRunning {
            peak = max(peak, procStatusMiB(child.processIdentifier, "VmHWM"))
            anonymous = max(anonymous, procStatusMiB(child.processIdentifier, "RssAnon"))
            usleep(20_000)
        }
        child.waitUntilExit()
        rows.append(
            Row(
                measure: "peak memory of `meshledger replay` over the \(head)-event log",
                value: String(format: "%.0f MiB", peak),
                ratio: String(format: "of which %.0f MiB its own (the rest: the log's mapped pages)", anonymous),
                target: "-"))
    }
    try? FileManager.default.removeItem(atPath: path)
}
