import EventLog
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MeshLedger
import MeshLedgerHTTP
import MeshLedgerTesting
import MeshModel
import NIOCore
import Testing

/// The Kubernetes API's rules, in process: each status code and shape a real API server gives.
@Suite struct KubernetesEndpointTests {
    let vds = "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/namespaces/bookinfo/virtualdestinations"

    func json(_ text: String) -> JSONValue { (try? JSONText.parse(Array(text.utf8))) ?? .null }

    @Test func discoveryNegotiatesAggregatedV2ByAccept() async throws {
        try await withServer(try fleetStore()) { client in
            let v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
            let aggregated = try await client.execute(uri: "/apis", method: .get, headers: [.accept: v2]) { $0 }
            #expect(
                aggregated.headers[.contentType]
                    == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            let groups = json(String(buffer: aggregated.body))["items"]?.arrayValue?.compactMap {
                $0[path: ["metadata", "name"]]?.stringValue
            }
            #expect(
                groups == [
                    "discovery.mesh.gloo.solo.io", "networking.mesh.gloo.solo.io",
                    "networking.enterprise.mesh.gloo.solo.io", "networking.istio.io", "authentication.k8s.io",
                    "authorization.k8s.io", "coordination.k8s.io", "events.k8s.io",
                ])
            // A client that asks only for v2beta1 gets the legacy shape, with a plain content type.
            let legacy = try await client.execute(
                uri: "/apis", method: .get,
                headers: [
                    .accept:
                        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
                ]
            ) { $0 }
            #expect(legacy.headers[.contentType] == "application/json")
            #expect(json(String(buffer: legacy.body))["kind"] == "APIGroupList")
            let resources = try await client.call(.get, "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1")
            let names = resources.json["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(names == ["virtualdestinations", "virtualdestinations/status"])
            #expect(resources.json["resources"]?.arrayValue?.first?["shortNames"] == ["vd"])
            #expect(
                try await client.call(.get, "/api/v1/namespaces/bookinfo").json[path: ["status", "phase"]] == "Active")
            #expect(try await client.call(.get, "/api/v1/namespaces/nowhere").status == 404)
            #expect(try await client.call(.get, "/version").json["major"] == "1")
        }
    }

    @Test func listsAtTheHeadExactlyInThePastAndInPages() async throws {
        let store = try fleetStore()
        let discovered = try store.log.head().sequence - 3
        try await withServer(store) { client in
            let now = try await client.call(.get, vds)
            #expect(now.json["kind"] == "VirtualDestinationList")
            #expect(now.json[path: ["metadata", "resourceVersion"]] == .string(String(try store.log.head().sequence)))
            #expect(now.json["items"]?.arrayValue?.count == 3)
            let past = try await client.call(.get, vds + "?resourceVersion=\(discovered)&resourceVersionMatch=Exact")
            #expect(past.json[path: ["metadata", "resourceVersion"]] == .string(String(discovered)))
            #expect(past.json["items"]?.arrayValue?.isEmpty == true)
            let future = try await client.call(.get, vds + "?resourceVersion=999999&resourceVersionMatch=Exact")
            #expect(future.status == 504 && future.json["reason"] == "Timeout")
            #expect(try await client.call(.get, vds + "?resourceVersionMatch=Exact").status == 422)
            var names: [String] = []
            var page = try await client.call(.get, vds + "?limit=2")
            names += page.json["items"]?.arrayValue?.compactMap { $0[path: ["metadata", "name"]]?.stringValue } ?? []
            let token = try #require(page.json[path: ["metadata", "continue"]]?.stringValue)
            #expect(page.json[path: ["metadata", "remainingItemCount"]] == 1)
            page = try await client.call(.get, vds + "?limit=2&continue=\(token)")
            names += page.json["items"]?.arrayValue?.compactMap { $0[path: ["metadata", "name"]]?.stringValue } ?? []
            #expect(names == ["productpage-global", "ratings-global", "reviews-global"])
            let labelled = try await client.call(.get, vds + "?labelSelector=app%3Dreviews")
            #expect(labelled.json["items"]?.arrayValue?.count == 1)
            let named = try await client.call(.get, vds + "?fieldSelector=metadata.name%3Dratings-global")
            #expect(named.json["items"]?.arrayValue?.first?[path: ["metadata", "name"]] == "ratings-global")
            let table = try await client.execute(
                uri: vds, method: .get, headers: [.accept: "application/json;as=Table;v=v1;g=meta.k8s.io"]
            ) { json(String(buffer: $0.body)) }
            let columns = table["columnDefinitions"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            #expect(columns?.prefix(5) == ["Name", "Hostname", "State", "Meshes", "Selected"])
            #expect(columns?.last == "Age")
            #expect(table["rows"]?.arrayValue?.first?[path: ["object", "kind"]] == "PartialObjectMetadata")
        }
    }

    @Test func writesFollowTheAPIServersRules() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let body = JSONText.string(
                try #require(try YAMLText.parseDocuments(virtualDestinationYAML("k8s", hostname: "k8s.global")).first)
                    .value)
            let created = try await client.call(.post, vds, body: body)
            #expect(created.status == 201, "\(created.text)")
            let exists = try await client.call(.post, vds, body: body)
            #expect(exists.status == 409 && exists.json["reason"] == "AlreadyExists")
            // PUT needs the resourceVersion.
            let put = try await client.call(.put, vds + "/k8s", body: body)
            #expect(put.status == 422 && put.json["reason"] == "Invalid")
            // A JSON patch whose test fails: 422, nothing written.
            let failedTest = try await client.call(
                .patch, vds + "/k8s",
                body: "[{\"op\": \"test\", \"path\": \"/metadata/resourceVersion\", \"value\": \"1\"}]",
                headers: [.contentType: "application/json-patch+json"])
            #expect(failedTest.status == 422)
            let rv = created.json[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
            let patched = try await client.call(
                .patch, vds + "/k8s",
                body:
                    "[{\"op\": \"test\", \"path\": \"/metadata/resourceVersion\", \"value\": \"\(rv)\"}, {\"op\": \"add\", \"path\": \"/metadata/finalizers\", \"value\": [\"x\"]}]",
                headers: [.contentType: "application/json-patch+json"])
            #expect(
                patched.status == 200 && patched.json[path: ["metadata", "finalizers"]] == ["x"], "\(patched.text)")
            // The derived status is MeshLedger's: a /status write that changes it is refused.
            let status = try await client.call(
                .patch, vds + "/k8s/status", body: "{\"status\": {\"state\": \"INVALID\"}}",
                headers: [.contentType: "application/merge-patch+json"])
            #expect(status.status == 422 && status.text.contains("status.state"), "\(status.text)")
            // An operator's own status fields are recorded (as its write) and served back beside the derived ones.
            let bookkeeping = try await client.call(
                .patch, vds + "/k8s/status", body: "{\"status\": {\"kopf\": {\"progress\": {\"h\": 1}}}}",
                headers: [.contentType: "application/merge-patch+json"])
            #expect(bookkeeping.status == 200, "\(bookkeeping.text)")
            #expect(bookkeeping.json[path: ["status", "kopf", "progress", "h"]] == 1)
            #expect(bookkeeping.json[path: ["status", "state"]] == "ACCEPTED")
            #expect(bookkeeping.json[path: ["metadata", "annotations"]] == nil)
            let served = try await client.call(.get, vds + "/k8s")
            #expect(served.json[path: ["status", "kopf", "progress", "h"]] == 1)
            let smp = try await client.call(
                .patch, vds + "/k8s", body: "{}", headers: [.contentType: "application/strategic-merge-patch+json"])
            #expect(smp.status == 415 && smp.json["reason"] == "UnsupportedMediaType")
            let apply = try await client.call(
                .patch, vds + "/k8s", body: "{}", headers: [.contentType: "application/apply-patch+yaml"])
            #expect(
                apply.status == 422
                    && apply.json["message"]
                        == "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                "\(apply.text)")
            let stale = try await client.call(
                .delete, vds + "/k8s", body: "{\"preconditions\": {\"resourceVersion\": \"1\"}}")
            #expect(stale.status == 409 && stale.json["reason"] == "Conflict")
            // Its finalizer holds the delete; removing it completes the delete.
            let held = try await client.call(.delete, vds + "/k8s")
            #expect(held.status == 200 && held.json[path: ["metadata", "deletionTimestamp"]] != nil, "\(held.text)")
            let released = try await client.call(
                .patch, vds + "/k8s", body: #"{"metadata":{"finalizers":[]}}"#,
                headers: [.contentType: "application/merge-patch+json"])
            #expect(released.status == 200, "\(released.text)")
            #expect(try await client.call(.get, vds + "/k8s").status == 404)
            _ = try await client.call(.post, vds, body: body)
            let deleted = try await client.call(.delete, vds + "/k8s")
            #expect(deleted.status == 200 && deleted.json["status"] == "Success")
            #expect(try await client.call(.get, vds + "/k8s").status == 404)
            let watchList = try await client.call(
                .get, vds + "?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")
            #expect(watchList.status == 422)
        }
        // create, patch, the operator's status, the deletion mark, the release (a delete), the
        // second create and its delete: seven events; every refusal appended nothing.
        #expect(try store.log.head().sequence == head + 7)
    }

    /// Server-side apply keeps field ownership: another manager's field set to another value is a
    /// conflict (409 with causes) unless forced; a field the applier stops applying is removed.
    @Test func serverSideApplyTracksFieldManagers() async throws {
        try await withServer(try fleetStore()) { client in
            let apply: HTTPFields = [.contentType: "application/apply-patch+yaml"]
            let document = virtualDestinationYAML("owned", hostname: "owned.global")
                .replacingOccurrences(
                    of: "metadata: {name: owned, namespace: bookinfo}",
                    with: "metadata: {name: owned, namespace: bookinfo, labels: {team: a, env: prod}}")
            let created = try await client.call(
                .patch, vds + "/owned?fieldManager=platform", body: document, headers: apply)
            #expect(created.status == 201, "\(created.text)")
            let patched = try await client.call(
                .patch, vds + "/owned?fieldManager=oncall", body: "{\"spec\": {\"hostname\": \"other.global\"}}",
                headers: [.contentType: "application/merge-patch+json"])
            #expect(patched.status == 200)
            let conflict = try await client.call(
                .patch, vds + "/owned?fieldManager=platform", body: document, headers: apply)
            #expect(conflict.status == 409, "\(conflict.text)")
            #expect(
                conflict.json["message"]
                    == "Apply failed with 1 conflict: conflict with \"oncall\" using networking.enterprise.mesh.gloo.solo.io/v1alpha1: .spec.hostname"
            )
            #expect(conflict.json[path: ["details", "causes"]]?.arrayValue?.first?["field"] == ".spec.hostname")
            let forced = try await client.call(
                .patch, vds + "/owned?fieldManager=platform&force=true", body: document, headers: apply)
            #expect(forced.status == 200 && forced.json[path: ["spec", "hostname"]] == "owned.global")
            let dropped = try await client.call(
                .patch, vds + "/owned?fieldManager=platform",
                body: document.replacingOccurrences(of: "team: a, ", with: ""), headers: apply)
            #expect(dropped.json[path: ["metadata", "labels"]] == ["env": "prod"], "\(dropped.text)")
            let managers = dropped.json[path: ["metadata", "managedFields"]]?.arrayValue?.compactMap {
                $0["manager"]?.stringValue
            }
            #expect(managers == ["platform"])

            // An apply of the values already there makes its manager a co-owner (an event), and
            // so a later change by another manager conflicts with both; the same apply again
            // changes nothing.
            let before = try await client.call(.get, vds + "/owned").json[path: ["metadata", "resourceVersion"]]
            let coOwner = try await client.call(
                .patch, vds + "/owned?fieldManager=gitops",
                body:
                    "apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1\nkind: VirtualDestination\nspec: {hostname: owned.global}",
                headers: apply)
            #expect(coOwner.status == 200, "\(coOwner.text)")
            #expect(coOwner.json[path: ["metadata", "resourceVersion"]] != before, "an ownership change is a change")
            let owners = coOwner.json[path: ["metadata", "managedFields"]]?.arrayValue?.compactMap {
                $0["manager"]?.stringValue
            }
            #expect(owners == ["platform", "gitops"], "\(coOwner.text)")
            let again = try await client.call(
                .patch, vds + "/owned?fieldManager=gitops",
                body:
                    "apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1\nkind: VirtualDestination\nspec: {hostname: owned.global}",
                headers: apply)
            #expect(
                again.json[path: ["metadata", "resourceVersion"]]
                    == coOwner.json[path: ["metadata", "resourceVersion"]])
            let contested = try await client.call(
                .patch, vds + "/owned?fieldManager=oncall",
                body:
                    "apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1\nkind: VirtualDestination\nspec: {hostname: x.global}",
                headers: apply)
            #expect(contested.status == 409 && contested.text.contains("gitops"), "\(contested.text)")
        }
    }

    /// A watch of the Istio outputs from a resourceVersion sends what changed since, at the
    /// sequence that changed it; watches with different selectors see the same objects (rendered
    /// once per commit for all of them).
    @Test func istioOutputWatchesSendWhatChangedAfterTheirResourceVersion() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            // reviews-global moves to port 9443: each target cluster's ServiceEntry changes.
            let edit = try text("\(fleet)/user/reviews-edit.yaml").replacingOccurrences(
                of: "number: 9080", with: "number: 9443")
            #expect(try await client.call(.post, "/v1/events?op=apply", body: edit).status == 200)
            let path =
                "/apis/networking.istio.io/v1alpha3/serviceentries?watch=true&resourceVersion=\(head)&timeoutSeconds=1"
            async let everyCluster = client.call(.get, path)
            async let clusterOne = client.call(.get, path + "&labelSelector=cluster.multicluster.solo.io%3Dcluster-1")
            func events(_ answer: Answer) -> [JSONValue] {
                answer.text.split(separator: "\n").map { (try? JSONText.parse(Array($0.utf8))) ?? .null }
            }
            let all = events(try await everyCluster)
            let one = events(try await clusterOne)
            #expect(all.count >= 2, "\(all)")
            for event in all {
                #expect(event["type"] == "MODIFIED" && event[path: ["object", "kind"]] == "ServiceEntry")
                #expect(event[path: ["object", "metadata", "name"]] == "reviews-global-bookinfo")
                #expect(event[path: ["object", "metadata", "resourceVersion"]] == .string(String(head + 1)))
                #expect(event[path: ["object", "spec", "ports"]]?.arrayValue?.first?["number"] == 9443)
            }
            let inClusterOne = all.filter {
                $0[path: ["object", "metadata", "labels", "cluster.multicluster.solo.io"]] == "cluster-1"
            }
            #expect(one == inClusterOne && one.count == 1)
        }
    }

    /// A live watch of every Istio output, folded (ADDED and MODIFIED put, DELETED remove), ends
    /// where a list ends, through commits that change, add, merge (two VirtualDestinations with
    /// one hostname) and remove outputs: the feed finds what changed from the VirtualDestinations
    /// that changed, not from every output, and must miss nothing.
    @Test func aLiveOutputWatchFoldsToTheList() async throws {
        try await withServer(try fleetStore()) { client in
            let kinds = ["serviceentries", "destinationrules"]
            func identity(_ object: JSONValue) -> String {
                "\(object["kind"]?.stringValue ?? "")/\(object[path: ["metadata", "namespace"]]?.stringValue ?? "")/"
                    + (object[path: ["metadata", "name"]]?.stringValue ?? "")
            }
            func content(_ object: JSONValue) -> JSONValue {
                guard case .object(var root) = object, case .object(var metadata)? = root["metadata"] else {
                    return object
                }
                metadata["resourceVersion"] = nil
                root["metadata"] = .object(metadata)
                return .object(root)
            }
            // As an informer: a list, then a watch from its resourceVersion (a watch that starts
            // after some of the writes below gets them as the difference since the list).
            var folded: [String: JSONValue] = [:]
            var listedAt: [String: String] = [:]
            for kind in kinds {
                let list = try await client.call(.get, "/apis/networking.istio.io/v1alpha3/\(kind)")
                listedAt[kind] = list.json[path: ["metadata", "resourceVersion"]]?.stringValue
                for item in list.json["items"]?.arrayValue ?? [] { folded[identity(item)] = item }
            }
            func watch(_ kind: String, from rv: String?, seconds: Int) async throws -> (String, Answer) {
                let path = "/apis/networking.istio.io/v1alpha3/\(kind)?watch=true&timeoutSeconds=\(seconds)"
                return (kind, try await client.call(.get, path + "&resourceVersion=\(rv ?? "")"))
            }
            let since = listedAt
            async let watches = withThrowingTaskGroup(of: (String, Answer).self) { group in
                for kind in kinds { group.addTask { try await watch(kind, from: since[kind] ?? nil, seconds: 8) } }
                var answers: [(String, Answer)] = []
                for try await answer in group { answers.append(answer) }
                return answers
            }
            try await Task.sleep(for: .milliseconds(300))
            let edit = try text("\(fleet)/user/reviews-edit.yaml").replacingOccurrences(
                of: "number: 9080", with: "number: 9443")
            let writes: [(String, String)] = [
                ("apply", edit),
                ("apply", virtualDestinationYAML("extra", hostname: "extra.global")),
                ("apply", virtualDestinationYAML("twin", hostname: "reviews.global")),
                ("delete", virtualDestinationYAML("extra", hostname: "extra.global")),
                ("apply", virtualDestinationYAML("other", hostname: "other.global")),
                ("delete", virtualDestinationYAML("twin", hostname: "reviews.global")),
            ]
            for (op, body) in writes {
                let answer = try await client.call(.post, "/v1/events?op=\(op)", body: body)
                #expect(answer.status == 200, "\(answer.text)")
            }
            var types: Set<String> = []
            var resumeAt = listedAt
            func fold(_ kind: String, _ answer: Answer) throws {
                for line in answer.text.split(separator: "\n") {
                    let event = try JSONText.parse(Array(line.utf8))
                    #expect(JSONText.canonical(event) == Array(line.utf8), "each line is canonical JSON")
                    let object = try #require(event["object"])
                    let type = event["type"]?.stringValue ?? ""
                    types.insert(type)
                    if type == "DELETED" { folded[identity(object)] = nil } else { folded[identity(object)] = object }
                    resumeAt[kind] = object[path: ["metadata", "resourceVersion"]]?.stringValue
                }
            }
            for (kind, answer) in try await watches { try fold(kind, answer) }
            // As an informer does when its watch ends: watch again from the last resourceVersion
            // (on a loaded machine the first watches may end before the last writes).
            for kind in kinds { try fold(kind, try await watch(kind, from: resumeAt[kind] ?? nil, seconds: 1).1) }
            // (A watch that starts after the writes gets no DELETED: what they added and removed
            // again is no difference.)
            #expect(types.isSuperset(of: ["ADDED", "MODIFIED"]), "\(types)")
            var listed: [String: JSONValue] = [:]
            for kind in kinds {
                let list = try await client.call(.get, "/apis/networking.istio.io/v1alpha3/\(kind)")
                for item in list.json["items"]?.arrayValue ?? [] { listed[identity(item)] = item }
            }
            #expect(!listed.isEmpty)
            #expect(Set(folded.keys) == Set(listed.keys))
            for (key, item) in listed { #expect(folded[key].map(content) == content(item), "\(key)") }
            #expect(listed["ServiceEntry/istio-system/other-bookinfo"] != nil, "\(listed.keys.sorted())")
        }
    }

    /// `/v1/audit/events?follow=true` sends the selected changes, then each new one as it
    /// commits.
    @Test func theAuditStreamFollowsNewChanges() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            // It ends with the change after the head (until), or after a minute.
            async let followed = client.call(
                .get, "/v1/audit/events?follow=true&timeoutSeconds=60&kind=vd&until=\(head + 1)")
            try await Task.sleep(for: .milliseconds(500))
            let answer = try await client.call(
                .post, "/v1/events?op=apply", body: virtualDestinationYAML("followed", hostname: "followed.global"))
            #expect(answer.status == 200)
            let lines = try await followed.text.split(separator: "\n").map { try JSONText.parse(Array($0.utf8)) }
            #expect(lines.allSatisfy { $0[path: ["objectRef", "resource"]] == "virtualdestinations" })
            #expect(lines.count > 1 && Int(head) > lines.count)
            let last = try #require(lines.last)
            #expect(last[path: ["objectRef", "name"]] == "followed" && last["verb"] == "create", "\(last)")
        }
    }

    @Test func istioOutputsAreReadOnlyResourcesSelectableByCluster() async throws {
        try await withServer(try fleetStore()) { client in
            let base = "/apis/networking.istio.io/v1alpha3"
            let entries = try await client.call(
                .get, base + "/serviceentries?labelSelector=cluster.multicluster.solo.io%3Dcluster-1")
            let items = try #require(entries.json["items"]?.arrayValue)
            #expect(!items.isEmpty && items.allSatisfy { $0["kind"] == "ServiceEntry" })
            #expect(
                items.allSatisfy { $0[path: ["metadata", "labels", "cluster.multicluster.solo.io"]] == "cluster-1" })
            let refused = try await client.call(.post, base + "/namespaces/istio-system/serviceentries", body: "{}")
            #expect(refused.status == 405 && refused.json["kind"] == "Status")
            let name = try #require(items.first?[path: ["metadata", "name"]]?.stringValue)
            #expect(try await client.call(.get, base + "/namespaces/istio-system/serviceentries/\(name)").status == 200)
        }
    }

    /// A PUT whose body has no managedFields keeps the recorded ownership (an explicit empty list
    /// resets it), as kube-apiserver does; an Invalid names the kind in its details.
    @Test func anUpdateWithoutManagedFieldsKeepsTheirOwnership() async throws {
        try await withServer(try fleetStore()) { client in
            let applied = try await client.call(
                .patch, vds + "/reviews-global?fieldManager=alice",
                body:
                    "apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1\nkind: VirtualDestination\nmetadata: {labels: {owner: alice}}\n",
                headers: [.contentType: "application/apply-patch+yaml"])
            #expect(applied.status == 200, "\(applied.text)")
            guard case .object(var root) = applied.json, case .object(var metadata)? = root["metadata"] else {
                Issue.record("no object: \(applied.text)")
                return
            }
            metadata["managedFields"] = nil
            metadata["annotations"] = ["note": "put without managedFields"]
            root["metadata"] = .object(metadata)
            root["status"] = nil
            let put = try await client.call(.put, vds + "/reviews-global", body: JSONText.string(.object(root)))
            #expect(put.status == 200, "\(put.text)")
            let managers = put.json[path: ["metadata", "managedFields"]]?.arrayValue?.compactMap {
                $0["manager"]?.stringValue
            }
            #expect(managers?.contains("alice") == true, "\(put.text)")
            let invalid = try await client.call(
                .patch, vds + "/reviews-global", body: #"{"spec":{"port":{"number":"not a number"}}}"#,
                headers: [.contentType: "application/merge-patch+json"])
            #expect(
                invalid.status == 422 && invalid.json[path: ["details", "kind"]] == "VirtualDestination",
                "\(invalid.text)")
        }
    }

    /// Namespaces are watched as discovery advertises (kopf -n and kubectl get ns -w watch them):
    /// ADDED for each at the start, then for each one a later event names first.
    @Test func namespacesAreWatchedAsAdvertised() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            func events(_ answer: Answer) -> [JSONValue] {
                answer.text.split(separator: "\n").map { (try? JSONText.parse(Array($0.utf8))) ?? .null }
            }
            let seen = events(try await client.call(.get, "/api/v1/namespaces?watch=1&timeoutSeconds=1"))
            #expect(
                seen.allSatisfy { $0["type"] == "ADDED" && $0[path: ["object", "kind"]] == "Namespace" }, "\(seen)")
            let names = seen.compactMap { $0[path: ["object", "metadata", "name"]]?.stringValue }
            #expect(names.contains("bookinfo") && !names.contains("newteam"), "\(names)")
            let elsewhere = virtualDestinationYAML("newcomer", hostname: "newcomer.global").replacingOccurrences(
                of: "namespace: bookinfo}", with: "namespace: newteam}")
            #expect(try await client.call(.post, "/v1/events?op=apply", body: elsewhere).status == 200)
            let later = events(
                try await client.call(.get, "/api/v1/namespaces?watch=1&resourceVersion=\(head)&timeoutSeconds=1"))
            #expect(later.compactMap { $0[path: ["object", "metadata", "name"]]?.stringValue } == ["newteam"])
            #expect(later.last?[path: ["object", "metadata", "resourceVersion"]] == .string(String(head + 1)))
        }
    }

    /// A label-filtered watch follows objects into and out of its selector, as kube-apiserver's
    /// does: ADDED when one starts matching, DELETED (with the last matching object, at the new
    /// resourceVersion) when it stops, MODIFIED while it matches.
    @Test func aSelectorWatchSeesObjectsStartAndStopMatching() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let merge: HTTPFields = [.contentType: "application/merge-patch+json"]
            let joins = try await client.call(
                .patch, vds + "/ratings-global", body: #"{"metadata":{"labels":{"app":"reviews"}}}"#, headers: merge)
            #expect(joins.status == 200, "\(joins.text)")
            let leaves = try await client.call(
                .patch, vds + "/reviews-global", body: #"{"metadata":{"labels":{"app":"other"}}}"#, headers: merge)
            #expect(leaves.status == 200)
            let stays = try await client.call(
                .patch, vds + "/ratings-global", body: #"{"metadata":{"annotations":{"note":"x"}}}"#, headers: merge)
            #expect(stays.status == 200)
            // Watched from `head` after the changes: they are replayed, whatever the machine's load.
            let watch = try await client.call(
                .get, vds + "?watch=1&labelSelector=app%3Dreviews&resourceVersion=\(head)&timeoutSeconds=1")
            let seen = watch.text.split(separator: "\n").map { (try? JSONText.parse(Array($0.utf8))) ?? .null }
            let summary = seen.map {
                "\($0["type"]?.stringValue ?? "") \($0[path: ["object", "metadata", "name"]]?.stringValue ?? "")"
            }
            #expect(
                summary == ["ADDED ratings-global", "DELETED reviews-global", "MODIFIED ratings-global"], "\(summary)")
            let deleted = seen.first { $0["type"] == "DELETED" }
            #expect(deleted?[path: ["object", "metadata", "labels", "app"]] == "reviews")
            #expect(deleted?[path: ["object", "metadata", "resourceVersion"]] == .string(String(head + 2)))
        }
    }

    /// A dry run answers what the write would store, with the server's metadata and the status, so
    /// `kubectl diff` shows only the change; nothing is written.
    @Test func dryRunsAnswerTheObjectAsItWouldBeServed() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let merge: HTTPFields = [.contentType: "application/merge-patch+json"]
            let live = try await client.call(.get, vds + "/reviews-global").json
            let labelled = try await client.call(
                .patch, vds + "/reviews-global?dryRun=All", body: #"{"metadata":{"labels":{"tier":"gold"}}}"#,
                headers: merge)
            #expect(labelled.status == 200, "\(labelled.text)")
            guard case .object(var answer) = labelled.json, case .object(var metadata)? = answer["metadata"] else {
                Issue.record("\(labelled.text)")
                return
            }
            #expect(metadata["labels"]?["tier"] == "gold")
            // Everything else is the live object: uid, resourceVersion, generation, status.
            var labels = metadata["labels"]?.objectValue ?? JSONObject()
            labels["tier"] = nil
            metadata["labels"] = .object(labels)
            metadata["managedFields"] = live[path: ["metadata", "managedFields"]]
            answer["metadata"] = .object(metadata)
            #expect(JSONValue.object(answer) == live, "\(answer)")
            let respecced = try await client.call(
                .patch, vds + "/reviews-global?dryRun=All", body: #"{"spec":{"port":{"number":9443}}}"#,
                headers: merge)
            #expect(
                respecced.json[path: ["metadata", "generation"]]?.intValue
                    == (live[path: ["metadata", "generation"]]?.intValue ?? 0) + 1)
            let created = try await client.call(
                .post, vds + "?dryRun=All",
                body: JSONText.string([
                    "metadata": ["name": "dry"],
                    "spec": live["spec"] ?? .null,
                ]))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json[path: ["metadata", "uid"]]?.stringValue?.count == 36)
            #expect(created.json[path: ["metadata", "creationTimestamp"]] != nil)
            #expect(created.json[path: ["metadata", "generation"]] == 1)
            #expect(try await client.call(.get, vds + "/dry").status == 404)
        }
        #expect(try store.log.head().sequence == head)
    }

    /// deletecollection (controller-runtime's `DeleteAllOf`): what the selectors select in the
    /// namespace, in one batch; dry-run deletes nothing; the answer lists what was deleted.
    @Test func deleteCollectionDeletesWhatTheSelectorsSelect() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let dry = try await client.call(.delete, vds + "?labelSelector=app+in+(reviews,ratings)&dryRun=All")
            #expect(dry.status == 200, "\(dry.text)")
            #expect(dry.json["items"]?.arrayValue?.count == 2)
            #expect(try store.log.head().sequence == head)
            let none = try await client.call(.delete, vds + "?labelSelector=app%3Dnothing")
            #expect(none.status == 200 && none.json["items"] == [])
            #expect(try store.log.head().sequence == head)
            let bad = try await client.call(.delete, vds + "?labelSelector=!!!")
            #expect(bad.status == 400 || bad.status == 422, "\(bad.text)")
            let deleted = try await client.call(.delete, vds + "?labelSelector=app+in+(reviews,ratings)")
            #expect(deleted.status == 200, "\(deleted.text)")
            #expect(deleted.json["kind"] == "VirtualDestinationList")
            let names = deleted.json["items"]?.arrayValue?.compactMap { $0[path: ["metadata", "name"]]?.stringValue }
            #expect(names == ["ratings-global", "reviews-global"])
            // One batch: two delete events, at consecutive sequences.
            #expect(try store.log.head().sequence == head + 2)
            let left = try await client.call(.get, vds)
            #expect(
                left.json["items"]?.arrayValue?.compactMap { $0[path: ["metadata", "name"]]?.stringValue } == [
                    "productpage-global"
                ])
            let discovery = try await client.call(.get, "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1")
            #expect(discovery.text.contains("deletecollection"))
        }
    }

    /// A schema problem is an Invalid Status whose causes name the field, as kube-apiserver's
    /// structural validation names it (not `spec`).
    @Test func anInvalidObjectsCausesNameItsFields() async throws {
        try await withServer(try fleetStore()) { client in
            let yaml = virtualDestinationYAML("bad", hostname: "bad.global").replacingOccurrences(
                of: "number: 9080", with: "number: \"x\"")
            let body = JSONText.string(try #require(try YAMLText.parseDocuments(yaml).first).value)
            let invalid = try await client.call(.post, vds, body: body)
            #expect(invalid.status == 422, "\(invalid.text)")
            let causes = invalid.json[path: ["details", "causes"]]?.arrayValue ?? []
            #expect(causes.first?["field"] == "spec.port.number", "\(invalid.text)")
            #expect(
                invalid.json["message"]?.stringValue?.hasPrefix(
                    "VirtualDestination.networking.enterprise.mesh.gloo.solo.io \"bad\" is invalid: spec.port.number: ")
                    == true, "\(invalid.text)")
        }
    }

    /// Finalizers hold a delete as on kube-apiserver: the object is marked and stays (MODIFIED),
    /// a deleting object takes no new finalizer, and the write that removes the last one deletes
    /// it (DELETED). The deletion mark is the server's: no write sets or clears it.
    @Test func finalizersHoldADeleteUntilTheLastOneIsRemoved() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let merge: HTTPFields = [.contentType: "application/merge-patch+json"]
            let vd = vds + "/reviews-global"
            let held = try await client.call(
                .patch, vd,
                body:
                    #"{"metadata":{"finalizers":["example.com/a","example.com/b"],"deletionTimestamp":"2020-01-01T00:00:00Z"}}"#,
                headers: merge)
            #expect(held.status == 200, "\(held.text)")
            #expect(held.json[path: ["metadata", "deletionTimestamp"]] == nil, "a client cannot mark an object")
            let deleting = try await client.call(.delete, vd)
            #expect(deleting.status == 200, "\(deleting.text)")
            #expect(deleting.json["kind"] == "VirtualDestination", "the answer is the object: \(deleting.text)")
            let mark = deleting.json[path: ["metadata", "deletionTimestamp"]]?.stringValue
            #expect(mark.flatMap(RFC3339.parse) != nil, "\(deleting.text)")
            #expect(deleting.json[path: ["metadata", "deletionGracePeriodSeconds"]] == 0)
            let still = try await client.call(.get, vd)
            #expect(still.status == 200 && still.json[path: ["metadata", "deletionTimestamp"]]?.stringValue == mark)
            #expect(still.json[path: ["status", "state"]] != nil, "a deleting object is still derived")
            // A second delete changes nothing; a new finalizer is refused, with kube-apiserver's words.
            #expect(try await client.call(.delete, vd).status == 200)
            let added = try await client.call(
                .patch, vd, body: #"{"metadata":{"finalizers":["example.com/a","example.com/b","example.com/c"]}}"#,
                headers: merge)
            #expect(added.status == 422, "\(added.text)")
            #expect(added.json[path: ["details", "causes"]]?.arrayValue?.first?["field"] == "metadata.finalizers")
            #expect(
                added.json["message"]?.stringValue?.hasSuffix(
                    #"no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/c"}"#
                ) == true, "\(added.text)")
            // Removing one keeps the mark (a write cannot clear it); removing the last deletes.
            let one = try await client.call(
                .patch, vd, body: #"{"metadata":{"finalizers":["example.com/b"],"deletionTimestamp":null}}"#,
                headers: merge)
            #expect(one.status == 200 && one.json[path: ["metadata", "deletionTimestamp"]]?.stringValue == mark)
            let last = try await client.call(.patch, vd, body: #"{"metadata":{"finalizers":null}}"#, headers: merge)
            #expect(last.status == 200, "\(last.text)")
            #expect(last.json[path: ["metadata", "deletionTimestamp"]]?.stringValue == mark)
            #expect(try await client.call(.get, vd).status == 404)
            let watch = try await client.call(.get, vds + "?watch=1&resourceVersion=\(head)&timeoutSeconds=1")
            let types = watch.text.split(separator: "\n").compactMap { line -> String? in
                let event = try? JSONText.parse(Array(line.utf8))
                return event?[path: ["object", "metadata", "name"]] == "reviews-global"
                    ? event?["type"]?.stringValue : nil
            }
            #expect(types == ["MODIFIED", "MODIFIED", "MODIFIED", "DELETED"], "\(watch.text)")
        }
        // Finalizers, the mark, one removal, the delete: four events; the refused write none.
        #expect(try store.log.head().sequence == head + 4)
    }

    /// `meshledger delete` (the CLI's use case) and a recording of a cluster: the first honors
    /// finalizers like any client; the second takes the cluster's word that the object is gone.
    @Test func finalizersHoldTheCommandLinesDeleteButNotARecordedOne() throws {
        let store = try fleetStore()
        let key = ObjectKey(kind: .virtualDestination, namespace: "bookinfo", name: "reviews-global")
        var object = try #require(try store.storedObject(key))
        if case .object(var root) = object, case .object(var metadata)? = root["metadata"] {
            metadata["finalizers"] = ["example.com/a"]
            metadata["resourceVersion"] = nil
            root["metadata"] = .object(metadata)
            object = .object(root)
        }
        _ = try store.append(try Batch.apply([try Manifest(object: object)], actor: "alice"))
        let marked = try store.append(try Batch.delete([Batch.DeleteTarget(key)], actor: "alice"))
        #expect(marked.outcomes.first?.outcome == .deleting)
        #expect(try store.storedObject(key)?[path: ["metadata", "deletionTimestamp"]] != nil)
        let recorded = Batch.ingest(
            [ManifestReader.WatchEvent(type: .deleted, manifest: try Manifest(object: object))], actor: "recorder")
        #expect(try store.append(recorded).outcomes.first?.outcome == .deleted)
        #expect(try store.storedObject(key) == nil)
    }

    /// The audit log credits each change to the client that made it: a field removal by
    /// `kubectl annotate note-` is kubectl-annotate's, though its managedFields entry goes with
    /// the field and another manager's entry is the latest.
    @Test func eachChangeIsCreditedToTheClientThatMadeIt() async throws {
        let store = try fleetStore()
        try await withServer(store) { client in
            let merge: HTTPFields = [.contentType: "application/merge-patch+json", .userAgent: "kubectl/v1.32.0"]
            let vd = vds + "/reviews-global"
            let added = try await client.call(
                .patch, vd + "?fieldManager=kopf", body: #"{"metadata":{"annotations":{"note":"x"}}}"#, headers: merge)
            #expect(added.status == 200, "\(added.text)")
            let removed = try await client.call(
                .patch, vd + "?fieldManager=kubectl-annotate", body: #"{"metadata":{"annotations":{"note":null}}}"#,
                headers: merge)
            #expect(removed.status == 200, "\(removed.text)")
            #expect(try await client.call(.delete, vd, headers: [.userAgent: "kubectl/v1.32.0"]).status == 200)
        }
        let head = try store.log.head().sequence
        let events = try ((head - 2)...head).compactMap { try store.log.event(at: $0) }
        #expect(events.map(\.fieldManager) == ["kopf", "kubectl-annotate", "kubectl"])
        #expect(events.map { EventJSON.value(of: $0)["fieldManager"] } == ["kopf", "kubectl-annotate", "kubectl"])
        // The removal left kopf's entry the latest one: the object alone would credit kopf.
        #expect(Manifest.lastFieldManager(of: events[1].object) != "kubectl-annotate")
    }

    /// A VirtualDestination whose derived status changes through another object's event is
    /// served at that event's resourceVersion, byte for byte the same object whether read live,
    /// sent by a watch, listed `Exact` at that point later, or read after a restart.
    @Test func aPositionGivesTheSameObjectLiveLaterAndAfterARestart() async throws {
        let store = try fleetStore()
        let body = JSONText.string(
            try #require(
                try YAMLText.parseDocuments(virtualDestinationYAML("waiting", hostname: "reviews.global")).first
            )
            .value)
        let (live, watched, exact) = try await withServer(store) { client in
            let created = try await client.call(.post, vds, body: body)
            let written = try #require(created.json[path: ["metadata", "resourceVersion"]]?.stringValue)
            // The hostname's holder goes: the waiting one is accepted at that delete's sequence.
            #expect(try await client.call(.delete, vds + "/reviews-global").status == 200)
            let live = try await client.call(.get, vds + "/waiting").json
            let watch = try await client.call(.get, vds + "?watch=1&resourceVersion=\(written)&timeoutSeconds=1")
            let watched = watch.text.split(separator: "\n").compactMap { try? JSONText.parse(Array($0.utf8)) }
                .last { $0[path: ["object", "metadata", "name"]] == "waiting" }?["object"]
            let at = live[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
            let list = try await client.call(.get, vds + "?resourceVersion=\(at)&resourceVersionMatch=Exact").json
            let exact = list["items"]?.arrayValue?.first { $0[path: ["metadata", "name"]] == "waiting" }
            #expect(at != written, "the status changed after the write: \(live)")
            return (live, watched, exact)
        }
        #expect(watched == live)
        #expect(exact == live)
        let restarted = try await withServer(store) { client in try await client.call(.get, vds + "/waiting").json }
        #expect(restarted == live)
    }

    /// A DELETED event carries the object's last state, its derived status included; a
    /// namespace has a creationTimestamp: when the log first named it.
    @Test func deletedEventsCarryTheLastStatusAndNamespacesTheirCreation() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client in
            let last = try await client.call(.get, vds + "/ratings-global").json["status"]
            #expect(last?["state"] != nil)
            #expect(try await client.call(.delete, vds + "/ratings-global").status == 200)
            let watch = try await client.call(.get, vds + "?watch=1&resourceVersion=\(head)&timeoutSeconds=1")
            let deleted = watch.text.split(separator: "\n").compactMap { try? JSONText.parse(Array($0.utf8)) }
                .first { $0["type"] == "DELETED" }
            #expect(deleted?[path: ["object", "status"]] == last, "\(watch.text)")
            let namespace = try await client.call(.get, "/api/v1/namespaces/bookinfo").json
            let created = namespace[path: ["metadata", "creationTimestamp"]]?.stringValue
            let first = try (1...head).lazy.compactMap { try store.log.event(at: $0) }
                .first { $0.key.namespace == "bookinfo" }.map { RFC3339.formatSeconds($0.recordedAt) }
            #expect(created != nil && created == first, "\(namespace)")
            let list = try await client.call(.get, "/api/v1/namespaces").json["items"]?.arrayValue ?? []
            #expect(list.allSatisfy { $0[path: ["metadata", "creationTimestamp"]] != nil }, "\(list)")
        }
    }

    /// Fields the structural schema does not declare, as kube-apiserver treats them:
    /// `fieldValidation=Strict` (kubectl's) refuses the write with kube-apiserver's message, `Warn`
    /// (the default) drops them with a Warning header each, `Ignore` drops them silently.
    @Test func unknownFieldsFollowFieldValidation() async throws {
        let store = try fleetStore()
        try await withServer(store) { client in
            let yaml = virtualDestinationYAML("extra", hostname: "extra.global")
                .replacingOccurrences(of: "protocol: HTTP}", with: "protocol: HTTP, nmber: 1}")
                .replacingOccurrences(of: "metadata: {name: extra,", with: "metadata: {lables: {a: b}, name: extra,")
            let body = JSONText.string(try #require(try YAMLText.parseDocuments(yaml).first).value)
            let strict = try await client.call(.post, vds + "?fieldValidation=Strict", body: body)
            #expect(strict.status == 400 && strict.json["reason"] == "BadRequest", "\(strict.text)")
            #expect(
                strict.json["message"]
                    == #"VirtualDestination in version "v1alpha1" cannot be handled as a VirtualDestination: strict decoding error: unknown field "metadata.lables", unknown field "spec.port.nmber""#,
                "\(strict.text)")
            #expect(try await client.call(.get, vds + "/extra").status == 404)

            let warned = try await client.execute(uri: vds, method: .post, body: ByteBuffer(string: body)) { $0 }
            #expect(warned.status.code == 201)
            #expect(
                warned.headers[values: HTTPField.Name("Warning")!] == [
                    #"299 - "unknown field \"metadata.lables\"""#, #"299 - "unknown field \"spec.port.nmber\"""#,
                ])
            let stored = try await client.call(.get, vds + "/extra").json
            #expect(stored[path: ["spec", "port", "nmber"]] == nil && stored[path: ["metadata", "lables"]] == nil)

            // A merge patch that adds one: refused under Strict, dropped silently under Ignore.
            let merge: HTTPFields = [.contentType: "application/merge-patch+json"]
            let patch = #"{"spec":{"hostnme":"x"}}"#
            let refused = try await client.call(
                .patch, vds + "/extra?fieldValidation=Strict", body: patch, headers: merge)
            #expect(
                refused.status == 400 && refused.text.contains(#"unknown field \"spec.hostnme\""#), "\(refused.text)")
            let ignored = try await client.execute(
                uri: vds + "/extra?fieldValidation=Ignore", method: .patch, headers: merge,
                body: ByteBuffer(string: patch)
            ) { $0 }
            #expect(ignored.status.code == 200 && ignored.headers[values: HTTPField.Name("Warning")!].isEmpty)
            // Server-side apply: the applied configuration's unknown fields are refused under Strict.
            let applied = try await client.call(
                .patch, vds + "/extra?fieldManager=gitops&fieldValidation=Strict",
                body:
                    "apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1\nkind: VirtualDestination\nspec: {hostnme: y}",
                headers: [.contentType: "application/apply-patch+yaml"])
            #expect(applied.status == 400 && applied.text.contains("spec.hostnme"), "\(applied.text)")

            // /v1 applies as `meshledger apply` does: Strict unless told.
            let v1 = try await client.call(.post, "/v1/events?op=apply", body: yaml)
            #expect(v1.status == 400 && v1.text.contains("strict decoding error"), "\(v1.text)")
            let v1Warned = try await client.call(.post, "/v1/events?op=apply&fieldValidation=Warn", body: yaml)
            #expect(v1Warned.status == 200, "\(v1Warned.text)")
            #expect(v1Warned.json["warnings"]?.arrayValue?.count == 2, "\(v1Warned.text)")
        }
    }
}
