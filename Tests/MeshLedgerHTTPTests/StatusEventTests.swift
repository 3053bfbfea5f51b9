import EventLog
import Foundation
import HTTPTypes
import HummingbirdTesting
import MeshLedger
import MeshModel
import Testing

/// Events from history: each transition of a VirtualDestination's derived status is an Event
/// naming what changed and the log event that caused it, as `kubectl describe` asks for them,
/// at the head or exactly at any point of the log.
@Suite struct StatusEventTests {
    let events = "/api/v1/namespaces/bookinfo/events"

    /// The example fleet, then the reviews edit (a second transition of reviews-global), then a
    /// Destination's removal elsewhere.
    func store() throws -> Store {
        let store = try fleetStore()
        let edit = try ManifestReader.manifests(Array(try text(fleet + "/user/reviews-edit.yaml").utf8), name: "edit")
        _ = try store.append(Batch.apply(edit, actor: "alice"))
        return store
    }

    @Test func kubectlDescribesTheTransitionsWithTheirCauses() async throws {
        let store = try store()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let vd = try await client.call(
                .get,
                "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/namespaces/bookinfo/virtualdestinations/reviews-global"
            ).json
            let uid = try #require(vd[path: ["metadata", "uid"]]?.stringValue)
            // What kubectl describe sends.
            let selector =
                "involvedObject.kind%3DVirtualDestination%2CinvolvedObject.uid%3D\(uid)%2CinvolvedObject.name%3Dreviews-global%2CinvolvedObject.namespace%3Dbookinfo"
            let listed = try await client.call(.get, events + "?fieldSelector=\(selector)&limit=500")
            #expect(listed.status == 200, "\(listed.text)")
            let items = listed.json["items"]?.arrayValue ?? []
            #expect(items.map { $0["reason"]?.stringValue ?? "" } == ["Accepted", "StatusChanged"], "\(listed.text)")
            #expect(
                items.last?["message"]?.stringValue?.contains(
                    "(event \(head): upsert VirtualDestination bookinfo/reviews-global by alice)") == true)
            #expect(items.last?["message"]?.stringValue?.contains("observedGeneration: 1 → 2") == true)
            #expect(items.allSatisfy { $0[path: ["involvedObject", "uid"]]?.stringValue == uid })
            #expect(items.last?[path: ["metadata", "resourceVersion"]] == .string(String(head)))

            // At a point of history: only what had happened by then.
            let before = try await client.call(
                .get,
                events
                    + "?fieldSelector=involvedObject.name%3Dreviews-global&resourceVersion=\(head - 1)&resourceVersionMatch=Exact"
            )
            #expect(before.json["items"]?.arrayValue?.count == 1, "\(before.text)")
            #expect(before.json[path: ["metadata", "resourceVersion"]] == .string(String(head - 1)))

            // Every VirtualDestination's, by reason; the events.k8s.io shape; one by name.
            let all = try await client.call(.get, "/api/v1/events?fieldSelector=reason%3DAccepted").json
            #expect(all["items"]?.arrayValue?.count == 3, "\(all)")
            let modern = try await client.call(.get, "/apis/events.k8s.io/v1/namespaces/bookinfo/events").json
            #expect(modern["items"]?.arrayValue?.count == 4)
            #expect(modern["items"]?.arrayValue?.first?[path: ["regarding", "kind"]] == "VirtualDestination")
            #expect(modern["items"]?.arrayValue?.first?["note"]?.stringValue?.hasPrefix("created: ACCEPTED") == true)
            let name = try #require(items.last?[path: ["metadata", "name"]]?.stringValue)
            let one = try await client.call(.get, events + "/\(name)")
            #expect(one.status == 200 && one.json["reason"] == "StatusChanged", "\(one.text)")
            #expect(try await client.call(.get, events + "/reviews-global.1").status == 404)

            // Read-only, and only kube-apiserver's field labels.
            #expect(try await client.call(.get, events + "?fieldSelector=spec.x%3D1").status == 400)
            #expect(try await client.call(.get, events + "?watch=1").status == 405)
        }
        #expect(try store.log.head().sequence == head)
    }
}
