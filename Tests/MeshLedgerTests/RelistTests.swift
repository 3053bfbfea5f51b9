import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Testing

/// The recording use cases: a relist of one kind, generations and statuses as the source gave them.
@Suite struct RelistTests {
    static func trafficPolicy(_ name: String, _ namespace: String, rv: Int? = nil, port: Int = 9080) throws -> Manifest
    {
        var metadata: JSONObject = ["name": .string(name), "namespace": .string(namespace)]
        if let rv { metadata["resourceVersion"] = .string(String(rv)) }
        return try Manifest(object: [
            "apiVersion": "networking.mesh.gloo.solo.io/v1alpha2", "kind": "TrafficPolicy",
            "metadata": .object(metadata),
            "spec": ["policy": ["requestTimeout": .string("\(port)s")]],
        ])
    }

    @Test func aRelistDeletesWhatIsGoneInItsNamespaceOnlyAndRecordsNothingTwice() throws {
        let store = try temporaryStore()
        let clock = fixedClock()
        _ = try store.append(
            Batch.apply(
                [
                    try Self.trafficPolicy("a", "team-1"), try Self.trafficPolicy("b", "team-1"),
                    try Self.trafficPolicy("c", "team-2"),
                ], actor: "alice"), clock: clock)
        // team-1 now has a (unchanged) and d (new); b is gone. team-2 is not listed.
        let relist = try Batch.relist(
            .trafficPolicy,
            [try Self.trafficPolicy("d", "team-1", rv: 7), try Self.trafficPolicy("a", "team-1", rv: 3)],
            namespace: "team-1", actor: "record:mgmt")
        let result = try store.append(relist, clock: clock)
        #expect(
            result.outcomes.map { "\($0.key.name) \($0.outcome.rawValue)" } == [
                "a unchanged", "d created", "b deleted",
            ])
        #expect(result.events.last?.actor == "record:mgmt")
        #expect(result.events.last?.source == .user)
        #expect(try store.storedObject(ObjectKey(kind: .trafficPolicy, namespace: "team-2", name: "c")) != nil)
        // The same list again appends nothing.
        #expect(try store.append(relist, clock: clock).range == nil)
        // One kind per relist, one namespace when it names one.
        #expect(throws: LogError.self) {
            try Batch.relist(.virtualMesh, [try Self.trafficPolicy("a", "team-1")], actor: "r")
        }
        #expect(throws: LogError.self) {
            try Batch.relist(.trafficPolicy, [try Self.trafficPolicy("a", "team-2")], namespace: "team-1", actor: "r")
        }
    }

    @Test func recordedObjectsKeepTheirServersGenerationAndStatusIsAnObservation() throws {
        let store = try temporaryStore()
        func event(_ type: String, generation: Int, status: String) throws -> ManifestReader.WatchEvent {
            try ManifestReader.watchEvent(
                [
                    "type": .string(type),
                    "object": [
                        "apiVersion": "networking.enterprise.mesh.gloo.solo.io/v1alpha1", "kind": "VirtualDestination",
                        "metadata": ["name": "v", "namespace": "ns", "generation": .int(Int64(generation))],
                        "spec": [
                            "hostname": "v.global", "port": ["number": 80, "protocol": "http"],
                            "virtualMesh": ["name": "vm", "namespace": "gloo-mesh"],
                            "static": ["destinations": []],
                        ],
                        "status": ["state": .string(status)],
                    ],
                ], location: "test")
        }
        let first = try store.append(Batch.ingest([try event("ADDED", generation: 7, status: "ACCEPTED")], actor: "w"))
        #expect(first.events.first?.generation == 7)
        // A status-only change is an event, same generation; the same status again is not.
        let observed = try store.append(
            Batch.ingest([try event("MODIFIED", generation: 7, status: "FAILED")], actor: "w"))
        #expect(observed.events.count == 1)
        #expect(observed.events.first?.generation == 7)
        #expect(
            try store.append(Batch.ingest([try event("MODIFIED", generation: 7, status: "FAILED")], actor: "w")).range
                == nil)
        #expect(try store.recordedStatus(of: ObjectRef(name: "v", namespace: "ns")) == ["state": "FAILED"])
        // get shows the derived status, never the recorded one.
        let (projection, _, _) = try store.project()
        let served = try store.object(
            ObjectKey(kind: .virtualDestination, namespace: "ns", name: "v"), statuses: projection)
        #expect(served?[path: ["status", "state"]] != nil)
        #expect(served?[path: ["status", "state"]] != "FAILED")
        #expect(served?[path: ["status", "observedGeneration"]] == .int(7))
        #expect(served?[path: ["metadata", "generation"]] == .int(7))
    }
}
