import EventLog
import MeshLedger
import MeshLedgerReplication
import MeshModel
import Testing

/// The replication wire at its limits: a precondition no sequence reaches is forwarded without a
/// trap, and a negative number from the wire is an error.
@Suite struct WireTests {
    @Test func numbersOutOfRangeNeitherTrapNorPass() throws {
        let manifest = try Manifest(object: [
            "apiVersion": "networking.mesh.gloo.solo.io/v1alpha2", "kind": "TrafficPolicy",
            "metadata": ["name": "tp", "namespace": "team", "resourceVersion": "18446744073709551615"],
            "spec": [:],
        ])
        let batch = try Batch.apply([manifest], actor: "alice", expectedHead: .max)
        let wire = BatchWire.encode(batch)
        let back = try BatchWire.decode(wire)
        #expect(back.changes.first?.expectedVersion == UInt64(Int64.max))
        #expect(back.expectedHead == UInt64(Int64.max))
        let key: JSONValue = ["kind": "TrafficPolicy", "namespace": "team", "name": "tp"]
        for field in ["expectedVersion", "sourceGeneration"] {
            let negative: JSONValue = [
                "changes": [["op": "delete", "key": key, "source": "user", "actor": "a", .init(field): -1]]
            ]
            #expect(throws: WireError.self) { try BatchWire.decode(negative) }
        }
        #expect(throws: WireError.self) { try BatchWire.decode(["changes": [], "expectedHead": -5]) }
    }

    /// The writer's answer to a forwarded batch: negative numbers and an empty range are errors,
    /// and sequences past Int64.max encode without a trap.
    @Test func anAnswerOutOfRangeIsAnError() throws {
        let answers: [JSONValue] = [
            ["ok": ["head": -1]],
            ["ok": ["head": 5, "first": 4, "last": 3]],
            ["ok": ["head": 5, "first": -4, "last": 3]],
            [
                "ok": [
                    "head": 5,
                    "outcomes": [
                        [
                            "kind": "TrafficPolicy", "namespace": "team", "name": "tp", "outcome": "created",
                            "sequence": -2,
                        ]
                    ],
                ]
            ],
        ]
        for answer in answers {
            #expect(throws: WireError.self, "\(JSONText.string(answer))") { try BatchWire.decodeResult(answer) }
        }
        let big = AppendResult(
            outcomes: [(ObjectKey(kind: .trafficPolicy, namespace: "team", name: "tp"), .created, .max)],
            range: 1...UInt64.max, head: .max)
        let encoded = BatchWire.encode(.success(big))
        #expect(encoded[path: ["ok", "head"]] == .int(.max))
    }
}
