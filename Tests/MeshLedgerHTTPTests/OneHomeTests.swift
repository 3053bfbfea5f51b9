import EventLog
import Foundation
import Hummingbird
import HummingbirdTesting
import MeshLedger
import MeshLedgerHTTP
import MeshLedgerTesting
import MeshModel
import Testing

/// The CLI and the HTTP API answer from the same use cases: where they once drifted, these
/// compare the two front ends' answers.
@Suite struct OneHomeTests {
    /// The issues `meshledger explain` prints: (severity, scope, message, inputs named).
    func cliIssues(_ store: Store, _ name: String) throws -> [String] {
        let result = try meshledger(["explain", "vd", name, "-n", "bookinfo", "--store", store.path, "--read-only"])
        #expect(result.status == 0, "\(result.stderr)")
        var issues: [String] = []
        for line in result.stdout.split(separator: "\n") {
            if line.hasPrefix("  error (") || line.hasPrefix("  warning (") {
                issues.append(line.trimmingCharacters(in: .whitespaces))
            } else if line.hasPrefix("      "), let last = issues.popLast() {
                // An input: "KIND NS/NAME: changed at ..."
                let input = line.trimmingCharacters(in: .whitespaces).split(separator: ":")[0]
                issues.append(last + " | " + input)
            }
        }
        return issues
    }

    /// The same issues from `GET .../explain`, in the CLI's words.
    func httpIssues(_ client: any TestClientProtocol, _ name: String) async throws -> [String] {
        let answer = try await client.call(.get, "/v1/virtualdestinations/bookinfo/\(name)/explain")
        #expect(answer.status == 200, "\(answer.text)")
        var issues: [String] = []
        for severity in ["errors", "warnings"] {
            for entry in answer.json[severity]?.arrayValue ?? [] {
                var line =
                    "\(severity.dropLast()) (\(entry["scope"]?.stringValue ?? "")): \(entry["message"]?.stringValue ?? "")"
                for input in entry["inputs"]?.arrayValue ?? [] {
                    line +=
                        " | \(input["kind"]?.stringValue ?? "") \(input["namespace"]?.stringValue ?? "")/\(input["name"]?.stringValue ?? "")"
                }
                issues.append(line)
            }
        }
        return issues
    }

