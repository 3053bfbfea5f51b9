// MeshLedger's benchmark harness: `swift run -c release --package-path Tools/Benchmarks Bench <benchmark> [options]`.
// Each benchmark measures MeshLedger next to its baseline in the same run and prints ratios.
import CBaselines
import EventLog
import Foundation
import MeshLedger
import MeshModel
import Projection
import Workload

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Monotonic seconds.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Reads `--name value` options.
struct Options {
    let values: [String: String]
    init(_ arguments: [String]) {
        var values: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            if arguments[i].hasPrefix("--"), i + 1 < arguments.count {
                values[String(arguments[i].dropFirst(2))] = arguments[i + 1]
                i += 2
            } else {
                i += 1
            }
        }
        self.values = values
    }
    func int(_ name: String, _ fallback: Int) -> Int { values[name].flatMap(Int.init) ?? fallback }

    /// The fleet the benchmarks generate: `--clusters` (6), `--services` per cluster (50),
    /// `--vds` (100), `--seed` (1).
    var fleet: FleetWorkload.Parameters {
        FleetWorkload.Parameters(
            clusters: int("clusters", 6), servicesPerCluster: int("services", 50), virtualDestinations: int("vds", 100),
            seed: UInt64(int("seed", 1)))
    }
}

/// Builds a store of at least `events` events from a fleet workload, snapshotting every `interval`.
func buildStore(_ parameters: FleetWorkload.Parameters, events: Int, interval: UInt64, path: String) throws -> Store {
    var options = EventLog.Options()
    options.noSync = true
    let store = try Store(path: path, options: options)
    var workload = FleetWorkload(parameters)
    var time: Int64 = 1_800_000_000_000_000
    func append(_ changes: [Change], resync: Resync? = nil) throws {
        time += 1_000
        let stamp = time
        _ = try store.log.append(Batch(changes, resync: resync), clock: { Timestamp(microseconds: stamp) })
    }
    for batch in workload.initialBatches() { try append(batch) }
    var head = try store.log.head().sequence
    var lastSnapshot: UInt64 = 0
    var projection = try store.project().projection
    var batchIndex = 0
    while head < UInt64(events) {
        batchIndex += 1
        if batchIndex % 5000 == 0 {
            let (changes, resync) = workload.resync(Int(head) % parameters.clusters)
            try append(changes, resync: resync)
        } else {
            try append(workload.nextBatch())
        }
        let newHead = try store.log.head().sequence
        if newHead > head {
            try store.log.scan((head + 1)...newHead) { event in
                projection.apply(event)
                return true
            }
            head = newHead
        }
        if interval > 0 && head >= lastSnapshot + interval {
            projection.settleDigest()
            try store.log.writeSnapshot(
                sequence: head, format: Projection.snapshotFormat, digest: projection.digest,
                payload: projection.snapshotPayload())
            lastSnapshot = head
        }
        if head % 50_000 == 0 { FileHandle.standardError.write(Data("  built \(head) events\n".utf8)) }
    }
    return store
}

