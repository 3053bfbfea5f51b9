import Foundation
import LMDBKit
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

@testable import EventLog

func destination(_ service: String, cluster: String, port: Int64 = 9080, labels: [String: String] = [:]) -> Manifest {
    var labelObject = JSONObject()
    for (k, v) in labels { labelObject[k] = .string(v) }
    let object: JSONValue = [
        "apiVersion": "discovery.mesh.gloo.solo.io/v1alpha2", "kind": "Destination",
        "metadata": [
            "name": .string("\(service)-bookinfo-\(cluster)"), "namespace": "gloo-mesh", "labels": .object(labelObject),
        ],
        "spec": [
            "kubeService": [
                "ref": ["name": .string(service), "namespace": "bookinfo", "clusterName": .string(cluster)],
                "ports": [["port": .int(port), "name": "http", "protocol": "TCP"]],
            ],
            "mesh": ["name": .string("istiod-istio-system-\(cluster)"), "namespace": "gloo-mesh"],
        ],
    ]
    return try! Manifest(object: object)
}

func virtualDestination(
    _ name: String, hostname: String, port: Int64 = 9080, labels: [String: String] = [:], extra: JSONValue? = nil
) -> Manifest {
    var labelObject = JSONObject()
    for (k, v) in labels { labelObject[k] = .string(v) }
    let specValue: JSONValue = [
        "hostname": .string(hostname), "port": ["number": .int(port), "protocol": "HTTP"],
        "static": [
            "destinations": [["kubeService": ["name": "reviews", "namespace": "bookinfo", "clusterName": "cluster-1"]]]
        ],
    ]
    var spec = specValue.objectValue!
    if let extra { spec["x-unknown"] = extra }
    let object: JSONValue = [
        "apiVersion": "networking.enterprise.mesh.gloo.solo.io/v1alpha1", "kind": "VirtualDestination",
        "metadata": ["name": .string(name), "namespace": "bookinfo", "labels": .object(labelObject)],
        "spec": .object(spec),
    ]
    return try! Manifest(object: object)
}

func upsert(_ manifest: Manifest, version: UInt64? = nil) -> Change {
    Change(.upsert(manifest), source: manifest.key.kind.source, actor: "tester", expectedVersion: version)
}

@Suite struct EventLogTests {
    @Test func appendsGaplessSequencesFromOneAndReadsThemBack() throws {
        let log = try EventLog.open(at: temporaryDirectory())
        #expect(try log.head().sequence == 0)
        let first = try log.append(
            Batch([upsert(destination("reviews", cluster: "c1")), upsert(destination("ratings", cluster: "c1"))]))
        #expect(first.range == 1...2)
        let second = try log.append(Batch([upsert(virtualDestination("vd", hostname: "vd.global"))]))
        #expect(second.range == 3...3)
        var sequences: [UInt64] = []
        try log.scan(1...100) { event in
            sequences.append(event.sequence)
            return true
        }
        #expect(sequences == [1, 2, 3])
        // The events an append returns are the events stored (a projection folds them directly).
        var stored: [Event] = []
        try log.scan(1...3) { event in
            stored.append(event)
            return true
        }
        #expect(first.events + second.events == stored)
        let deleted = try log.append(Batch([Change(.delete(stored[0].key, nil), source: .discovery, actor: "tester")]))
        #expect(deleted.events.count == 1)
        #expect(try deleted.events == [#require(try log.event(at: 4))])
        let event = try #require(try log.event(at: 1))
        #expect(event.key.name == "reviews-bookinfo-c1")
        #expect(event.source == .discovery)
        #expect(event.originCluster == "c1")
        #expect(event.actor == "tester")
        #expect(event.generation == 0)
        #expect(try log.event(at: 3)?.generation == 1)
    }

