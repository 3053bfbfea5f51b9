import CBaselines
import EventLog
import Foundation
import MeshModel
import Projection
import Workload

/// 7: the incremental projection's cost per churn event as the fleet grows 10x and 100x (6,000
/// services, 2,000 VirtualDestinations; `--largest-factor 10` leaves it out), and the reference's
/// on the same stream (not at 100x: one of its events takes seconds there).
func scaling(_ options: Options, rows: inout [Row]) throws {
    var perEvent: [Double] = []
    var perEventSettled: [Double] = []
    var perKind: [[ResourceKind: Double]] = []
    var memory: [(fleet: Int, churned: Int, objects: Int)] = []
    let factors = [1, 10, 100].filter { $0 <= options.int("largest-factor", 100) }
    let churn = options.int("churn", 3000)
    for factor in factors {
        let parameters = FleetWorkload.Parameters(
            clusters: 6, servicesPerCluster: 10 * factor, virtualDestinations: 20 * factor)
        let path = scratch("scale")
        var logOptions = EventLog.Options()
        logOptions.noSync = true
        let log = try EventLog.open(at: path, options: logOptions)
        var workload = FleetWorkload(parameters)
        for batch in workload.initialBatches() { _ = try log.append(Batch(batch)) }
        let fleetHead = try log.head().sequence
        for _ in 0..<churn { _ = try log.append(Batch(workload.nextBatch())) }
        let head = try log.head().sequence
        var projection = Projection()
        var reference = ReferenceProjection()
        try log.scan(1...fleetHead) { event in
            projection.apply(event)
            if factor <= 10 { reference.apply(event) }
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
        var ratio = "- (the reference is not run at this size)"
        if factor <= 10 {
            let sample = min(head, fleetHead + UInt64(options.int("reference-events", 200)))
            start = now()
            try log.scan((fleetHead + 1)...sample) { event in
                reference.apply(event)
                return true
            }
            let full = (now() - start) / Double(sample - fleetHead)
            ratio = String(format: "%.0fx cheaper than reference (%.0f µs)", full / incremental, full * 1e6)
        }
        perEvent.append(incremental)
        memory.append(try projectionMemory(log, fleetHead: fleetHead, head: head))
        rows.append(
            Row(
                measure:
                    "per churn event, fleet \(factor)x (\(6 * 10 * factor) services, \(20 * factor) VDs): incremental",
                value: String(format: "%.1f µs", incremental * 1e6), ratio: ratio, target: "-"))
        try? FileManager.default.removeItem(atPath: path)
    }
    for (factor, bytes) in zip(factors, memory) {
        rows.append(
            Row(
                measure:
                    "projection heap, fleet \(factor)x (\(bytes.objects) live objects): after the fleet; after \(churn) churn batches",
                value: String(
                    format: "%.1f MiB; %.1f MiB", Double(bytes.fleet) / 1_048_576, Double(bytes.churned) / 1_048_576),
                ratio: String(
                    format: "%.0f B per live object; the longer log %.2fx", Double(bytes.fleet) / Double(bytes.objects),
                    Double(bytes.churned) / Double(bytes.fleet)),
                target: "proportional to live objects, not to log length"))
    }
    for step in 1..<factors.count {
        let (small, large) = (step - 1, step)
        let label = "\(factors[small])x → \(factors[large])x"
        rows.append(
            Row(
                measure: "incremental cost growth, fleet \(label), whole mix",
                value: String(format: "%.2fx", perEvent[large] / perEvent[small]), ratio: "-", target: "< 2x"))
        rows.append(
            Row(
                measure: String(
                    format: "  with outputs and digest settled after every event (%.1f → %.1f µs)",
                    perEventSettled[small] * 1e6, perEventSettled[large] * 1e6),
                value: String(format: "%.2fx", perEventSettled[large] / perEventSettled[small]), ratio: "-",
                target: "-"))
        for kind in [ResourceKind.destination, .virtualDestination, .trafficPolicy] {
            guard let before = perKind[small][kind], let after = perKind[large][kind] else { continue }
            let span = String(format: "%.0f → %.0f µs", before * 1e6, after * 1e6)
            rows.append(
                Row(
                    measure: "  growth for \(kind.rawValue) events, \(label) (\(span))",
                    value: String(format: "%.2fx", after / before), ratio: "-", target: "< 2x"))
        }
    }
}

/// The heap a projection holds (glibc's count of bytes in use, before and after building it)
/// after folding the fleet, and after folding the churn as well: the same live objects, a longer
/// log. Also the number of live objects.
func projectionMemory(
    _ log: EventLog, fleetHead: UInt64, head: UInt64
) throws -> (
    fleet: Int, churned: Int, objects: Int
) {
    let base = Int(heap_in_use())
    var projection = Projection()
    try log.scan(1...fleetHead) { event in
        projection.apply(event)
        return true
    }
    projection.settleDigest()
    let fleet = Int(heap_in_use()) - base
    try log.scan((fleetHead + 1)...head) { event in
        projection.apply(event)
        return true
    }
    projection.settleDigest()
    let churned = Int(heap_in_use()) - base
    return withExtendedLifetime(projection) { (fleet, churned, projection.world.inputs.count) }
}