func pastStatus(_ options: Options, rows: inout [Row]) throws {
    let parameters = options.fleet
    let events = options.int("events", 200_000)
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

/// A memory field (kB) of /proc/<pid>/status in MiB, 0 when the process is gone.
func procStatusMiB(_ pid: Int32, _ field: String) -> Double {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
    return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}

/// A fresh temporary path.
func scratch(_ name: String) -> String {
    FileManager.default.temporaryDirectory.path + "/meshledger-bench-\(name)-\(UUID().uuidString)"
}

/// The fleet workload's change stream: the initial fleet, then churn, flattened to single changes.
func workloadChanges(_ parameters: FleetWorkload.Parameters, count: Int) -> [Change] {
    var workload = FleetWorkload(parameters)
    var changes = workload.initialBatches().flatMap { $0 }
    while changes.count < count { changes += workload.nextBatch() }
    return Array(changes.prefix(count))
}

/// One row of the results table.
struct Row {
    let measure: String
    let value: String
    let ratio: String
    let target: String
}

func printTable(_ rows: [Row]) {
    let widths = [
        max(7, rows.map(\.measure.count).max() ?? 0), max(5, rows.map(\.value.count).max() ?? 0),
        max(5, rows.map(\.ratio.count).max() ?? 0),
    ]
    func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
    print("| \(pad("measure", widths[0])) | \(pad("value", widths[1])) | \(pad("ratio", widths[2])) | target |")
    print(
        "|\(String(repeating: "-", count: widths[0] + 2))|\(String(repeating: "-", count: widths[1] + 2))|\(String(repeating: "-", count: widths[2] + 2))|---|"
    )
    for row in rows {
        print(
            "| \(pad(row.measure, widths[0])) | \(pad(row.value, widths[1])) | \(pad(row.ratio, widths[2])) | \(row.target) |"
        )
    }
}

func rate(_ count: Int, _ seconds: Double) -> String { String(format: "%.0f ev/s", Double(count) / seconds) }

/// 1-4: append throughput of the log, raw liblmdb, SQLite WAL, and the log with the projection.
func append(_ options: Options, rows: inout [Row]) throws {
    let parameters = options.fleet
    for (batch, count) in [
        (1, options.int("n1", 2000)), (100, options.int("n100", 50_000)), (1000, options.int("n1000", 100_000)),
    ] {
        let changes = workloadChanges(parameters, count: count)
        // 1. the event log alone, durable commits.
        let logPath = scratch("log")
        let log = try EventLog.open(at: logPath)
        var start = now()
        var index = 0
        while index < changes.count {
            let slice = Array(changes[index..<min(index + batch, changes.count)])
            _ = try log.append(Batch(slice))
            index += batch
        }
        let logSeconds = now() - start
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
        let projectedLog = try EventLog.open(at: scratch("projected"))
        var projection = Projection()
        start = now()
        index = 0
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
        for path in [logPath, rawPath] { try? FileManager.default.removeItem(atPath: path) }
        for file in [sqlitePath, indexedPath] {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
        }
        FileHandle.standardError.write(Data("  append batch \(batch) done\n".utf8))
    }
}

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
    var projection = Projection()
    try log.scan(1...head) { event in
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
            measure: "replay \(head) events: full projection", value: rate(Int(head), replaySeconds),
            ratio: String(format: "1/%.0f of scan", replaySeconds / scanSeconds), target: ">= 1/20 of scan"))
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