    @Test func unchangedUpsertsAreNoOpsAndGenerationsFollowTheSpec() throws {
        let log = try EventLog.open(at: temporaryDirectory())
        let vd = virtualDestination("vd", hostname: "vd.global")
        #expect(try log.append(Batch([upsert(vd)])).outcomes.first?.outcome == .created)
        let again = try log.append(Batch([upsert(vd)]))
        #expect(again.range == nil)
        #expect(again.outcomes.first?.outcome == .unchanged)
        // A label change appends an event without bumping the generation.
        let relabelled = virtualDestination("vd", hostname: "vd.global", labels: ["team": "a"])
        #expect(try log.append(Batch([upsert(relabelled)])).range == 2...2)
        #expect(try log.state(of: vd.key)?.generation == 1)
        // A spec change bumps it.
        _ = try log.append(
            Batch([upsert(virtualDestination("vd", hostname: "vd.global", port: 9443, labels: ["team": "a"]))]))
        #expect(try log.state(of: vd.key)?.generation == 2)
        #expect(try log.event(at: 3)?.generation == 2)
        // Delete, then re-create: generation starts again at 1.
        _ = try log.append(Batch([Change(.delete(vd.key, nil), source: .user, actor: "tester")]))
        let deleted = try #require(try log.event(at: 4))
        #expect(deleted.change == .delete)
        #expect(deleted.object[path: ["spec", "port", "number"]] == .int(9443))
        _ = try log.append(Batch([upsert(vd)]))
        #expect(try log.state(of: vd.key)?.generation == 1)
        #expect(try log.history(of: vd.key) == [1, 2, 3, 4, 5])
    }

    @Test func unknownFieldsSurviveStorage() throws {
        let log = try EventLog.open(at: temporaryDirectory())
        let extra: JSONValue = ["future": [1, 2.5, "three", .null, ["deep": true]]]
        _ = try log.append(Batch([upsert(virtualDestination("vd", hostname: "vd.global", extra: extra))]))
        let event = try #require(try log.event(at: 1))
        #expect(event.object[path: ["spec", "x-unknown"]] == extra)
    }

    @Test func failedPreconditionsAppendNothing() throws {
        let log = try EventLog.open(at: temporaryDirectory())
        _ = try log.append(Batch([upsert(virtualDestination("a", hostname: "a.global"))]))
        let headBefore = try log.head()

        let wrongHead = #expect(throws: LogError.self) {
            try log.append(Batch([upsert(virtualDestination("b", hostname: "b.global"))], expectedHead: 7))
        }
        #expect(wrongHead?.code == .conflict)

