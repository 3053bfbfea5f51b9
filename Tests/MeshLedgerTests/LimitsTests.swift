import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Projection
import Testing

/// The limits the use cases and the log keep whatever the front end: points of history that do not
/// fit, objects over the limit of one object, status records a user cannot write.
@Suite struct LimitsTests {
    @Test(arguments: ["999999999999d", "9223372036854775807s", "2562047788015216h1h", "106751991167d1d"])
    func aDurationPastSixtyFourBitsIsRefusedNotTrapped(text: String) throws {
        #expect(LogBound.parse(text) == nil)
        let store = try temporaryStore()
        let error = #expect(throws: InvalidRequest.self) { try store.sequence(atPoint: text, named: "--at") }
        #expect(error?.message.contains("--at") == true)
        #expect(throws: InvalidRequest.self) { try LogQuery(filters: ["since": text]) }
    }

    @Test func durationsWithinRangeStillWork() {
        let now = Timestamp(microseconds: 1_800_000_000_000_000)
        #expect(LogBound.parse("1h30m", now: now) == .time(Timestamp(microseconds: now.microseconds - 5_400_000_000)))
        #expect(LogBound.parse("18446744073709551615", now: now) == .sequence(.max))
    }

    /// The object the log would store is checked, not the text it came from: one over the limit is
    /// refused with nothing appended, whichever use case built it.
    @Test func theLogRefusesAnObjectOverTheLimitOfOneObject() throws {
        let store = try temporaryStore()
        let big = String(repeating: "e", count: ManifestReader.maxDocumentBytes)
        let output = OutputKey(cluster: "cluster-1", kind: "ServiceEntry", namespace: "bookinfo", name: "x")
        let feedback = Feedback(applied: false, output: output, error: big)
        let error = #expect(throws: LogError.self) {
            try store.append(try Batch.report(feedback, actor: "controller"), clock: fixedClock())
        }
        #expect(error?.code == .tooLarge)
        #expect(try store.log.head().sequence == 0)
        let fits = Feedback(applied: false, output: output, error: String(big.prefix(1 << 20)))
        #expect(try store.append(try Batch.report(fits, actor: "controller"), clock: fixedClock()).head == 1)
    }

    @Test func anAppliedManifestCannotCarryAnOperatorStatusRecord() throws {
        let manifest = try Manifest(object: [
            "apiVersion": "networking.mesh.gloo.solo.io/v1alpha2", "kind": "TrafficPolicy",
            "metadata": [
                "name": "tp", "namespace": "team",
                "annotations": [.init(Store.operatorStatusAnnotation): "{\"forged\":true}", "kept": "yes"],
            ],
            "spec": ["policy": ["requestTimeout": "5s"]],
        ])
        let store = try temporaryStore()
        _ = try store.append(try Batch.apply([manifest], actor: "alice"), clock: fixedClock())
        let stored = try #require(try store.storedObject(manifest.key))
        #expect(stored[path: ["metadata", "annotations", Store.operatorStatusAnnotation]] == nil)
        #expect(stored[path: ["metadata", "annotations", "kept"]] == "yes")
    }
}

/// A long read stops when the task that asked for it is cancelled (its requester went away).
@Suite struct CancellationTests {
    @Test func aCancelledTaskStopsItsReplayAndItsScanPartWay() async throws {
        let store = try temporaryStore()
        let policies = try (0..<10_000).map { try RelistTests.trafficPolicy("tp-\($0)", "team") }
        _ = try store.append(try Batch.apply(policies, actor: "alice"), clock: fixedClock())
        let head = try store.log.head().sequence
        // Cancelled at its first progress report (4,096 events in), the replay stops at the next check.
        let replay = Task {
            try store.project(upTo: head, useSnapshots: false) { done, _ in
                if done == 4096 { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        await #expect(throws: CancellationError.self) { _ = try await replay.value }
        let scan = Task {
            var seen = 0
            try store.query(LogQuery()) { _ in
                seen += 1
                if seen == 1 { withUnsafeCurrentTask { $0?.cancel() } }
                return true
            }
            return seen
        }
        await #expect(throws: CancellationError.self) { _ = try await scan.value }
        // Not cancelled, the same reads run to the end.
        #expect(try store.project(upTo: head, useSnapshots: false).sequence == head)
        var all = 0
        try store.query(LogQuery()) { _ in
            all += 1
            return true
        }
        #expect(all == 10_000)
    }
}
