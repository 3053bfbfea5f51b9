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
        var incremental = Projection()
        var reference = ReferenceProjection()
        var states = Set<String>()
        var mismatches = 0
        for event in ledger.events {
            incremental.apply(event)
            reference.apply(event)
            // Outputs are translated lazily: read them both pending and settled (stored).
            if event.sequence % 3 == 0 { incremental.settleDigest() }
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
        // The stream exercises every state, so the comparison covers them.
        #expect(states == ["ACCEPTED", "INVALID", "FAILED"])
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