        // The first change would succeed; the second's resourceVersion is stale: neither lands.
        let stale = #expect(throws: LogError.self) {
            try log.append(
                Batch([
                    upsert(virtualDestination("b", hostname: "b.global")),
                    upsert(virtualDestination("a", hostname: "a2.global"), version: 99),
                ]))
        }
        #expect(stale?.code == .conflict)
        #expect(stale?.message.contains("resourceVersion 99") == true)

        let missing = #expect(throws: LogError.self) {
            try log.append(
                Batch([
                    upsert(virtualDestination("c", hostname: "c.global")),
                    Change(
                        .delete(ObjectKey(kind: .virtualDestination, namespace: "bookinfo", name: "nope"), nil),
                        source: .user, actor: "t"),
                ]))
        }
        #expect(missing?.code == .notFound)
        #expect(try log.head() == headBefore)
        #expect(try log.state(of: virtualDestination("b", hostname: "b.global").key) == nil)

        // The right preconditions pass: expected head, current resourceVersion, 0 for "new".
        let ok = try log.append(
            Batch(
                [
                    upsert(virtualDestination("a", hostname: "a2.global"), version: 1),
                    upsert(virtualDestination("b", hostname: "b.global"), version: 0),
                ], expectedHead: 1))
        #expect(ok.range == 2...3)
    }

    @Test func aGroupCommitKeepsEachBatchAllOrNothingOnItsOwn() throws {
        let log = try EventLog.open(at: temporaryDirectory())
        _ = try log.append(Batch([upsert(virtualDestination("a", hostname: "a.global"))]))
        let results = try log.appendGroup([
            Batch([
                upsert(virtualDestination("b", hostname: "b.global")),
                upsert(virtualDestination("c", hostname: "c.global")),
            ]),
            // Stale: the head is 3 by the time this batch runs.
            Batch([upsert(virtualDestination("d", hostname: "d.global"))], expectedHead: 1),
            Batch([
                upsert(virtualDestination("e", hostname: "e.global")),
                Change(
                    .delete(ObjectKey(kind: .virtualDestination, namespace: "bookinfo", name: "nope"), nil),
                    source: .user, actor: "t"),
            ]),
            // Single-change batches refused by their own preconditions (appended without a
            // nested transaction when they pass): a stale resourceVersion, a missing object.
            Batch([upsert(virtualDestination("a", hostname: "a3.global"), version: 99)]),
            Batch([
                Change(
                    .delete(ObjectKey(kind: .virtualDestination, namespace: "bookinfo", name: "nope"), nil),
                    source: .user, actor: "t")
            ]),
            Batch([upsert(virtualDestination("a", hostname: "a2.global"), version: 1)]),
        ])
        #expect(results.count == 6)
        #expect(try results[0].get().range == 2...3)
        #expect(throws: LogError.self) { try results[1].get() }
        #expect(throws: LogError.self) { try results[2].get() }
        #expect((try? results[3].get()) == nil)
        #expect((try? results[4].get()) == nil)
        #expect(try results[5].get().range == 4...4)
        #expect(try log.event(at: 4)?.object[path: ["spec", "hostname"]] == "a2.global")
        #expect(try log.head().sequence == 4)
        #expect(try log.state(of: virtualDestination("d", hostname: "d.global").key) == nil)
        #expect(try log.state(of: virtualDestination("e", hostname: "e.global").key) == nil)
        #expect(try log.verify().failure == nil)
    }

    @Test func aResyncDeletesWhatTheClusterNoLongerHas() throws {
        let log = try EventLog.open(at: temporaryDirectory())
        _ = try log.append(
            Batch([
                upsert(destination("reviews", cluster: "c1")), upsert(destination("ratings", cluster: "c1")),
                upsert(destination("reviews", cluster: "c2")),
            ]))
        let resync = Resync(cluster: "c1", kinds: [.destination, .mesh], actor: "agent-c1")
        let result = try log.append(Batch([upsert(destination("reviews", cluster: "c1", port: 9081))], resync: resync))
        #expect(result.outcomes.map(\.outcome) == [.configured, .deleted])
        #expect(result.outcomes.last?.key.name == "ratings-bookinfo-c1")
        #expect(try log.state(of: destination("reviews", cluster: "c2").key)?.exists == true)
        #expect(try log.event(at: 5)?.actor == "agent-c1")
        // Objects of another cluster in a resync are refused, the resync's cluster named as it is.
        let refusal = #expect(throws: LogError.self) {
            try log.append(Batch([upsert(destination("reviews", cluster: "c2"))], resync: resync))
        }
        #expect(refusal?.code == .invalidBatch)
        #expect(refusal?.message.contains("belongs to cluster c2, not c1;") == true, "\(refusal?.message ?? "")")
    }

    @Test func verifyPassesAndCatchesAlteredEvents() throws {
        let path = temporaryDirectory()
        let log = try EventLog.open(at: path)
        for i in 0..<20 {
            _ = try log.append(Batch([upsert(destination("svc\(i)", cluster: "c\(i % 3)"))]))
        }
        let report = try log.verify()
        #expect(report.failure == nil)
        #expect(report.checked == 20)
        #expect(report.headDigest == (try log.head().digest))

        let events = log.environment.database("events")
        let original = try #require(
            try log.environment.read { txn throws in try txn.get(events, EventLog.sequenceKey(7)) })
        // Flip one byte inside the object: the checksum catches it.
        var flipped = original
        flipped[60] ^= 0x01
        try log.environment.write { txn throws in try txn.put(events, EventLog.sequenceKey(7), flipped) }
        #expect(try log.verify().failure?.sequence == 7)
        #expect(try log.verify().failure?.problem == "checksum mismatch")

        // Replace event 7 with a different, self-consistent record: the chain breaks at 8.
        var forged = try EventCodec.decode(original)
        forged.actor = "mallory"
        try log.environment.write { txn throws in
            try txn.put(events, EventLog.sequenceKey(7), EventCodec.encode(forged).record)
        }
        let failure = try #require(try log.verify().failure)
        #expect(failure.sequence == 8)
        #expect(failure.problem.contains("hash chain broken"))

        // Remove event 12: a gap.
        try log.environment.write { txn throws in
            try txn.put(events, EventLog.sequenceKey(7), original)
            try txn.delete(events, EventLog.sequenceKey(12))
        }
        #expect(try log.verify().failure?.sequence == 12)
    }

    @Test func theMapGrowsDuringAppendsWithoutLosingAnything() throws {
        var options = EventLog.Options()
        options.mapSize = 128 << 10
        let log = try EventLog.open(at: temporaryDirectory(), options: options)
        let blob = JSONValue.string(String(repeating: "z", count: 4000))
        for batch in 0..<40 {
            let changes = (0..<25).map { i in
                upsert(virtualDestination("vd-\(batch)-\(i)", hostname: "h.global", extra: blob))
            }
            _ = try log.append(Batch(changes))
        }
        #expect(log.storageInfo.mapSize >= 10 * (128 << 10))
        #expect(try log.head().sequence == 1000)
        #expect(try log.verify().failure == nil)
    }

    @Test func theSameInputGivesTheSameBytesInTwoStores() throws {
        func build(_ path: String, clock: @escaping @Sendable () -> Timestamp) throws -> [[UInt8]] {
            let log = try EventLog.open(at: path)
            _ = try log.append(
                Batch([upsert(destination("reviews", cluster: "c1")), upsert(destination("ratings", cluster: "c2"))]),
                clock: clock)
            _ = try log.append(
                Batch([upsert(virtualDestination("vd", hostname: "vd.global", extra: ["b": 1, "a": [true]]))]),
                clock: clock)
            _ = try log.append(
                Batch(
                    [upsert(destination("reviews", cluster: "c1", port: 1))],
                    resync: Resync(cluster: "c1", kinds: [.destination], actor: "a")), clock: clock)
            var records: [[UInt8]] = []
            try log.scanRecords(1...100) { _, record in
                records.append(Array(record))
                return true
            }
            return records
        }
        let a = try build(temporaryDirectory(), clock: fixedClock())
        let b = try build(temporaryDirectory(), clock: fixedClock())
        #expect(a.count == 4)
        #expect(a == b)
        // With different clocks only the recorded time (and so the checksums) differ.
        let c = try build(temporaryDirectory(), clock: fixedClock(start: 42))
        let strip: ([UInt8]) throws -> Event = { record in
            var event = try EventCodec.decode(record)
            event.recordedAt = Timestamp(microseconds: 0)
            event.checksum = .zero
            event.previousDigest = .zero
            return event
        }
        #expect(try a.map(strip) == c.map(strip))
        #expect(a != c)
    }

    @Test func recordedTimeNeverGoesBackwardsAndTheTimeIndexFindsRanges() throws {
        let log = try EventLog.open(at: temporaryDirectory())
        let times: [Int64] = [1000, 5000, 3000, 9000]
        for (i, t) in times.enumerated() {
            _ = try log.append(
                Batch([upsert(virtualDestination("vd\(i)", hostname: "h.global"))]),
                clock: { Timestamp(microseconds: t) })
        }
        #expect(try log.event(at: 3)?.recordedAt.microseconds == 5000)
        #expect(try log.firstSequence(atOrAfter: Timestamp(microseconds: 4000)) == 2)
        #expect(try log.lastSequence(atOrBefore: Timestamp(microseconds: 5000)) == 3)
        #expect(try log.lastSequence(atOrBefore: Timestamp(microseconds: 999)) == nil)
        #expect(try log.firstSequence(atOrAfter: Timestamp(microseconds: 9001)) == nil)
    }

    @Test func countersTrackKindsAndSources() throws {
        let log = try EventLog.open(at: temporaryDirectory())
        _ = try log.append(
            Batch([upsert(destination("a", cluster: "c1")), upsert(virtualDestination("v", hostname: "v.global"))]))
        _ = try log.append(Batch([upsert(destination("b", cluster: "c1"))]))
        let (byKind, bySource) = try log.counters()
        #expect(byKind == [.destination: 2, .virtualDestination: 1])
        #expect(bySource == [.discovery: 2, .user: 1])
    }
}