/// 7: the incremental projection's cost per churn event as the fleet grows 10x, and the
/// reference's on the same stream.
func scaling(_ options: Options, rows: inout [Row]) throws {
    var perEvent: [Double] = []
    var perEventSettled: [Double] = []
    var perKind: [[ResourceKind: Double]] = []
    for factor in [1, 10] {
        let parameters = FleetWorkload.Parameters(
            clusters: 6, servicesPerCluster: 10 * factor, virtualDestinations: 20 * factor)
        let path = scratch("scale")
        var logOptions = EventLog.Options()
        logOptions.noSync = true
        let log = try EventLog.open(at: path, options: logOptions)
        var workload = FleetWorkload(parameters)
        for batch in workload.initialBatches() { _ = try log.append(Batch(batch)) }
        let fleetHead = try log.head().sequence
        for _ in 0..<options.int("churn", 3000) { _ = try log.append(Batch(workload.nextBatch())) }
        let head = try log.head().sequence
        var projection = Projection()
        var reference = ReferenceProjection()
        try log.scan(1...fleetHead) { event in
            projection.apply(event)
            reference.apply(event)
            return true
        }
        // The same events with outputs translated and the digest hashed after every event (what a
        // reader asking for outputs after each event pays; the projection itself defers them).
        var settled = projection
        settled.settleDigest()
        var start = now()
        try log.scan((fleetHead + 1)...head) { event in
            settled.apply(event)
            settled.settleDigest()
            return true
        }
        perEventSettled.append((now() - start) / Double(head - fleetHead))
        var byKind: [ResourceKind: (count: Int, seconds: Double)] = [:]
        start = now()
        try log.scan((fleetHead + 1)...head) { event in
            let t = now()
            projection.apply(event)
            byKind[event.key.kind, default: (0, 0)].count += 1
            byKind[event.key.kind, default: (0, 0)].seconds += now() - t
            return true
        }
        let incremental = (now() - start) / Double(head - fleetHead)
        perKind.append(byKind.mapValues { $0.seconds / Double(max($0.count, 1)) })
        let mix = byKind.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value.count)" }.joined(
            separator: ", ")
        FileHandle.standardError.write(Data("  fleet \(factor)x churn mix: \(mix)\n".utf8))
        let sample = min(head, fleetHead + UInt64(options.int("reference-events", 200)))
        start = now()
        try log.scan((fleetHead + 1)...sample) { event in
            reference.apply(event)
            return true
        }
        let full = (now() - start) / Double(sample - fleetHead)
        perEvent.append(incremental)
        rows.append(
            Row(
                measure:
                    "per churn event, fleet \(factor)x (\(6 * 10 * factor) services, \(20 * factor) VDs): incremental",
                value: String(format: "%.1f µs", incremental * 1e6),
                ratio: String(format: "%.0fx cheaper than reference (%.0f µs)", full / incremental, full * 1e6),
                target: "-"))
        try? FileManager.default.removeItem(atPath: path)
    }
    rows.append(
        Row(
            measure: "incremental cost growth for a 10x fleet, whole mix",
            value: String(format: "%.2fx", perEvent[1] / perEvent[0]), ratio: "-", target: "< 2x"))
    rows.append(
        Row(
            measure: String(
                format: "  with outputs and digest settled after every event (%.1f → %.1f µs)",
                perEventSettled[0] * 1e6, perEventSettled[1] * 1e6),
            value: String(format: "%.2fx", perEventSettled[1] / perEventSettled[0]), ratio: "-", target: "-"))
    for kind in [ResourceKind.destination, .virtualDestination, .trafficPolicy] {
        guard let small = perKind[0][kind], let large = perKind[1][kind] else { continue }
        let span = String(format: "%.0f → %.0f µs", small * 1e6, large * 1e6)
        rows.append(
            Row(
                measure: "  growth for \(kind.rawValue) events (\(span))",
                value: String(format: "%.2fx", large / small),
                ratio: "-", target: "< 2x"))
    }
}

/// A `meshledger serve` process on a free port.
func startServer(binary: String, store: String, extra: [String]) throws -> (Process, Int) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["serve", "--store", store, "--listen", "127.0.0.1:0"] + extra
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    var text = ""
    while true {
        let data = out.fileHandleForReading.availableData
        if data.isEmpty {
            throw NSError(domain: "bench", code: 1, userInfo: [NSLocalizedDescriptionKey: "server did not start"])
        }
        text += String(decoding: data, as: UTF8.self)
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
            let port = Int(line.split(separator: ":").last ?? "")
        {
            return (process, port)
        }
    }
}

