import CBaselines
import EventLog
import Foundation
import MeshModel
import Projection
import Workload

/// The fleet workload's change stream: the initial fleet, then churn, flattened to single changes.
func workloadChanges(_ parameters: FleetWorkload.Parameters, count: Int) -> [Change] {
    var workload = FleetWorkload(parameters)
    var changes = workload.initialBatches().flatMap { $0 }
    while changes.count < count { changes += workload.nextBatch() }
    return Array(changes.prefix(count))
}

/// 1-4: append throughput of the log, raw liblmdb, SQLite WAL, and the log with the projection.
func append(_ options: Options, rows: inout [Row]) throws {
    let parameters = options.fleet
    for (batch, count) in [
        (1, options.int("n1", 2000)), (100, options.int("n100", 50_000)), (1000, options.int("n1000", 100_000)),
    ] {
        let changes = workloadChanges(parameters, count: count)
        // 1. the event log alone, durable commits; with and without the audit index, three times each,
        // alternately, the best of each (the index's cost, within 10% is the target).
        func appendAll(auditIndex: Bool) throws -> (seconds: Double, path: String) {
            let path = scratch("log")
            var logOptions = EventLog.Options()
            logOptions.auditIndex = auditIndex
            let log = try EventLog.open(at: path, options: logOptions)
            let start = now()
            var index = 0
            while index < changes.count {
                _ = try log.append(Batch(Array(changes[index..<min(index + batch, changes.count)])))
                index += batch
            }
            return (now() - start, path)
        }
        var indexedRuns: [Double] = []
        var unindexedRuns: [Double] = []
        var logPath = ""
        for _ in 0..<3 {
            let unindexed = try appendAll(auditIndex: false)
            unindexedRuns.append(unindexed.seconds)
            try? FileManager.default.removeItem(atPath: unindexed.path)
            let indexed = try appendAll(auditIndex: true)
            indexedRuns.append(indexed.seconds)
            if logPath.isEmpty {
                logPath = indexed.path
            } else {
                try? FileManager.default.removeItem(atPath: indexed.path)
            }
        }
        let logSeconds = indexedRuns.min()!
        let unindexedSeconds = unindexedRuns.min()!
        let log = try EventLog.open(at: logPath)
        let appended = Int(try log.head().sequence)
        // The same record bytes for the baselines.
        var data: [UInt8] = []
        var lengths: [Int] = []
        try log.scanRecords(1...UInt64(appended)) { _, record in
            data.append(contentsOf: record)
            lengths.append(record.count)
            return true
        }
        // 2. raw liblmdb, 3. SQLite WAL.
        let rawPath = scratch("raw")
        let rawSeconds = data.withUnsafeBufferPointer { d in
            lengths.withUnsafeBufferPointer { l in
                raw_lmdb_append(rawPath, d.baseAddress, l.baseAddress, lengths.count, batch)
            }
        }
        let sqlitePath = scratch("sqlite") + ".db"
        let sqliteSeconds = data.withUnsafeBufferPointer { d in
            lengths.withUnsafeBufferPointer { l in
                sqlite_wal_append(sqlitePath, d.baseAddress, l.baseAddress, lengths.count, batch, 0)
            }
        }
        let indexedPath = scratch("sqlite-indexed") + ".db"
        let indexedSeconds = data.withUnsafeBufferPointer { d in
            lengths.withUnsafeBufferPointer { l in
                sqlite_wal_append(indexedPath, d.baseAddress, l.baseAddress, lengths.count, batch, 1)
            }
        }
        precondition(
            rawSeconds > 0 && sqliteSeconds > 0 && indexedSeconds > 0,
            "baseline failed: \(rawSeconds) \(sqliteSeconds) \(indexedSeconds)")
        // 4. the log with the projection maintained incrementally.
        let projectedPath = scratch("projected")
        let projectedLog = try EventLog.open(at: projectedPath)
        var projection = Projection()
        var start = now()
        var index = 0
        while index < changes.count {
            let slice = Array(changes[index..<min(index + batch, changes.count)])
            for event in try projectedLog.append(Batch(slice)).events { projection.apply(event) }
            index += batch
        }
        let projectedSeconds = now() - start
        let bytes = data.count / max(appended, 1)
        rows.append(
            Row(
                measure: "append, batch \(batch): raw liblmdb (\(bytes) B/event)", value: rate(appended, rawSeconds),
                ratio: "1.00", target: "the limit"))
        rows.append(
            Row(
                measure: "append, batch \(batch): MeshLedger log", value: rate(appended, logSeconds),
                ratio: String(format: "%.2f of raw", rawSeconds / logSeconds),
                target: batch == 1000 ? ">= 0.60 of raw" : "-"))
        rows.append(
            Row(
                measure: "append, batch \(batch): MeshLedger log without the audit index",
                value: rate(appended, unindexedSeconds),
                ratio: String(format: "with the index: %.2f of this", unindexedSeconds / logSeconds),
                target: ">= 0.90"))
        rows.append(
            Row(
                measure: "append, batch \(batch): SQLite WAL", value: rate(appended, sqliteSeconds),
                ratio: String(format: "log is %.2fx SQLite", sqliteSeconds / logSeconds), target: "log faster"))
        rows.append(
            Row(
                measure: "append, batch \(batch): SQLite WAL + the log's indexes",
                value: rate(appended, indexedSeconds),
                ratio: String(format: "log is %.2fx SQLite", indexedSeconds / logSeconds), target: "-"))
        rows.append(
            Row(
                measure: "append, batch \(batch): log + projection", value: rate(appended, projectedSeconds),
                ratio: String(format: "%.2f of raw", rawSeconds / projectedSeconds),
                target: batch == 1000 ? ">= 0.25 of raw" : "-"))
        for path in [logPath, rawPath, projectedPath] { try? FileManager.default.removeItem(atPath: path) }
        for file in [sqlitePath, indexedPath] {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
        }
        FileHandle.standardError.write(Data("  append batch \(batch) done\n".utf8))
    }
}
