import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Projection
import Testing
import Workload

@testable import MeshLedger

/// A store holding a generated stream of `batches` batches.
func generatedStore(seed: UInt64, clusters: Int, batches: Int) throws -> Store {
    let store = try temporaryStore()
    var stream = ChaosStream(seed: seed, clusters: clusters)
    var time: Int64 = 1_800_000_000_000_000
    for _ in 0..<batches {
        time += 1_000_000
        let now = time
        _ = try store.log.append(Batch(try stream.next()), clock: { Timestamp(microseconds: now) })
    }
    return store
}

/// "restored", or why a restore of the payload `root` from `store`'s log failed.
func restoreOutcome(_ root: JSONObject, _ digest: Digest, _ store: Store) -> String {
    do {
        _ = try Projection.restore(
            payload: PackedValue.encode(.object(root)), expectedDigest: digest, events: store.foldEvents(at:))
        return "restored"
    } catch { return "\(error)" }
}

@Suite struct SnapshotTests {
    @Test(arguments: [UInt64(11), 12])
    func snapshotPlusTailEqualsAFullReplayAtRandomPoints(seed: UInt64) throws {
        let store = try generatedStore(seed: seed, clusters: 4, batches: 3000)
        let head = try store.log.head().sequence
        #expect(head > 2500)
        var random = SplitMix64(seed: seed * 7)
        let placements = (0..<6).map { _ in random.next() % head + 1 }.sorted()
        for placement in placements { try store.createSnapshot(at: placement) }
        #expect(try store.log.snapshotInfos().map(\.sequence) == Array(Set(placements)).sorted())
        for _ in 0..<12 {
            let m = random.next() % head + 1
            let fast = try store.project(upTo: m)
            let full = try store.project(upTo: m, useSnapshots: false)
            #expect(full.origin.snapshot == nil)
            #expect(fast.origin.snapshot == placements.last { $0 <= m })
            #expect(canonicalState(fast.projection.states) == canonicalState(full.projection.states), "at \(m)")
            #expect(fast.projection.digest == full.projection.digest)
            // When each status last changed (the resourceVersion it is served at) is restored too.
            #expect(fast.projection.statusChangedAt == full.projection.statusChangedAt, "at \(m)")
            // Folding on from the restored state stays equal too.
            var a = fast.projection
            var b = full.projection
            try store.log.scan((m + 1)...min(m + 200, head)) { event in
                a.apply(event)
                b.apply(event)
                return true
            }
            #expect(canonicalState(a.states) == canonicalState(b.states))
            #expect(a.statusChangedAt == b.statusChangedAt)
        }
        #expect(try store.replay(verifySnapshots: true).snapshotProblems.isEmpty)
    }

    @Test func alteredOrUnknownSnapshotsAreSkippedAndTheAnswerStaysRight() throws {
        let store = try generatedStore(seed: 5, clusters: 3, batches: 600)
        let head = try store.log.head().sequence
        let truth = try store.project(upTo: head, useSnapshots: false).projection
        try store.createSnapshot(at: 100)
        try store.createSnapshot(at: 300)
        try store.createSnapshot(at: 500)

        // 500: one payload byte flipped (the record's checksum catches it).
        try store.log.replaceSnapshotRecord(500) { record in
            var altered = record
            altered[record.count / 2] ^= 0x40
            return altered
        }
        // 300: a format this version does not know, with a checksum that holds.
        try store.log.replaceSnapshotRecord(300) { record in
            var body = Array(record.dropLast(32))
            body[0] = 9
            return body + Array(SHA256Check.hash(body))
        }
        let answer = try store.project(upTo: head)
        #expect(answer.origin.snapshot == 100)
        #expect(answer.origin.skipped.map(\.sequence) == [500, 300])
        #expect(answer.origin.skipped[0].reason.contains("altered"))
        #expect(answer.origin.skipped[1].reason.contains("format 9"))
        #expect(canonicalState(answer.projection.states) == canonicalState(truth.states))

        // 100: intact bytes, current format, but a digest that does not match the restored state.
        try store.log.replaceSnapshotRecord(100) { record in
            var body = Array(record.dropLast(32))
            body[9] ^= 0xFF
            return body + Array(SHA256Check.hash(body))
        }
        let fromScratch = try store.project(upTo: head)
        #expect(fromScratch.origin.snapshot == nil)
        #expect(fromScratch.origin.skipped.count == 3)
        #expect(fromScratch.projection.digest == truth.digest)
        let problems = try store.replay(verifySnapshots: true).snapshotProblems
        #expect(problems.map(\.sequence) == [100, 500])
    }

