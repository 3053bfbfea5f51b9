import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Projection
import Testing
import Workload

@testable import MeshLedger

extension Store {
    /// Applies YAML manifests of any kind as one batch, each with its kind's source.
    @discardableResult
    func put(_ yaml: String, actor: String = "tester") throws -> UInt64 {
        let manifests = try ManifestReader.manifests(Array(yaml.utf8), name: "test")
        return try log.append(Batch(manifests.map { Change(.upsert($0), source: $0.key.kind.source, actor: actor) }))
            .head
    }

    @discardableResult
    func remove(_ kind: ResourceKind, _ namespace: String, _ name: String, actor: String = "tester") throws -> UInt64 {
        try log.append(
            Batch([
                Change(
                    .delete(ObjectKey(kind: kind, namespace: namespace, name: name), nil), source: kind.source,
                    actor: actor)
            ])
        ).head
    }
}

@Suite struct HistoryTests {
    @Test func theTransitionsAreExactlyTheExpectedOnesWithTheirCauses() throws {
        let store = try temporaryStore()
        let base = try store.put(Fleet.base, actor: "setup")  // events 1...10
        #expect(base == 10)
        let created = try store.put(
            Fleet.staticVD("api", backing: ["reviews@cluster-1", "reviews@cluster-2"]), actor: "alice")
        try store.put(Fleet.destination("details", "cluster-1"), actor: "agent")  // unrelated: no transition
        let scaledDown = try store.remove(.destination, "gloo-mesh", "reviews-bookinfo-cluster-1", actor: "agent-1")
        let broken = try store.put(
            Fleet.staticVD(
                "api", port: "{number: 0, protocol: http}", backing: ["reviews@cluster-1", "reviews@cluster-2"]),
            actor: "bob")
        try store.put(Fleet.destination("ratings", "cluster-2"), actor: "agent")  // unrelated
        let fixed = try store.put(
            Fleet.staticVD("api", backing: ["reviews@cluster-1", "reviews@cluster-2"]), actor: "alice")
        let gatewayLost = try store.put(Fleet.mesh("cluster-2", region: "us-west-2"), actor: "agent-2")
        let deleted = try store.remove(.virtualDestination, "bookinfo", "api", actor: "alice")

        let history = try store.history(of: ObjectRef(name: "api", namespace: "bookinfo"))
        #expect(history.map(\.cause.sequence) == [created, scaledDown, broken, fixed, gatewayLost, deleted])
        #expect(history.map(\.cause.actor) == ["alice", "agent-1", "bob", "alice", "agent-2", "alice"])
        #expect(history.map { $0.after?.state } == ["ACCEPTED", "ACCEPTED", "INVALID", "ACCEPTED", "INVALID", nil])
        #expect(history[0].changes == ["created: ACCEPTED"])
        #expect(history[1].cause.key.kind == .destination)
        #expect(history[1].changes.contains("selected −reviews.bookinfo.cluster-1"))
        #expect(
            history[1].changes.contains(
                "warning: Backing destination reviews.bookinfo.cluster-1 not found in discovery; skipped"))
        #expect(history[2].changes.contains("state: ACCEPTED → INVALID"))
        #expect(history[2].changes.contains("error: Invalid port number 0: must be between 1 and 65535"))
        #expect(history[3].changes.contains("error resolved: Invalid port number 0: must be between 1 and 65535"))
        #expect(history[4].cause.key.kind == .mesh)
        #expect(
            history[4].changes.contains {
                $0.hasPrefix("error: Mesh istiod-istio-system-cluster-2.gloo-mesh has no ingress gateway")
            })
        #expect(history[5].changes == ["deleted"])

        // A window: from the break to the fix.
        let window = try store.history(of: ObjectRef(name: "api", namespace: "bookinfo"), since: broken, until: fixed)
        #expect(window.map(\.cause.sequence) == [broken, fixed])
        #expect(window.first?.before?.state == "ACCEPTED")

        // The same from a snapshot in the middle.
        try store.createSnapshot(at: scaledDown)
        let again = try store.history(of: ObjectRef(name: "api", namespace: "bookinfo"), since: broken)
        #expect(again.map(\.cause.sequence) == [broken, fixed, gatewayLost, deleted])
    }

    @Test func diffShowsWhatChangedBetweenTwoPointsAsAUnifiedDiff() throws {
        let store = try temporaryStore()
        try store.put(Fleet.base)
        let before = try store.put(Fleet.staticVD("api", backing: ["reviews@cluster-1", "reviews@cluster-2"]))
        let after = try store.put(
            Fleet.staticVD(
                "api", port: "{number: 9443, protocol: http}", backing: ["reviews@cluster-1", "reviews@cluster-2"]))
        let vd = ObjectRef(name: "api", namespace: "bookinfo")
        let old = try store.diffText(at: before, cluster: "cluster-1", virtualDestination: vd)
        let new = try store.diffText(at: after, cluster: "cluster-1", virtualDestination: vd)
        let diff = unifiedDiff(from: old, to: new, oldLabel: "seq \(before)", newLabel: "seq \(after)")
        #expect(diff.hasPrefix("--- seq \(before)\n+++ seq \(after)\n@@ "))
        #expect(diff.contains("\n-  observedGeneration: 1\n+  observedGeneration: 2\n"))
        #expect(diff.contains("-        name: outbound|9080||api.global\n"))
        #expect(diff.contains("+        name: outbound|9443||api.global\n"))
        #expect(diff.contains("-    number: 9080\n+    number: 9443\n"))
        #expect(!diff.contains("cluster.multicluster.solo.io: cluster-2"))
        #expect(unifiedDiff(from: old, to: old, oldLabel: "a", newLabel: "b").isEmpty)
    }

    @Test func unifiedDiffHunksCountLinesLikeDiffU() {
        let old = (1...20).map { "line \($0)" }.joined(separator: "\n")
        var lines = (1...20).map { "line \($0)" }
        lines[4] = "changed 5"
        lines.insert("new after 15", at: 15)
        let diff = unifiedDiff(from: old, to: lines.joined(separator: "\n"), oldLabel: "a", newLabel: "b", context: 2)
        #expect(
            diff == """
                --- a
                +++ b
                @@ -3,5 +3,5 @@
                 line 3
                 line 4
                -line 5
                +changed 5
                 line 6
                 line 7
                @@ -14,4 +14,5 @@
                 line 14
                 line 15
                +new after 15
                 line 16
                 line 17

                """)
    }
}
