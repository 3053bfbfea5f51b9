import EventLog
import Foundation
import HTTPTypes
import HummingbirdTesting
import MeshLedger
import MeshLedgerHTTP
import MeshModel
import Testing

/// Leases and ConfigMaps as kube-apiserver serves them, kept in the coordination table: a
/// leader's renewals are compare-and-swap writes that never reach the audit log.
@Suite struct CoordinationTests {
    let leases = "/apis/coordination.k8s.io/v1/namespaces/bookinfo/leases"
    let configMaps = "/api/v1/namespaces/bookinfo/configmaps"

    func lease(_ holder: String, resourceVersion: String? = nil, duration: Int = 15) -> String {
        var metadata: JSONObject = ["name": "leader"]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return JSONText.string([
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": .object(metadata),
            "spec": [
                "holderIdentity": .string(holder), "leaseDurationSeconds": .int(Int64(duration)),
                "renewTime": "2026-12-07T10:00:00.123456Z", "acquireTime": "2026-12-07T10:00:00.000000Z",
            ],
        ])
    }

    @Test func leasesAreComparedAndSwappedOutsideTheLog() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            #expect(try await client.call(.get, leases + "/leader").json["reason"] == "NotFound")
            let created = try await client.call(.post, leases, body: lease("a"))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json[path: ["metadata", "uid"]]?.stringValue?.count == 36)
            #expect(created.json[path: ["metadata", "creationTimestamp"]] != nil)
            let first = try #require(created.json[path: ["metadata", "resourceVersion"]]?.stringValue)
            let again = try await client.call(.post, leases, body: lease("b"))
            #expect(again.status == 409 && again.json["reason"] == "AlreadyExists", "\(again.text)")
            #expect(again.json["message"] == #"leases.coordination.k8s.io "leader" already exists"#)

            // A renewal at the version read wins; a second one at the same version conflicts.
            let renewed = try await client.call(.put, leases + "/leader", body: lease("a", resourceVersion: first))
            #expect(renewed.status == 200, "\(renewed.text)")
            #expect(renewed.json[path: ["metadata", "uid"]] == created.json[path: ["metadata", "uid"]])
            let stale = try await client.call(.put, leases + "/leader", body: lease("b", resourceVersion: first))
            #expect(stale.status == 409 && stale.json["reason"] == "Conflict", "\(stale.text)")
            #expect(try await client.call(.get, leases + "/leader").json[path: ["spec", "holderIdentity"]] == "a")
            // Without a resourceVersion an update is unconditional (kube-apiserver allows it for Leases).
            let taken = try await client.call(.put, leases + "/leader", body: lease("b"))
            #expect(taken.status == 200 && taken.json[path: ["spec", "holderIdentity"]] == "b")
            let patched = try await client.call(
                .patch, leases + "/leader", body: #"{"spec":{"leaseTransitions":1}}"#,
                headers: [.contentType: "application/merge-patch+json"])
            #expect(patched.status == 200 && patched.json[path: ["spec", "leaseTransitions"]] == 1)

            // kube-apiserver's validation.
            let zero = try await client.call(.put, leases + "/leader", body: lease("b", duration: 0))
            #expect(zero.status == 422 && zero.text.contains("spec.leaseDurationSeconds"), "\(zero.text)")
            let badName = try await client.call(
                .post, leases, body: lease("a").replacingOccurrences(of: "\"leader\"", with: "\"Not_A_Name\""))
            #expect(badName.status == 422, "\(badName.text)")
            let wrongType = try await client.call(
                .post, leases, body: #"{"metadata":{"name":"x"},"spec":{"leaseDurationSeconds":"long"}}"#)
            #expect(wrongType.status == 400, "\(wrongType.text)")

            let list = try await client.call(.get, "/apis/coordination.k8s.io/v1/leases")
            #expect(list.json["kind"] == "LeaseList")
            #expect(list.json["items"]?.arrayValue?.count == 1)
            let watch = try await client.call(.get, leases + "?watch=1")
            #expect(watch.status == 405, "not advertised, not served: \(watch.text)")

            let deleted = try await client.call(.delete, leases + "/leader")
            #expect(deleted.status == 200 && deleted.json["status"] == "Success", "\(deleted.text)")
            #expect(try await client.call(.get, leases + "/leader").status == 404)
        }
        // Nine writes to the table; none to the log.
        #expect(try store.log.head().sequence == head)
    }

    @Test func configMapsFollowKubeAPIServersRules() async throws {
        let store = try fleetStore()
        try await withServer(store) { client in
            let body =
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","labels":{"app":"x"}},"data":{"mode":"fast","log.level":"debug"}}"#
            let created = try await client.call(.post, configMaps, body: body)
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json[path: ["data", "mode"]] == "fast")
            let dry = try await client.call(
                .patch, configMaps + "/settings?dryRun=All", body: #"{"data":{"mode":"slow"}}"#,
                headers: [.contentType: "application/merge-patch+json"])
            #expect(dry.status == 200 && dry.json[path: ["data", "mode"]] == "slow")
            #expect(try await client.call(.get, configMaps + "/settings").json[path: ["data", "mode"]] == "fast")
            let badKey = try await client.call(
                .patch, configMaps + "/settings", body: #"{"data":{"bad key!":"x"}}"#,
                headers: [.contentType: "application/merge-patch+json"])
            #expect(badKey.status == 422 && badKey.text.contains("a valid config key"), "\(badKey.text)")
            let badLabel = try await client.call(
                .patch, configMaps + "/settings", body: #"{"metadata":{"labels":{"bad label!":"x y"}}}"#,
                headers: [.contentType: "application/merge-patch+json"])
            #expect(badLabel.status == 422, "\(badLabel.text)")
            let huge = String(repeating: "x", count: (1 << 20) + 1)
            let tooBig = try await client.call(
                .post, configMaps,
                body: #"{"metadata":{"name":"big"},"data":{"a":"\#(huge)"}}"#)
            #expect(tooBig.status == 422 || tooBig.status == 413, "\(tooBig.status)")
            let selected = try await client.call(.get, "/api/v1/configmaps?labelSelector=app%3Dx")
            #expect(selected.json["items"]?.arrayValue?.count == 1)
            let none = try await client.call(.get, "/api/v1/configmaps?labelSelector=app%3Dy")
            #expect(none.json["items"] == [])
            // Immutable: the data stays.
            _ = try await client.call(
                .patch, configMaps + "/settings", body: #"{"immutable":true}"#,
                headers: [.contentType: "application/merge-patch+json"])
            let frozen = try await client.call(
                .patch, configMaps + "/settings", body: #"{"data":{"mode":"slow"}}"#,
                headers: [.contentType: "application/merge-patch+json"])
            #expect(frozen.status == 422 && frozen.text.contains("immutable"), "\(frozen.text)")
            let stale = try await client.call(
                .delete, configMaps + "/settings", body: #"{"preconditions":{"resourceVersion":"1"}}"#)
            #expect(stale.status == 409, "\(stale.text)")
            #expect(try await client.call(.delete, configMaps + "/settings").status == 200)
        }
    }

    /// The table survives a restart of the server (it is durable, like the log).
    @Test func coordinationObjectsSurviveARestart() async throws {
        let store = try fleetStore()
        let created = try await withServer(store) { client in try await client.call(.post, leases, body: lease("a")) }
        #expect(created.status == 201)
        let read = try await withServer(store) { client in try await client.call(.get, leases + "/leader") }
        #expect(read.json[path: ["spec", "holderIdentity"]] == "a")
    }
}