    @Test func aRestoreChecksEveryStatusAgainstTheRecordedOneAndTranslatesNothingUntilAsked() throws {
        let store = try generatedStore(seed: 21, clusters: 3, batches: 800)
        var full = try store.project(useSnapshots: false).projection
        full.settleDigest()
        let (payload, digest) = full.snapshot()
        #expect(digest == full.digest)  // settled: every contribution recorded
        let restored = try Projection.restore(
            payload: payload, expectedDigest: full.digest, events: store.foldEvents(at:))
        #expect(restored.digest == full.digest)  // the recorded contributions, no translation
        #expect(canonicalState(restored.states) == canonicalState(full.states))  // translated on demand

        // The recorded states: one per VirtualDestination, each with a status digest.
        let value = try PackedValue.decode(payload)
        let states = try #require(value["states"]?.arrayValue)
        #expect(states.count == full.world.virtualDestinations.count)
        #expect(states.count > 3)
        func restoring(_ alter: (inout [JSONValue]) -> Void) -> String {
            guard case .object(var root) = value else { return "not an object" }
            var altered = states
            alter(&altered)
            root["states"] = .array(altered)
            return restoreOutcome(root, full.digest, store)
        }
        // A status derived differently than recorded (rules changed since, or altered bytes).
        let differs = restoring { states in
            guard case .object(var entry) = states[1] else { return }
            entry["status"] = .string(Digest.zero.hex)
            states[1] = .object(entry)
        }
        #expect(differs.contains("differs from the one the snapshot recorded"), "\(differs)")
        // A state missing.
        #expect(restoring { $0.removeLast() }.contains("records \(states.count - 1) VirtualDestination states"))
        // Contributions that do not sum to the snapshot's digest.
        let sum = restoring { states in
            guard case .object(var entry) = states[0] else { return }
            entry["contribution"] = .string(Digest.zero.hex)
            states[0] = .object(entry)
        }
        #expect(sum.contains("does not match the snapshot's"), "\(sum)")
        #expect(restoring { _ in } == "restored")
    }

    @Test func aSnapshotOfAStateNotSettledRecordsOnlyTheSettledContributionsAndVerifyChecksThem() throws {
        let store = try generatedStore(seed: 31, clusters: 3, batches: 800)
        let head = try store.log.head().sequence
        // The state settled at some point, then a few events folded: some VirtualDestinations
        // changed since (their contributions pending), some did not.
        func partlySettled(_ tail: UInt64) throws -> Projection {
            var projection = try store.project(upTo: head - tail, useSnapshots: false).projection
            projection.settleDigest()
            try store.log.scan((head - tail + 1)...head) { event in
                projection.apply(event)
                return true
            }
            return projection
        }
        let truth = try store.project(useSnapshots: false).projection
        let partial = try #require(
            try [1, 2, 4, 8, 16].lazy.map(partlySettled).first { projection in
                let counts = Projection.recordedContributions(in: projection.snapshot().payload)
                return counts.map { $0.recorded > 1 && $0.recorded < $0.of } ?? false
            })
        let (payload, claimed) = partial.snapshot()
        let counts = try #require(Projection.recordedContributions(in: payload))
        #expect(counts.of == truth.world.virtualDestinations.count)
        #expect(counts.recorded > 1 && counts.recorded < counts.of, "\(counts)")
        #expect(claimed != truth.digest)  // the sum of what it records, not the state digest

