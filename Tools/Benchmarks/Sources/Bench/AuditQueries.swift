import EventLog
import Foundation
import MeshLedger
import MeshModel
import Workload

/// The auditor's questions on a large log: `log --actor`, `--name` (no kind), `--source` and
/// `--cluster`, each answering about 100 events, from the audit index against the full scan
/// of the same query (the store opened without the index), in process and through `meshledger
/// log` when `--binary` is given. The log is the fleet workload with one change by an auditor's
/// probe identity every 1/100th of it: a Destination `audited` of cluster `cluster-audit`,
/// source controller.
func auditQueries(_ options: Options, rows: inout [Row]) throws {
    let events = options.int("audit-events", 1_000_000)
    let path = scratch("audit")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let needles = 100
    let every = max(1, events / needles)
    try {
        var logOptions = EventLog.Options()
        logOptions.noSync = true
        let log = try EventLog.open(at: path, options: logOptions)
        var workload = FleetWorkload(options.fleet)
        for batch in workload.initialBatches() { _ = try log.append(Batch(batch)) }
        var pending: [Change] = []
        var placed = 0
        var head = try log.head().sequence
        while head < UInt64(events) {
            pending += workload.nextBatch()
            if placed < needles && Int(head) + pending.count >= (placed + 1) * every - every / 2 {
                pending.append(probe(workload, placed))
                placed += 1
            }
            if pending.count >= 1000 {
                head = try log.append(Batch(pending)).events.last?.sequence ?? head
                pending = []
                if head % 100_000 < 1000 { FileHandle.standardError.write(Data("  built \(head) events\n".utf8)) }
            }
        }
        _ = try log.verify()  // reads every record once: the pages are warm for every reading
    }()
    var actor = LogQuery()
    actor.actor = "auditor-probe"
    var name = LogQuery()
    name.name = "audited"
    var source = LogQuery()
    source.source = .controller
    var cluster = LogQuery()
    cluster.cluster = "cluster-audit"
    let queries: [(flag: String, query: LogQuery)] = [
        ("--actor auditor-probe", actor), ("--name audited", name), ("--source controller", source),
        ("--cluster cluster-audit", cluster),
    ]
    /// The median of `samples` timed answers, and the answer's count.
    func timed(_ store: Store, _ query: LogQuery, samples: Int) throws -> (seconds: Double, count: Int) {
        var times: [Double] = []
        var count = 0
        for _ in 0..<samples {
            count = 0
            let start = now()
            try store.query(query) { _ in
                count += 1
                return true
            }
            times.append(now() - start)
        }
        return (times.sorted()[samples / 2], count)
    }
    let indexed = try {
        let store = try Store(path: path, readOnly: true)
        precondition(queries.allSatisfy { store.answersFromIndex($0.query) })
        return try queries.map { try timed(store, $0.query, samples: 5) }
    }()
    let head: UInt64
    let scanned: [(seconds: Double, count: Int)]
    (head, scanned) = try {
        var unindexed = EventLog.Options()
        unindexed.auditIndex = false
        let store = try Store(path: path, readOnly: true, options: unindexed)
        precondition(queries.allSatisfy { !store.answersFromIndex($0.query) })
        return (try store.log.head().sequence, try queries.map { try timed(store, $0.query, samples: 1) })
    }()
    for ((flag, _), (index, scan)) in zip(queries, zip(indexed, scanned)) {
        precondition(index.count == scan.count, "\(flag): the index answers \(index.count), the scan \(scan.count)")
        rows.append(
            Row(
                measure: "log \(flag) on a \(head)-event log (\(index.count) events): audit index",
                value: String(format: "%.2f ms", index.seconds * 1000),
                ratio: String(
                    format: "%.0fx faster than the full scan (%.0f ms)", scan.seconds / index.seconds,
                    scan.seconds * 1000),
                target: "<= 50 ms, >= 100x"))
    }
    // The same questions as a user asks them: `meshledger log`, a process each (its start included).
    guard let binary = options.values["binary"] else { return }
    for (flag, _) in queries {
        var times: [Double] = []
        for _ in 0..<5 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: binary)
            child.arguments =
                ["log", "--store", path, "--read-only", "-o", "jsonl"] + flag.split(separator: " ").map(String.init)
            child.standardOutput = FileHandle.nullDevice
            // Not `waitUntilExit`: it looks every 50 ms.
            let exited = DispatchSemaphore(value: 0)
            child.terminationHandler = { _ in exited.signal() }
            let start = now()
            try child.run()
            exited.wait()
            times.append(now() - start)
            precondition(child.terminationStatus == 0, "meshledger log \(flag) failed")
        }
        rows.append(
            Row(
                measure: "`meshledger log \(flag)` on the same log, the process's start included",
                value: String(format: "%.1f ms", times.sorted()[2] * 1000), ratio: "-", target: "<= 50 ms"))
    }
}

/// The auditor's probe: an upsert of Destination `audited` of cluster `cluster-audit` by
/// `auditor-probe`, source controller (no other change of the workload has any of these).
private func probe(_ workload: FleetWorkload, _ index: Int) -> Change {
    var object = workload.destination(0, 0, endpoints: index).object.objectValue!
    var metadata = object["metadata"]!.objectValue!
    metadata["name"] = "audited"
    object["metadata"] = .object(metadata)
    var spec = object["spec"]!.objectValue!
    var service = spec["kubeService"]!.objectValue!
    var ref = service["ref"]!.objectValue!
    ref["clusterName"] = "cluster-audit"
    service["ref"] = .object(ref)
    spec["kubeService"] = .object(service)
    object["spec"] = .object(spec)
    return Change(.upsert(try! Manifest(object: .object(object))), source: .controller, actor: "auditor-probe")
}