@Suite struct EventCodecTests {
    @Test func packedValuesRoundTrip() throws {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let value = RandomJSON.value(&generator, alphabet: "ab\u{0}é😀\n", doubles: -1e300...1e300)
            #expect(try PackedValue.decode(PackedValue.encode(value)) == value)
        }
    }

    /// A decode with a shape is the whole decode without the members the shape leaves out, at
    /// every level and in every element of an array; what it skips (every kind of value) is
    /// passed over exactly.
    @Test func aShapedDecodeLeavesOutOnlyWhatItsShapeSkips() throws {
        var generator = SplitMix64(seed: 13)
        indirect enum Wanted {
            case all
            case members([String: Wanted])
            var shape: ValueShape {
                guard case .members(let members) = self else { return .all }
                return ValueShape(members.map { ($0.key, $0.value.shape) })
            }
        }
        func randomShape(_ depth: Int) -> Wanted {
            if depth > 2 || generator.next() % 4 == 0 { return .all }
            var members: [String: Wanted] = [:]
            for key in 0..<30 where generator.next() % 2 == 0 { members["k\(key)"] = randomShape(depth + 1) }
            return .members(members)
        }
        func pruned(_ value: JSONValue, _ wanted: Wanted) -> JSONValue {
            guard case .members(let members) = wanted else { return value }
            switch value {
            case .array(let elements): return .array(elements.map { pruned($0, wanted) })
            case .object(let object):
                var kept = JSONObject()
                for member in object {
                    guard let inner = members[member.key] else { continue }
                    kept[member.key] = pruned(member.value, inner)
                }
                return .object(kept)
            default: return value
            }
        }
        var skipped = 0
        for _ in 0..<500 {
            let value = RandomJSON.value(&generator, alphabet: "ab\u{0}é😀\n", doubles: -1e300...1e300)
            let wanted = randomShape(0)
            let decoded = try PackedValue.decode(PackedValue.encode(value), shape: wanted.shape)
            #expect(decoded == pruned(value, wanted))
            if decoded != value { skipped += 1 }
        }
        #expect(skipped > 50)
    }

    /// The spec hash of stored objects is over the spec's own encoding; the append path takes it
    /// as a range of the whole object's encoding, which must be the same bytes.
    @Test func aMembersRangeHoldsItsOwnEncoding() throws {
        var generator = SplitMix64(seed: 11)
        for _ in 0..<300 {
            var object = JSONObject()
            for key in ["apiVersion", "spec", "metadata", "zz", "a"] where generator.next() % 3 != 0 {
                object[key] = RandomJSON.value(&generator, alphabet: "sp\u{0}é", doubles: -1e3...1e3)
            }
            let (bytes, range) = PackedValue.encode(.object(object), locating: "spec")
            #expect(bytes == PackedValue.encode(.object(object)))
            if let spec = object["spec"] {
                #expect(range.map { Array(bytes[$0]) } == PackedValue.encode(spec))
            } else {
                #expect(range == nil)
            }
        }
    }

    /// An authenticated writer's groups are recorded with the event (format 2); events without
    /// groups keep format 1's bytes.
    @Test func groupsAreRecordedWithTheActor() throws {
        var event = Event(
            sequence: 7, recordedAt: Timestamp(microseconds: 5), source: .user, actor: "alice", originCluster: nil,
            key: ObjectKey(kind: .virtualMesh, namespace: "gloo-mesh", name: "vm"), change: .upsert, generation: 1,
            object: ["spec": [:]])
        #expect(EventCodec.encode(event).record.first == 1)
        event.groups = ["platform", "system:authenticated"]
        let (record, checksum) = EventCodec.encode(event)
        #expect(record.first == 2)
        event.checksum = checksum
        #expect(try EventCodec.decode(record, verify: true) == event)

        let log = try EventLog.open(at: temporaryDirectory())
        let manifest = try Manifest(object: [
            "apiVersion": "networking.mesh.gloo.solo.io/v1alpha2", "kind": "VirtualMesh",
            "metadata": ["name": "vm", "namespace": "gloo-mesh"], "spec": [:],
        ])
        _ = try log.append(Batch([Change(.upsert(manifest), source: .user, actor: "alice", groups: ["platform"])]))
        #expect(try log.event(at: 1)?.groups == ["platform"])
        #expect(try log.verify().failure == nil)
    }

    /// The client an API write names is recorded with the event (format 3, with or without
    /// groups); a record of format 3 without it does not decode.
    @Test func theWritingClientIsRecordedWithTheEvent() throws {
        for groups in [[], ["platform"]] {
            var event = Event(
                sequence: 7, recordedAt: Timestamp(microseconds: 5), source: .user, actor: "alice",
                originCluster: nil, key: ObjectKey(kind: .virtualMesh, namespace: "gloo-mesh", name: "vm"),
                change: .delete, generation: 1, object: ["spec": [:]], groups: groups, manager: "kubectl-annotate")
            let (record, checksum) = EventCodec.encode(event)
            #expect(record.first == 3)
            event.checksum = checksum
            #expect(try EventCodec.decode(record, verify: true) == event)
            // Its manager's length is an optstr: 0 (none) is not a format 3 record.
            var stripped = Array(record)
            let at = try #require(stripped.firstIndex(of: UInt8("kubectl-annotate".utf8.count + 1)))
            stripped.replaceSubrange(at...(at + "kubectl-annotate".utf8.count), with: [0])
            #expect(throws: (any Error).self) { try EventCodec.decode(stripped) }
        }
    }

    @Test func eventsRoundTripAndTruncationIsAnError() throws {
        let event = Event(
            sequence: 42, recordedAt: Timestamp(microseconds: -5), source: .controller, actor: "ctl", originCluster: "",
            key: ObjectKey(kind: .mesh, namespace: "gloo-mesh", name: "m"), change: .delete, generation: 3,
            object: ["spec": ["x": 1.25]], previousDigest: Digest(bytes: Array(repeating: 9, count: 32)))
        let (record, checksum) = EventCodec.encode(event)
        var expected = event
        expected.checksum = checksum
        #expect(try EventCodec.decode(record, verify: true) == expected)
        for cut in [1, 10, 40, record.count - 33] {
            #expect(throws: (any Error).self) { try EventCodec.decode(Array(record.prefix(cut)), verify: false) }
        }
        var otherFormat = record
        otherFormat[0] = 9
        #expect(throws: (any Error).self) { try EventCodec.decode(otherFormat) }
    }

    /// A record whose origin-cluster length does not fit in an Int (or runs past the end) is an
    /// error, not a trap (found by fuzzing: `Tools/fuzz run eventcodec`).
    @Test(arguments: [UInt64(1) << 63, (UInt64(1) << 63) + 1, UInt64.max, 1000])
    func anOriginClusterLengthPastTheRecordIsAnError(length: UInt64) throws {
        let event = Event(
            sequence: 1, recordedAt: Timestamp(microseconds: 0), source: .user, actor: "ctl", originCluster: nil,
            key: ObjectKey(kind: .mesh, namespace: "gloo-mesh", name: "m"), change: .upsert, generation: 3,
            object: ["spec": [:]])
        var record = EventCodec.encode(event).record
        // version, sequence, time, source, change, generation (1 byte), actor (1 + 3 bytes)
        let lengthOffset = 1 + 8 + 8 + 1 + 1 + 1 + 4
        #expect(record[lengthOffset] == 0)
        var varint: [UInt8] = []
        var rest = length
        while rest >= 0x80 {
            varint.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        varint.append(UInt8(rest))
        record.replaceSubrange(lengthOffset...lengthOffset, with: varint)
        #expect(throws: CodecError.self) { try EventCodec.decode(record) }
    }
}