/// 9 (issue 5): a bounded load from this process against the real server on loopback: `clients`
/// concurrent clients each append `requests` one-object batches; then the head, every client's
/// sequences and a watch stream are checked to agree (nothing lost or duplicated). Run with and
/// without group commit.
func serverLoad(_ options: Options) async throws -> [Row] {
    var rows: [Row] = []
    let binary = options.values["binary"] ?? "../../.build/release/meshledger"
    let clients = options.int("clients", 32)
    let requests = options.int("requests", 40)
    let fleetEvents = options.int("fleet-events", 100_000)
    // What the clients send: fleet churn (endpoint moves, edits), as JSON, one change per request.
    var churn = FleetWorkload(FleetWorkload.Parameters(seed: 2))
    var bodies: [(op: String, body: [UInt8])] = []
    while bodies.count < clients * requests {
        for change in churn.nextBatch() {
            guard case .upsert(let manifest) = change.operation else { continue }
            bodies.append((change.source == .discovery ? "discover" : "apply", JSONText.canonical(manifest.object)))
        }
    }
    var rates: [String: Double] = [:]
    for mode in ["--group-commit", "--no-group-commit"] {
        let store = scratch("server")
        // The server starts on a fleet log (with its snapshots) and serves that fleet's state.
        FileHandle.standardError.write(Data("  building a \(fleetEvents)-event fleet log for the server\n".utf8))
        let fleetHead = try buildStore(
            options.fleet, events: fleetEvents, interval: Store.defaultSnapshotInterval, path: store
        ).log.head().sequence
        let (server, port) = try startServer(binary: binary, store: store, extra: [mode])
        defer {
            server.interrupt()
            server.waitUntilExit()
        }
        func serverPeakMiB() -> Double { procStatusMiB(server.processIdentifier, "VmHWM") }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = clients
        let session = URLSession(configuration: configuration)
        let started = now()
        let sequences = try await withThrowingTaskGroup(of: [Int64?].self) { group in
            for client in 0..<clients {
                let mine = Array(bodies[(client * requests)..<((client + 1) * requests)])
                group.addTask {
                    var appended: [Int64?] = []
                    for (op, body) in mine {
                        var request = URLRequest(
                            url: URL(string: "http://127.0.0.1:\(port)/v1/events?op=\(op)&actor=client-\(client)")!)
                        request.httpMethod = "POST"
                        request.httpBody = Data(body)
                        let (data, response) = try await session.data(for: request)
                        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                            throw NSError(
                                domain: "bench", code: 2,
                                userInfo: [NSLocalizedDescriptionKey: String(decoding: data, as: UTF8.self)])
                        }
                        // No range: the change was a no-op (the object already had that content).
                        appended.append(try JSONText.parse(Array(data))[path: ["range", "from"]]?.intValue)
                    }
                    return appended
                }
            }
            var all: [Int64?] = []
            for try await mine in group { all += mine }
            return all
        }
        let seconds = now() - started
        let total = clients * requests
        let appended = sequences.compactMap { $0 }
        let first = Int64(fleetHead) + 1
        let last = Int64(fleetHead) + Int64(appended.count)
        precondition(
            !appended.isEmpty && Set(appended).count == appended.count && appended.min() == first
                && appended.max() == last,
            "lost or duplicated appends")
        let (watchData, _) = try await session.data(
            from: URL(string: "http://127.0.0.1:\(port)/v1/watch?from=\(fleetHead)&timeoutSeconds=1")!)
        let watched = String(decoding: watchData, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONText.parse(Array($0.utf8))
        }
        .filter { $0["type"] == "EVENT" }.compactMap { $0["sequence"]?.intValue }
        precondition(watched == Array(first...last), "the watch stream disagrees with the appends")
        let (healthData, _) = try await session.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        let reportedHead = try JSONText.parse(Array(healthData))["head"]?.intValue
        precondition(reportedHead == last, "the head disagrees")
        rates[mode] = Double(total) / seconds
        rows.append(
            Row(
                measure:
                    "server peak memory on a \(fleetHead)-event fleet log after \(total) requests (\(appended.count) appends) and a watch, \(mode.dropFirst(2))",
                value: String(format: "%.0f MiB", serverPeakMiB()),
                ratio: String(
                    format: "%.0f MiB its own at the end (the rest: the log's mapped pages)",
                    procStatusMiB(server.processIdentifier, "RssAnon")),
                target: "-"))
        rows.append(
            Row(
                measure: "server, \(clients) clients x \(requests) fleet changes, \(mode.dropFirst(2))",
                value: rate(total, seconds),
                ratio: mode == "--group-commit"
                    ? "1.00" : String(format: "%.2f of group commit", rates[mode]! / rates["--group-commit"]!),
                target: "group commit faster"))
        try? FileManager.default.removeItem(atPath: store)
    }
    return rows
}

let arguments = Array(CommandLine.arguments.dropFirst())
let options = Options(Array(arguments.dropFirst()))
var rows: [Row] = []
switch arguments.first {
case "past-status": try pastStatus(options, rows: &rows)
case "append": try append(options, rows: &rows)
case "replay": try replay(options, rows: &rows)
case "scaling": try scaling(options, rows: &rows)
case "server-load": rows = try await serverLoad(options)
case "all":
    try append(options, rows: &rows)
    try scaling(options, rows: &rows)
    try replay(options, rows: &rows)
    try pastStatus(options, rows: &rows)
    if options.values["binary"] != nil { rows += try await serverLoad(options) }
default:
    print("usage: Bench all|append|replay|scaling|past-status|server-load [--name value ...]")
    exit(2)
}
if !rows.isEmpty { printTable(rows) }
