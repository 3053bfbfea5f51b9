import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

@testable import Projection

/// Generates a stream into a fresh ledger.
func generatedLedger(seed: UInt64, clusters: Int, batches: Int) throws -> Ledger {
    let ledger = try Ledger()
    var generator = ChaosStream(seed: seed, clusters: clusters)
    for _ in 0..<batches { _ = try ledger.append(try generator.next()) }
    return ledger
}

@Suite struct GeneratedStreamTests {
    @Test(arguments: [(seed: UInt64(1), clusters: 3), (seed: 2, clusters: 4), (seed: 3, clusters: 5)])
    func theIncrementalProjectionEqualsTheReferenceAfterEveryEvent(_ config: (seed: UInt64, clusters: Int)) throws {
        let ledger = try generatedLedger(seed: config.seed, clusters: config.clusters, batches: 1500)
        #expect(ledger.events.count > 1000)
        let states = compareWithTheReference(ledger.events, settleEvery: 3)
        // The stream exercises every state, so the comparison covers them.
        #expect(states == ["ACCEPTED", "INVALID", "FAILED"])
    }

    /// The benchmark's fleet churn: endpoint moves, scale to zero and back, VirtualDestination
    /// edits and TrafficPolicy tuning without write failures, so policy edits take the deferred
    /// path (its effects looked up when asked for), which the chaos stream never does.
    @Test func theFleetChurnWithDeferredPolicyEditsEqualsTheReference() throws {
        let ledger = try Ledger()
        var workload = FleetWorkload(.init(clusters: 3, servicesPerCluster: 6, virtualDestinations: 8))
        for batch in workload.initialBatches() { _ = try ledger.append(batch) }
        for _ in 0..<800 { _ = try ledger.append(workload.nextBatch()) }
        let policyEdits = ledger.events.filter { $0.key.kind == .trafficPolicy }.count
        #expect(policyEdits > 4)
        let states = compareWithTheReference(ledger.events, settleEvery: 50)
        #expect(states.contains("ACCEPTED"))
        // Settling after a deferred edit translated DestinationRules alone (what the comparison
        // above checked against the reference).
        var projection = Projection()
        for event in ledger.events {
            projection.apply(event)
            if event.sequence % 50 == 0 { projection.settleDigest() }
        }
        #expect(projection.rulesOnlyTranslations > 0)
    }

    /// A fold reads only what `Projection.foldShapes` names: events decoded with those shapes give
    /// the same Destinations and fold to the same projection as whole events, though what the
    /// shapes skip (endpoint addresses) is gone from them.
    @Test func eventsDecodedWithTheFoldShapesFoldToTheSameProjection() throws {
        let chaos = try generatedLedger(seed: 5, clusters: 3, batches: 600)
        let fleet = try Ledger()
        var workload = FleetWorkload(.init(clusters: 3, servicesPerCluster: 6, virtualDestinations: 8))
        for batch in workload.initialBatches() { _ = try fleet.append(batch) }
        for _ in 0..<300 { _ = try fleet.append(workload.nextBatch()) }
        for events in [chaos.events, fleet.events] {
            var whole = Projection()
            var shaped = Projection()
            var pruned = 0
            for event in events {
                let decoded = try EventCodec.decode(EventCodec.encode(event).record, objects: Projection.foldShapes)
                if event.key.kind == .destination {
                    #expect(Destination(object: decoded.object) == Destination(object: event.object))
                    if decoded.object != event.object { pruned += 1 }
                } else {
                    #expect(decoded.object == event.object)
                }
                whole.apply(event)
                shaped.apply(decoded)
            }
            #expect(pruned > 0)
            whole.settleDigest()
            shaped.settleDigest()
            #expect(shaped.digest == whole.digest)
            #expect(canonicalState(shaped.states) == canonicalState(whole.states))
        }
    }

    /// Folds the events into the incremental and the reference projection and compares statuses,
    /// outputs and evaluations after every event; checks that `lastChanged` names every
    /// VirtualDestination whose status or outputs the event changed. Returns the states seen.
    func compareWithTheReference(_ events: [Event], settleEvery: UInt64) -> Set<String> {
        var incremental = Projection()
        var reference = ReferenceProjection()
        var states = Set<String>()
        var mismatches = 0
        var previous: [ObjectRef: [UInt8]] = [:]
        var unreported = 0
        var deferred = 0
        var outputMismatches = 0
        var previousKeys: Set<OutputKey> = []
        for event in events {
            incremental.apply(event)
            reference.apply(event)
            if incremental.deferredPolicyCount > 0 { deferred += 1 }
            // `lastChanged` (what history and watchers follow) names every VirtualDestination
            // whose status or outputs the event changed, also where their translation waits.
            let changed = incremental.lastChanged
            let current = incremental.states.reduce(into: [ObjectRef: [UInt8]]()) {
                $0[$1.key] = canonicalState([$1.key: $1.value])
            }
            for ref in Set(current.keys).union(previous.keys)
            where current[ref] != previous[ref] && !changed.contains(ref) {
                unreported += 1
                if unreported == 1 {
                    Issue.record("\(ref) changed at \(event.sequence) (\(event.key)), not in lastChanged")
                }
            }
            previous = current
            // Outputs are translated lazily: read them both pending and settled (stored).
            if event.sequence % settleEvery == 0 {
                incremental.settleDigest()
                // One output read by its key (what the output watches' feed reads) is the one
                // merged from every output; a key no longer produced reads as none.
                let objects = incremental.outputObjects
                let keys = Set(objects.map(\.key))
                let byKey = incremental.outputObjects(keys.union(previousKeys))
                if byKey != Dictionary(uniqueKeysWithValues: objects.map { ($0.key, $0) }) {
                    outputMismatches += 1
                    if outputMismatches == 1 { Issue.record("outputObjects(keys) differs at \(event.sequence)") }
                }
                previousKeys = keys
            }
            // Statuses and outputs, and the evaluations `explain` shows (issues and their inputs).
            if canonicalState(incremental.states) != canonicalState(reference.states)
                || incremental.states.mapValues(\.evaluation) != reference.states.mapValues(\.evaluation)
            {
                mismatches += 1
                if mismatches == 1 { Issue.record("first mismatch after event \(event.sequence) (\(event.key))") }
            }
            for state in incremental.states.values { states.insert(state.status.state.rawValue) }
        }
        #expect(mismatches == 0)
        #expect(unreported == 0)
        #expect(outputMismatches == 0)
        // Policy edits were deferred only where the stream has no write failures.
        if events.contains(where: { $0.key.kind == .syncResult }) {
            #expect(deferred == 0)
        } else {
            #expect(deferred > 0)
        }
        return states
    }

    @Test func theDigestIsAPureFunctionOfTheLog() throws {
        let a = try generatedLedger(seed: 7, clusters: 3, batches: 400)
        let b = try generatedLedger(seed: 7, clusters: 3, batches: 400)
        var pa = Projection()
        var pb = Projection()
        for (ea, eb) in zip(a.events, b.events) {
            pa.apply(ea)
            pb.apply(eb)
            #expect(pa.digest == pb.digest)
        }
        // A different stream gives a different digest; the digest follows the canonical bytes.
        let c = try generatedLedger(seed: 8, clusters: 3, batches: 400)
        var pc = Projection()
        for event in c.events { pc.apply(event) }
        #expect(pc.digest != pa.digest)
        var rebuilt = Projection()
        for event in a.events { rebuilt.apply(event) }
        #expect(canonicalState(rebuilt.states) == canonicalState(pa.states))
    }
}
