import EventLog
import Foundation
import Hummingbird
import HummingbirdTesting
import MeshLedger
import MeshLedgerHTTP
import MeshLedgerTesting
import MeshModel
import Testing

/// What a hostile (or careless) caller sends at each limit: every number, size and nesting from
/// outside is checked before use, answered with a 4xx naming what is wrong, and appends nothing.
@Suite struct HostileRequestTests {
    let vds = "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/namespaces/bookinfo/virtualdestinations"
    let serviceEntries = "/apis/networking.istio.io/v1alpha3/serviceentries"

    /// Numbers that used to reach `Duration.seconds`, `+ 1` or `*` unchecked (and trapped): each is a
    /// 400 naming the parameter, or a 504 for a position beyond the head, and the server answers on.
    @Test func numbersFromOutsideAreCheckedBeforeUse() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            for bad in ["nan", "-1e300", "inf", "1e400", "abc"] {
                let v1 = try await client.call(.get, "/v1/watch?timeoutSeconds=\(bad)")
                #expect(v1.status == 400 && v1.json["error"]?.stringValue?.contains("timeoutSeconds") == true, "\(bad)")
                let bookmark = try await client.call(.get, "/v1/watch?bookmarkSeconds=\(bad)")
                #expect(bookmark.status == 400, "\(bad)")
                for path in [vds, serviceEntries] {
                    let kube = try await client.call(.get, path + "?watch=1&timeoutSeconds=\(bad)")
                    #expect(kube.status == 400 && kube.json["kind"] == "Status", "\(path) \(bad) \(kube.text)")
                }
            }
            #expect(try await client.call(.get, "/v1/watch?bookmarkSeconds=0").status == 400)
            #expect(try await client.call(.get, "/v1/watch?timeoutSeconds=-1").status == 400)
            let max = "18446744073709551615"
            let beyond = try await client.call(.get, "/v1/watch?from=\(max)")
            #expect(beyond.status == 504 && beyond.json["code"] == "Timeout", "\(beyond.text)")
            for path in [vds, serviceEntries] {
                let watch = try await client.call(.get, path + "?watch=1&resourceVersion=\(max)")
                #expect(watch.status == 504, "\(watch.text)")
                #expect(
                    watch.json[path: ["details", "causes"]]?.arrayValue?.first?["reason"] == "ResourceVersionTooLarge")
            }
            let token = Data("\(max)/bookinfo/x".utf8).base64EncodedString()
            #expect(try await client.call(.get, vds + "?limit=1&continue=\(token)").status == 400)
            #expect(try await client.call(.get, vds + "?limit=99999999999999999999").status == 400)
            for point in ["999999999999d", "9223372036854775807s", "2562047788015216h1h"] {
                let at = try await client.call(.get, "/v1/virtualdestinations?at=\(point)")
                #expect(at.status == 400 && at.json["error"]?.stringValue?.contains("at=") == true, "\(at.text)")
                #expect(try await client.call(.get, "/v1/log?since=\(point)").status == 400)
                #expect(try await client.call(.get, "/v1/outputs?at=\(point)").status == 400)
                let explain = try await client.call(
                    .get, "/v1/virtualdestinations/bookinfo/reviews-global/explain?at=\(point)")
                #expect(explain.status == 400)
            }
            #expect(try await client.call(.get, "/v1/virtualdestinations?at=\(max)").status == 200)
            #expect(try await client.call(.get, "/healthz").status == 200)
        }
        #expect(try store.log.head().sequence == head)
    }

    /// kube-apiserver's ListOptions rules: 422 Invalid for a resourceVersionMatch it does not know
    /// or forbids, 400 for a selector it cannot parse; a selector encoded with `+` for spaces (as
    /// client-go and kubectl send `-l 'app in (a,b)'`) is read as they mean it.
    @Test func listOptionsAndSelectorsAreParsedStrictly() async throws {
        try await withServer(try fleetStore()) { client in
            let bogus = try await client.call(.get, vds + "?resourceVersion=5&resourceVersionMatch=Bogus")
            #expect(bogus.status == 422)
            #expect(
                bogus.json["message"]
                    == "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: \"Bogus\": supported values: \"Exact\", \"NotOlderThan\", \"\""
            )
            #expect(bogus.json[path: ["details", "causes"]]?.arrayValue?.first?["field"] == "resourceVersionMatch")
            let zero = try await client.call(.get, vds + "?resourceVersion=0&resourceVersionMatch=Exact")
            #expect(zero.status == 422, "\(zero.text)")
            let missing = try await client.call(.get, vds + "?resourceVersionMatch=Exact")
            #expect(missing.status == 422 && missing.json["reason"] == "Invalid")
            #expect(try await client.call(.get, vds + "?watch=1&resourceVersionMatch=Exact").status == 422)
            for selector in ["!!!", "a%20b", "bad%20label!%3Dx", "app%20in%20()", "app%3Dx%20y", "-app%3Dx"] {
                let answer = try await client.call(.get, vds + "?labelSelector=\(selector)")
                #expect(answer.status == 400 && answer.json["reason"] == "BadRequest", "\(selector): \(answer.text)")
                #expect(try await client.call(.get, serviceEntries + "?labelSelector=\(selector)").status == 400)
            }
            let spaced = try await client.call(.get, vds + "?labelSelector=app+in+(reviews,ratings)")
            #expect(spaced.json["items"]?.arrayValue?.count == 2, "\(spaced.text)")
            let equals = try await client.call(.get, vds + "?labelSelector=app+%3D+reviews")
            #expect(equals.json["items"]?.arrayValue?.count == 1, "\(equals.text)")
            let plus = try await client.call(.get, vds + "?labelSelector=app%3Dx%2By")
            #expect(plus.status == 400, "an encoded + is a plus sign, which no label value has")
        }
    }

    /// A few hundred bytes of YAML anchors and aliases, a JSON patch that copies a subtree into
    /// itself, deep nesting: each is refused before it grows an object past the limit, on every
    /// front end, and nothing is appended.
    @Test func tinyRequestsCannotStoreHugeObjects() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        let bomb = """
            apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
            kind: VirtualDestination
            metadata:
              name: bomb
              namespace: bookinfo
              annotations:
                a0: &a0 "\(String(repeating: "x", count: 64))"
                a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
                a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
                a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
                a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
                a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
                a6: [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
            spec:
              hostname: bomb.global
              port: {number: 9080, protocol: HTTP}
              virtualMesh: {name: bookinfo-federation, namespace: gloo-mesh}
              static: {destinations: [{kubeService: {name: reviews, namespace: bookinfo, clusterName: cluster-1}}]}
            """
        #expect(bomb.utf8.count < 1200)
        try await withServer(store) { client in
            let v1 = try await client.call(.post, "/v1/events?op=apply", body: bomb)
            #expect(v1.status == 413, "\(v1.text)")
            let apply = try await client.call(
                .patch, vds + "/bomb?fieldManager=hostile", body: bomb,
                headers: [.contentType: "application/apply-patch+yaml"])
            #expect(apply.status == 413 && apply.json["kind"] == "Status", "\(apply.text)")
            // A JSON patch that doubles the spec again and again.
            var operations = ["{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":{}}"]
            operations += ["{\"op\":\"add\",\"path\":\"/spec/x\",\"value\":\"\(String(repeating: "y", count: 1000))\"}"]
            for i in 0..<40 {
                operations.append("{\"op\":\"copy\",\"from\":\"/spec\",\"path\":\"/spec/c\(i)\"}")
            }
            let doubling = try await client.call(
                .patch, vds + "/reviews-global", body: "[\(operations.joined(separator: ","))]",
                headers: [.contentType: "application/json-patch+json"])
            #expect(doubling.status == 413, "\(doubling.text)")
            let many =
                "["
                + Array(
                    repeating: "{\"op\":\"test\",\"path\":\"/kind\",\"value\":\"VirtualDestination\"}",
                    count: JSONPatch.maxOperations + 1
                ).joined(separator: ",") + "]"
            let tooMany = try await client.call(
                .patch, vds + "/reviews-global", body: many, headers: [.contentType: "application/json-patch+json"])
            #expect(tooMany.status == 413, "\(tooMany.text)")
            // Nesting deeper than the limit, in YAML (flow and block) and through a patch.
            let flow = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
            let deepFlow = try await client.call(.post, "/v1/events?op=apply", body: "a: " + flow)
            #expect(deepFlow.status == 400, "\(deepFlow.text)")
            var deepPatch = "\"v\""
            for _ in 0..<150 { deepPatch = "{\"a\":\(deepPatch)}" }
            var nesting: [String] = []
            for _ in 0..<3 { nesting.append("{\"op\":\"add\",\"path\":\"/spec/deep\",\"value\":\(deepPatch)}") }
            nesting.append("{\"op\":\"copy\",\"from\":\"/spec/deep\",\"path\":\"/spec/deep/a/a/a/a/a/a/a/a/a/a/b\"}")
            for _ in 0..<3 {
                nesting.append(
                    "{\"op\":\"copy\",\"from\":\"/spec/deep\",\"path\":\"/spec/deep\(String(repeating: "/a", count: 140))/b\"}"
                )
            }
            let deep = try await client.call(
                .patch, vds + "/reviews-global", body: "[\(nesting.joined(separator: ","))]",
                headers: [.contentType: "application/json-patch+json"])
            #expect(deep.status == 422, "\(deep.text)")
            // Controller feedback is an object too: an error text past the limit is refused.
            let feedback = JSONText.string([
                "result": "failed", "cluster": "cluster-1", "kind": "ServiceEntry", "namespace": "bookinfo",
                "name": "reviews-global", "error": .string(String(repeating: "e", count: 4 << 20)),
            ])
            let report = try await client.call(.post, "/v1/feedback", body: feedback)
            #expect(report.status == 413, "\(report.text.prefix(300))")
            #expect(try await client.call(.get, "/healthz").status == 200)
        }
        #expect(try store.log.head().sequence == head)
    }

    /// The operator-status record is the status subresource's: an ordinary write that sets its
    /// annotation makes no field appear under `.status`, on any front end.
    @Test func statusIsWrittenOnlyThroughTheStatusSubresource() async throws {
        let forged = "{\\\"state\\\":\\\"ACCEPTED\\\",\\\"forged\\\":true}"
        let annotated = virtualDestinationYAML("forger", hostname: "forger.global").replacingOccurrences(
            of: "metadata: {name: forger, namespace: bookinfo}",
            with:
                "metadata: {name: forger, namespace: bookinfo, annotations: {status.meshledger.dev/recorded: \"\(forged)\"}}"
        )
        try await withServer(try fleetStore()) { client in
            #expect(try await client.call(.post, "/v1/events?op=apply", body: annotated).status == 200)
            let v1 = try await client.call(.get, "/v1/virtualdestinations/bookinfo/forger")
            #expect(v1.json[path: ["status", "forged"]] == nil, "\(v1.text)")
            let kube = try await client.call(.get, vds + "/forger")
            #expect(kube.json[path: ["status", "forged"]] == nil)
            let patch =
                "{\"metadata\":{\"annotations\":{\"status.meshledger.dev/recorded\":\"{\\\"forged\\\":true}\"}}}"
            let patched = try await client.call(
                .patch, vds + "/reviews-global", body: patch, headers: [.contentType: "application/merge-patch+json"])
            #expect(patched.status == 200)
            #expect(patched.json[path: ["status", "forged"]] == nil, "\(patched.text)")
            let created = try await client.call(
                .post, vds,
                body: """
                    {"metadata":{"name":"forged-create","annotations":{"status.meshledger.dev/recorded":"{\\"forged\\":true}"}},
                     "spec":{"hostname":"forged-create.global","port":{"number":9080,"protocol":"HTTP"},
                     "virtualMesh":{"name":"bookinfo-federation","namespace":"gloo-mesh"},
                     "static":{"destinations":[{"kubeService":{"name":"reviews","namespace":"bookinfo","clusterName":"cluster-1"}}]}}}
                    """)
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json[path: ["status", "forged"]] == nil)
            // Through /status it is recorded, as before.
            let status = try await client.call(
                .patch, vds + "/reviews-global/status", body: "{\"status\":{\"kopf\":{\"ok\":true}}}",
                headers: [.contentType: "application/merge-patch+json"])
            #expect(status.json[path: ["status", "kopf", "ok"]] == true, "\(status.text)")
        }
    }

    /// A dry run in DeleteOptions (as kubectl and the Python client send it) deletes nothing;
    /// every write's options are checked as kube-apiserver checks them (422 Invalid).
    @Test func writeOptionsAreReadFromTheBodyAndChecked() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let options = #"{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}"#
            let dry = try await client.call(.delete, vds + "/reviews-global", body: options)
            #expect(dry.status == 200 && dry.json["status"] == "Success", "\(dry.text)")
            #expect(try await client.call(.get, vds + "/reviews-global").status == 200)
            let bogus = try await client.call(.delete, vds + "/reviews-global", body: #"{"dryRun":["Bogus"]}"#)
            #expect(bogus.status == 422 && bogus.json[path: ["details", "kind"]] == "DeleteOptions", "\(bogus.text)")
            #expect(try await client.call(.delete, vds + "/reviews-global", body: "{not json").status == 400)
            let merge: HTTPFields = [.contentType: "application/merge-patch+json"]
            let long = String(repeating: "m", count: 129)
            for (query, field) in [
                ("fieldManager=\(long)", "fieldManager"), ("fieldManager=bad%01manager", "fieldManager"),
                ("force=true", "force"), ("fieldValidation=Bogus", "fieldValidation"), ("dryRun=Some", "dryRun"),
            ] {
                let answer = try await client.call(.patch, vds + "/reviews-global?\(query)", body: "{}", headers: merge)
                #expect(answer.status == 422, "\(query): \(answer.text)")
                #expect(answer.json[path: ["details", "causes"]]?.arrayValue?.first?["field"] == .string(field))
            }
            #expect(try await client.call(.post, vds + "?dryRun=Some", body: "{}").status == 422)
            #expect(try await client.call(.put, vds + "/reviews-global?fieldValidation=x", body: "{}").status == 422)
        }
        #expect(try store.log.head().sequence == head)
    }

    /// kube-apiserver's probes, and a Status for any path nothing serves (`/v1` keeps its shape).
    @Test func probesAndUnknownPaths() async throws {
        try await withServer(try fleetStore()) { client in
            for probe in ["/livez", "/readyz"] {
                let plain = try await client.call(.get, probe)
                #expect(plain.status == 200 && plain.text == "ok")
                let verbose = try await client.call(.get, probe + "?verbose")
                #expect(
                    verbose.text.contains("[+]ping ok") && verbose.text.contains("\(probe.dropFirst()) check passed"))
            }
            for path in ["/apis/nothing.example.com/v1/things", "/nothing", "/api/v1/nothing/x/y"] {
                let missing = try await client.call(.get, path)
                #expect(missing.status == 404 && missing.json["kind"] == "Status", "\(path): \(missing.text)")
                #expect(missing.json["message"] == "the server could not find the requested resource")
            }
            let v1 = try await client.call(.get, "/v1/nothing")
            #expect(v1.status == 404 && v1.json["kind"] == nil)
        }
    }

    /// A generation past what readers can show is not taken from a recorded object (it used to be
    /// stored, and every later read of the object trapped).
    @Test func aRecordedGenerationPastSixtyThreeBitsIsNotTaken() async throws {
        let store = try fleetStore()
        try await withServer(store) { client in
            let object = try #require(try await client.call(.get, vds + "/reviews-global").json.objectValue)
            var metadata = object["metadata"]?.objectValue ?? JSONObject()
            metadata["generation"] = "18446744073709551615"
            metadata["name"] = "huge-generation"
            var root = object
            root["metadata"] = .object(metadata)
            root["status"] = nil
            let event = JSONText.string(["type": "ADDED", "object": .object(root)])
            let ingested = try await client.call(.post, "/v1/events?op=ingest", body: event)
            #expect(ingested.status == 200, "\(ingested.text)")
            let read = try await client.call(.get, vds + "/huge-generation")
            #expect(read.status == 200 && read.json[path: ["metadata", "generation"]] == 1, "\(read.text)")
            #expect(try await client.call(.get, "/v1/log?name=huge-generation").status == 200)
        }
    }

    /// A namespaces watch from a start older than the retention window is 410, as every watch.
    @Test func anExpiredNamespacesWatchIsGone() async throws {
        var configuration = ServerConfiguration()
        configuration.watchRetention = 2
        try await withServer(try fleetStore(), configuration: configuration) { client in
            let gone = try await client.call(.get, "/api/v1/namespaces?watch=1&resourceVersion=1&timeoutSeconds=1")
            #expect(gone.json["type"] == "ERROR" && gone.json[path: ["object", "code"]] == 410, "\(gone.text)")
        }
    }
}
