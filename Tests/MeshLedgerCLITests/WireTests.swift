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
}