        // A restore checks what is recorded and computes the rest when the digest is asked for.
        let restored = try Projection.restore(payload: payload, expectedDigest: claimed, events: store.foldEvents(at:))
        #expect(restored.digest == truth.digest)
        #expect(canonicalState(restored.states) == canonicalState(truth.states))
        #expect(
            restoreOutcome(try #require(PackedValue.decode(payload).objectValue), truth.digest, store).contains(
                "sum to"))

        // Taken through the store (as automatic snapshots are): a past status starts from it.
        try store.writeSnapshot(of: partial, complete: false)
        #expect(try store.log.snapshotInfos().map(\.digest) == [claimed])
        let answer = try store.project(upTo: head)
        #expect(answer.origin.snapshot == head)
        #expect(answer.projection.digest == truth.digest)
        #expect(try store.replay(verifySnapshots: true).snapshotProblems.isEmpty)

        // Two recorded contributions swapped: the sum holds and the statuses too, so a restore takes
        // them; verification compares each with the replay's, and tells.
        guard case .object(var root) = try PackedValue.decode(payload), var states = root["states"]?.arrayValue else {
            Issue.record("no states")
            return
        }
        let withContribution = states.indices.filter { states[$0]["contribution"] != nil }
        let (i, j) = (withContribution[0], withContribution[1])
        guard case .object(var first) = states[i], case .object(var second) = states[j] else { return }
        (first["contribution"], second["contribution"]) = (second["contribution"], first["contribution"])
        (states[i], states[j]) = (.object(first), .object(second))
        root["states"] = .array(states)
        #expect(restoreOutcome(root, claimed, store) == "restored")
        try store.log.writeSnapshot(
            sequence: head, format: Projection.snapshotFormat, digest: claimed,
            payload: PackedValue.encode(.object(root)))
        let problems = try store.replay(verifySnapshots: true).snapshotProblems
        #expect(problems.map(\.sequence) == [head])
        #expect(problems.first?.problem.contains("differs from the replay's") == true, "\(problems)")
    }

    @Test func aSnapshotNamesEachInputByItsLastEventAndARestoreChecksThatEvent() throws {
        let store = try generatedStore(seed: 23, clusters: 3, batches: 400)
        var full = try store.project(useSnapshots: false).projection
        full.settleDigest()
        let value = try PackedValue.decode(full.snapshot().payload)
        let inputs = try #require(value["inputs"]?.arrayValue)
        #expect(inputs.count == full.world.inputs.count)
        var lastChange: [ObjectKey: Event] = [:]
        try store.log.scan(1...(try store.log.head().sequence)) { event in
            lastChange[event.key] = event
            return true
        }
        // No object in the snapshot: each input is the object of the event that last changed it.
        for input in inputs {
            #expect(input["object"] == nil)
            let key = try #require(
                ResourceKind(rawValue: input["kind"]?.stringValue ?? "").map {
                    ObjectKey(
                        kind: $0, namespace: input["namespace"]?.stringValue ?? "",
                        name: input["name"]?.stringValue ?? "")
                })
            let event = try #require(try store.log.event(at: UInt64(input["sequence"]?.intValue ?? 0)))
            #expect(event.key == key)
            #expect(event.sequence == lastChange[key]?.sequence && event.change == .upsert)
        }
        func restoring(input index: Int, _ alter: (inout JSONObject) -> Void) -> String {
            guard case .object(var root) = value, case .object(var entry) = inputs[index] else { return "malformed" }
            alter(&entry)
            var altered = inputs
            altered[index] = .object(entry)
            root["inputs"] = .array(altered)
            return restoreOutcome(root, full.digest, store)
        }
        #expect(restoring(input: 0) { _ in } == "restored")
        // An input naming another object's event, another generation, or an event past the head.
        let other = try #require(inputs.first { $0["name"] != inputs[0]["name"] }?["sequence"])
        #expect(restoring(input: 0) { $0["sequence"] = other }.contains("which is not its change"))
        let user = try #require(inputs.firstIndex { ($0["generation"]?.intValue ?? 0) > 0 })
        let generation = inputs[user]["generation"]?.intValue ?? 0
        #expect(restoring(input: user) { $0["generation"] = .int(generation + 1) }.contains("which is not its change"))
        let head = try store.log.head().sequence
        #expect(restoring(input: 0) { $0["sequence"] = .int(Int64(head + 1)) }.contains("which is not its change"))
        // Numbers no log has: refused, not trapped on.
        #expect(restoring(input: 0) { $0["generation"] = .int(-1) }.contains("malformed input entry"))
        #expect(restoring(input: 0) { $0["sequence"] = .int(-1) }.contains("malformed input entry"))
    }

    @Test func theSnapshotPolicyTakesOneEveryIntervalEvents() throws {
        let store = try generatedStore(seed: 3, clusters: 2, batches: 50)
        let head = try store.log.head().sequence
        #expect(try store.snapshotIfDue(interval: head + 1) == nil)
        // The default policy: every 500 events, or every (live objects) for a larger state,
        // so that a snapshot's cost per event does not grow with the fleet.
        #expect(head < Store.defaultSnapshotInterval)
        #expect(try store.snapshotIfDue() == nil)
        #expect(Store.automaticSnapshotInterval(liveObjects: 90) == 500)
        #expect(Store.automaticSnapshotInterval(liveObjects: 8_000) == 8_000)
        // The rule the CLI, the server and the benchmark decide by: the live objects are counted
        // only once 500 events have passed; 0 is never; a configured interval is used as it is.
        var counted = 0
        let live = { (n: Int) in
            { () -> Int in
                counted += 1
                return n
            }
        }
        #expect(!Store.isSnapshotDue(head: 1_499, newest: 1_000, interval: nil, liveObjects: live(90)))
        #expect(counted == 0)
        #expect(Store.isSnapshotDue(head: 1_500, newest: 1_000, interval: nil, liveObjects: live(90)))
        #expect(!Store.isSnapshotDue(head: 1_500, newest: 1_000, interval: nil, liveObjects: live(8_000)))
        #expect(Store.isSnapshotDue(head: 9_000, newest: 1_000, interval: nil, liveObjects: live(8_000)))
        #expect(counted == 3)
        #expect(!Store.isSnapshotDue(head: 1_000_000, newest: 0, interval: 0, liveObjects: live(1)))
        #expect(Store.isSnapshotDue(head: 1_010, newest: 1_000, interval: 10, liveObjects: live(8_000)))
        #expect(counted == 3)
        let taken = try #require(try store.snapshotIfDue(interval: head))
        #expect(taken.sequence == head)
        #expect(try store.snapshotIfDue(interval: 1) == nil)
        #expect(try store.pruneSnapshots(keep: 0) == [head])
        #expect(try store.log.snapshotInfos().isEmpty)
        // A snapshot this version cannot use (another format) does not hold the next one back.
        try store.log.writeSnapshot(
            sequence: head, format: Projection.snapshotFormat &+ 1, digest: .zero, payload: [1, 2, 3])
        #expect(try store.snapshotIfDue(interval: head)?.sequence == head)
        #expect(try store.log.snapshotInfos().map(\.format) == [Projection.snapshotFormat])
        // The newest usable one is looked for newest first, past a newer one whose bytes changed.
        try store.log.writeSnapshot(sequence: head + 5, format: Projection.snapshotFormat, digest: .zero, payload: [9])
        try store.log.replaceSnapshotRecord(head + 5) { record in record.dropLast() + [record.last! ^ 1] }
        #expect(try store.log.newestSnapshot(where: { _ in true })?.sequence == head + 5)
        #expect(try store.log.newestSnapshot(where: \.isUsable)?.sequence == head)
        #expect(try store.snapshotIfDue(interval: 1) == nil)
    }
}
