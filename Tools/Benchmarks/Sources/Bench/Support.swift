// What the benchmarks share: options, timing, scratch paths, the fleet log they build, memory read
// from /proc, and the results table.
import EventLog
import Foundation
import MeshLedger
import MeshModel
import Projection
import Workload

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

/// Builds a store of at least `events` events from a fleet workload, snapshotting every `interval`
/// events (nil: as the server and the CLI do by default, `Store.automaticSnapshotInterval`).
func buildStore(_ parameters: FleetWorkload.Parameters, events: Int, interval: UInt64?, path: String) throws -> Store {
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
        if Store.isSnapshotDue(
            head: head, newest: lastSnapshot, interval: interval, liveObjects: { projection.world.inputs.count })
        {
            let t = now()
            try store.writeSnapshot(of: projection, complete: false)  // as the server and the CLI take them
            snapshotWrites.seconds += now() - t
            snapshotWrites.count += 1
            lastSnapshot = head
        }
        if head % 50_000 == 0 { FileHandle.standardError.write(Data("  built \(head) events\n".utf8)) }
    }
    return store
}

/// The snapshots `buildStore` wrote and the time they took (the payload and the write, as automatic
/// snapshots take them: no output translated), the cost a snapshot interval puts on the writer.
nonisolated(unsafe) var snapshotWrites = (count: 0, seconds: 0.0)

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
