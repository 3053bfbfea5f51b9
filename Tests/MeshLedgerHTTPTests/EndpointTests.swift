import EventLog
import Foundation
import Hummingbird
import HummingbirdTesting
import MeshLedger
import MeshLedgerHTTP
import MeshLedgerTesting
import MeshModel
import Projection
import Testing

/// Every endpoint's status codes and bodies, in process.
@Suite struct EndpointTests {
    let vd = virtualDestinationYAML("extra", hostname: "extra.global")

    @Test func operationsEndpoints() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let health = try await client.call(.get, "/healthz")
            #expect(health.status == 200)
            #expect(health.json["head"]?.intValue == Int64(head))
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.status == 200)
            let gauge = metrics.text.split(separator: "\n").first { $0.hasPrefix("meshledger_head ") }
            #expect(gauge.flatMap { Double($0.split(separator: " ").last ?? "") } == Double(head))
        }
    }

    /// The server snapshots the state it keeps folded (no replay) every interval, off the
    /// writer's path; each snapshot is what a full replay gives at its sequence, and a restart
    /// (a new projection of the store) starts from the newest.
    @Test func theServerSnapshotsWhatItFoldsEveryIntervalEvents() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        #expect(try store.log.snapshotInfos().isEmpty)
        var configuration = ServerConfiguration()
        configuration.snapshotInterval = 4
        try await withServer(store, configuration: configuration) { client in
            for i in 0..<9 {
                let yaml = virtualDestinationYAML("snapshotted-\(i)", hostname: "snapshotted-\(i).global")
                let answer = try await client.call(.post, "/v1/events?op=apply", body: yaml)
                #expect(answer.status == 200, "\(answer.text)")
            }
            let metrics = try await client.call(.get, "/metrics")
            #expect(metrics.text.contains("meshledger_snapshot_sequence"))
        }
        #expect(try store.log.head().sequence == head + 9)
        // The store had none, so the first append's fold takes one.
        let sequences = try store.log.snapshotInfos().map(\.sequence)
        #expect(sequences == [head + 1, head + 5, head + 9])
        #expect(try store.replay(verifySnapshots: true).snapshotProblems.isEmpty)
        let restarted = try store.project()
        #expect(restarted.origin.snapshot == sequences.last)
        let replayed = try store.replay()
        #expect(restarted.projection.digest == replayed.digest)
        // A read-only server takes none.
        var readOnly = ServerConfiguration()
        readOnly.readOnly = true
        readOnly.snapshotInterval = 1
        _ = try store.pruneSnapshots(keep: 0)
        try await withServer(store, configuration: readOnly) { client in
            let health = try await client.call(.get, "/healthz")
            #expect(health.status == 200)
        }
        #expect(try store.log.snapshotInfos().isEmpty)
    }

    @Test func appendsAndTheirRefusals() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let created = try await client.call(.post, "/v1/events?op=apply&actor=bob", body: vd)
            #expect(created.status == 200, "\(created.text)")
            #expect(created.json["outcomes"]?.arrayValue?.first?["outcome"] == "created")
            #expect(created.json["head"]?.intValue == Int64(head + 1))
            let unchanged = try await client.call(.post, "/v1/events?op=apply", body: vd)
            #expect(unchanged.json["outcomes"]?.arrayValue?.first?["outcome"] == "unchanged")

            let conflict = try await client.call(.post, "/v1/events?op=apply&expectHead=1", body: vd)
            #expect(conflict.status == 409 && conflict.json["code"] == "Conflict")
            let wrongSource = try await client.call(.post, "/v1/events?op=discover", body: vd)
            #expect(wrongSource.status == 400 && wrongSource.text.contains("is a user object"))
            let badOp = try await client.call(.post, "/v1/events?op=frobnicate", body: vd)
            #expect(badOp.status == 400)
            let badYAML = try await client.call(.post, "/v1/events?op=apply", body: "kind: [unclosed")
            #expect(badYAML.status == 400 && badYAML.text.contains("invalid YAML"))
            let badHead = try await client.call(.post, "/v1/events?op=apply&expectHead=x", body: vd)
            #expect(badHead.status == 400)
            let resyncWithoutCluster = try await client.call(.post, "/v1/events?op=resync", body: "{}")
            #expect(resyncWithoutCluster.status == 400)
            let missing = try await client.call(
                .post, "/v1/events?op=delete",
                body:
                    "{\"apiVersion\": \"networking.enterprise.mesh.gloo.solo.io/v1alpha1\", \"kind\": \"VirtualDestination\", \"metadata\": {\"name\": \"nope\", \"namespace\": \"bookinfo\"}}"
            )
            #expect(missing.status == 404 && missing.json["code"] == "NotFound")
            let huge = try await client.call(
                .post, "/v1/events?op=apply", body: String(repeating: "#", count: 9 << 20))
            #expect(huge.status == 413)
        }
        // Only the one create was appended.
        #expect(try store.log.head().sequence == head + 1)
    }

    /// On a standalone store, a read with `minSequence` beyond the head waits for the write that
    /// reaches it (woken by the writer's fold) and then sees it.
    @Test func aReadWaitsForItsMinSequenceOnAStandaloneStore() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            // No sleep between them: on a loaded machine a sleep's wake-up can come later than the
            // read's 5 s deadline. The read may be waiting when the write lands, or come after it;
            // either order must give the object.
            async let read = client.call(.get, "/v1/virtualdestinations/bookinfo/waited?minSequence=\(head + 1)")
            let written = try await client.call(
                .post, "/v1/events?op=apply", body: virtualDestinationYAML("waited", hostname: "waited.global"))
            #expect(written.status == 200, "\(written.text)")
            let answer = try await read
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.json[path: ["metadata", "name"]] == "waited")
        }
    }

    /// The CLI refused a batch that deletes one object twice; the API tried both deletes and
    /// answered 404 for the second. Both now build the batch with `Batch.delete`.
    @Test func aDuplicateDeleteIsRefusedWithNothingAppended() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        let twice = try text("\(fleet)/user/virtualdestinations.yaml").components(separatedBy: "\n---\n")[1]
        try await withServer(store) { client in
            let answer = try await client.call(.post, "/v1/events?op=delete", body: twice + "\n---\n" + twice)
            #expect(answer.status == 400, "\(answer.text)")
            #expect(answer.text.contains("appears twice in the input; one batch changes each object once"))
        }
        #expect(try store.log.head().sequence == head)
        let cli = try meshledger([
            "delete", "--store", store.path, "vd", "reviews-global", "reviews-global", "-n", "bookinfo",
        ])
        #expect(cli.status == 1 && cli.stderr.contains("appears twice in the input"))
        #expect(try store.log.head().sequence == head)
    }

    @Test func readsAtNowAndInThePast() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let list = try await client.call(.get, "/v1/virtualdestinations")
            #expect(list.status == 200 && list.json["sequence"]?.intValue == Int64(head))
            #expect(list.json["items"]?.arrayValue?.count == 3)
            #expect(list.json["items"]?.arrayValue?.first?["status"]?["state"] != nil)
            let inNamespace = try await client.call(.get, "/v1/destinations?namespace=nowhere")
            #expect(inNamespace.json["items"]?.arrayValue?.isEmpty == true)
            let past = try await client.call(.get, "/v1/virtualdestinations?at=1")
            #expect(past.json["sequence"] == 1 && past.json["items"]?.arrayValue?.isEmpty == true)
            let badPoint = try await client.call(.get, "/v1/virtualdestinations?at=yesterday-ish")
            #expect(badPoint.status == 400 && badPoint.text.contains("at= yesterday-ish"))

            let one = try await client.call(.get, "/v1/virtualdestinations/bookinfo/reviews-global")
            #expect(one.status == 200 && one.json["status"]?["state"] == "ACCEPTED")
            #expect(one.json["metadata"]?["resourceVersion"] != nil)
            let none = try await client.call(.get, "/v1/virtualdestinations/bookinfo/nope")
            #expect(none.status == 404)

            let outputs = try await client.call(.get, "/v1/outputs?cluster=cluster-1")
            let items = try #require(outputs.json["items"]?.arrayValue)
            #expect(!items.isEmpty && items.allSatisfy { $0["digest"]?.stringValue != nil })
            #expect(
                items.allSatisfy { $0[path: ["metadata", "labels", "cluster.multicluster.solo.io"]] == "cluster-1" })

            let log = try await client.call(.get, "/v1/log?actor=platform&kind=vd")
            #expect(log.status == 200 && log.text.split(separator: "\n").count == 3)
            let badKind = try await client.call(.get, "/v1/log?kind=gateway")
            #expect(badKind.status == 400 && badKind.text.contains("unknown kind"))
            let badSince = try await client.call(.get, "/v1/log?since=soon")
            #expect(badSince.status == 400)

            let history = try await client.call(.get, "/v1/virtualdestinations/bookinfo/reviews-global/history")
            #expect(history.status == 200 && history.json.arrayValue?.isEmpty == false)
            let explain = try await client.call(.get, "/v1/virtualdestinations/bookinfo/reviews-global/explain")
            #expect(explain.status == 200 && explain.json["status"]?["state"] == "ACCEPTED")
            let noExplain = try await client.call(.get, "/v1/virtualdestinations/bookinfo/nope/explain")
            #expect(noExplain.status == 404)
        }
    }

    @Test func watchLimitsAndRetention() async throws {
        let store = try fleetStore()
        var configuration = ServerConfiguration()
        configuration.watchRetention = 2
        try await withServer(store, configuration: configuration) { client in
            let gone = try await client.call(.get, "/v1/watch?from=0")
            #expect(gone.status == 410 && gone.json["code"] == "Expired")
            let head = try store.log.head().sequence
            let stream = try await client.call(.get, "/v1/watch?from=\(head - 1)&timeoutSeconds=0.1")
            #expect(stream.status == 200)
            let lines = stream.text.split(separator: "\n").map { (try? JSONText.parse(Array($0.utf8))) ?? .null }
            #expect(lines.first?["type"] == "EVENT" && lines.first?["sequence"]?.intValue == Int64(head))
            #expect(lines.last?["type"] == "BOOKMARK")
        }
    }

    @Test func aTokenAndReadOnlyMode() async throws {
        let store = try fleetStore()
        var configuration = ServerConfiguration()
        configuration.access.addSingleToken("s3cret")
        configuration.readOnly = true
        try await withServer(store, configuration: configuration) { client in
            let health = try await client.call(.get, "/healthz")
            #expect(health.status == 200)
            #expect(try await client.call(.get, "/v1/virtualdestinations").status == 401)
            let wrong: HTTPFields = [.authorization: "Bearer nope"]
            #expect(try await client.call(.get, "/v1/virtualdestinations", headers: wrong).status == 401)
            let right: HTTPFields = [.authorization: "Bearer s3cret"]
            #expect(try await client.call(.get, "/v1/virtualdestinations", headers: right).status == 200)
            let write = try await client.call(.post, "/v1/events?op=apply", body: vd, headers: right)
            #expect(write.status == 403)
            let feedback = try await client.call(.post, "/v1/feedback", body: "{}", headers: right)
            #expect(feedback.status == 403)
        }
    }
}