    @Test func explainListsTheSameIssuesForAHostnameBlockedAndAFailedVirtualDestination() async throws {
        let store = try fleetStore()
        // A later VirtualDestination that wants reviews.global, which reviews-global holds.
        let rival = virtualDestinationYAML("reviews-rival", hostname: "reviews.global")
        try await withServer(store) { client in
            #expect(try await client.call(.post, "/v1/events?op=apply&actor=carol", body: rival).status == 200)
            // A controller fails to write one of reviews-global's outputs.
            let outputs = try await client.call(.get, "/v1/outputs?cluster=cluster-1")
            let entry = try #require(
                outputs.json["items"]?.arrayValue?.first {
                    $0["kind"] == "ServiceEntry" && $0[path: ["metadata", "name"]] == "reviews-global-bookinfo"
                })
            let feedback: JSONValue = [
                "result": "failed", "cluster": "cluster-1", "kind": "ServiceEntry", "namespace": "istio-system",
                "name": entry[path: ["metadata", "name"]] ?? .null, "error": "denied by webhook",
            ]
            let failed = try await client.call(.post, "/v1/feedback", body: JSONText.string(feedback))
            #expect(failed.status == 200, "\(failed.text)")

            let blocked = try await httpIssues(client, "reviews-rival")
            #expect(blocked.contains { $0.contains("is already used by VirtualDestination") })
            #expect(blocked == (try cliIssues(store, "reviews-rival")))

            let writeFailed = try await httpIssues(client, "reviews-global")
            #expect(writeFailed.contains { $0.contains("write error: denied by webhook") && $0.contains("SyncResult") })
            #expect(writeFailed == (try cliIssues(store, "reviews-global")))
        }
    }

    /// Feedback used to be written around the single writer; now it is one more batch for the
    /// committer, so it shares group commits with concurrent appends.
    @Test func feedbackGoesThroughTheWriterWithConcurrentAppends() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        let appends = 24
        let reports = 8
        try await withServer(store) { client in
            let answers = try await withThrowingTaskGroup(of: Answer.self) { group in
                for i in 0..<appends {
                    group.addTask {
                        let vd = virtualDestinationYAML("concurrent-\(i)", hostname: "concurrent-\(i).global")
                        return try await client.call(.post, "/v1/events?op=apply", body: vd)
                    }
                }
                for i in 0..<reports {
                    group.addTask {
                        let body =
                            "{\"result\": \"applied\", \"cluster\": \"cluster-1\", \"kind\": \"ServiceEntry\", \"namespace\": \"istio-system\", \"name\": \"object-\(i)\"}"
                        return try await client.call(.post, "/v1/feedback", body: body)
                    }
                }
                var all: [Answer] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            #expect(answers.allSatisfy { $0.status == 200 }, "\(answers.filter { $0.status != 200 }.map(\.text))")
            let sequences = answers.compactMap { $0.json["range"]?["from"]?.intValue }
            #expect(Set(sequences).count == appends + reports)
            #expect(Set(sequences) == Set((head + 1...head + UInt64(appends + reports)).map { Int64($0) }))
            // Every request, feedback included, was counted by the committer's group commits.
            let metrics = try await client.call(.get, "/metrics").text
            let committed = metrics.split(separator: "\n").first { $0.hasPrefix("meshledger_commit_requests_sum") }
            #expect(committed.map { Double($0.split(separator: " ").last ?? "") } == Double(appends + reports))
            // In fewer commits than requests: requests that arrive while a group commits form the
            // next group (the writer does not wait for them).
            let commits = metrics.split(separator: "\n").first { $0.hasPrefix("meshledger_commit_requests_count") }
            let count = commits.flatMap { Double($0.split(separator: " ").last ?? "") } ?? .infinity
            #expect(count < Double(appends + reports), "\(count) commits for \(appends + reports) requests")
            // And the live projection folded every event (nothing written behind its back).
            let health = try await client.call(.get, "/healthz")
            #expect(health.json["head"]?.intValue == Int64(head) + Int64(appends + reports))
            let list = try await client.call(.get, "/v1/syncresults")
            #expect(list.json["sequence"]?.intValue == Int64(head) + Int64(appends + reports))
            #expect(list.json["items"]?.arrayValue?.count == reports)
        }
        #expect(try store.log.verify().failure == nil)
    }

    /// One error mapping: the same refusal answers the same status code and reason on `/v1` and
    /// on the Kubernetes API (a Status there); before, a schema refusal was 400 on one, 422 on the
    /// other.
    @Test func bothAPIsAnswerAnErrorAlike() async throws {
        try await withServer(try fleetStore()) { client in
            let yaml = virtualDestinationYAML("bad", hostname: "bad.global").replacingOccurrences(
                of: "number: 9080", with: "number: \"x\"")
            let vds = "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/namespaces/bookinfo/virtualdestinations"
            let kube = try await client.call(
                .post, vds, body: JSONText.string(try #require(try YAMLText.parseDocuments(yaml).first).value))
            let v1 = try await client.call(.post, "/v1/events?op=apply", body: yaml)
            #expect(kube.status == 422 && v1.status == 422, "\(kube.text) \(v1.text)")
            #expect(kube.json["reason"] == "Invalid" && v1.json["code"] == "Invalid")
            // A precondition that fails: 409 Conflict on both.
            let stale = try await client.call(
                .post, "/v1/events?op=apply&expectHead=1", body: virtualDestinationYAML("x", hostname: "x.global"))
            let kubeStale = try await client.call(
                .delete, vds + "/reviews-global", body: #"{"preconditions":{"resourceVersion":"1"}}"#)
            #expect(stale.status == 409 && kubeStale.status == 409)
            #expect(stale.json["code"] == "Conflict" && kubeStale.json["reason"] == "Conflict")
        }
    }
}
