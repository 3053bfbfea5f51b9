import EventLog
import Foundation
import Hummingbird
import HummingbirdTesting
import MeshLedger
import MeshLedgerHTTP
import MeshLedgerTesting
import MeshModel
import Testing

/// ABAC as kube-apiserver evaluates it, its 403s, the request attributes it derives, and
/// impersonation.
@Suite struct AuthorizationTests {
    static let group = "networking.enterprise.mesh.gloo.solo.io"
    static let vds = "/apis/\(group)/v1alpha1/namespaces/bookinfo/virtualdestinations"

    /// alice (platform), bob (viewers), root (system:masters).
    static let tokens = """
        alice-token,alice,1,"platform"
        bob-token,bob,2,"viewers"
        root-token,root,3,"system:masters"
        forger-token,forger,4,"platform,meshledger.dev/impersonated-by=someone"
        """

    static let alice: HTTPFields = [.authorization: "Bearer alice-token"]
    static let bob: HTTPFields = [.authorization: "Bearer bob-token"]
    static let root: HTTPFields = [.authorization: "Bearer root-token"]

    /// A configuration with the tokens above and `policies` (one a line, as `spec` objects).
    func configuration(_ specs: [String], name: String = #function) throws -> ServerConfiguration {
        let directory = temporaryDirectory(name)
        try Self.tokens.write(toFile: directory + "/tokens.csv", atomically: true, encoding: .utf8)
        let lines = specs.map {
            #"{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": \#($0)}"#
        }
        try lines.joined(separator: "\n").write(toFile: directory + "/policy.jsonl", atomically: true, encoding: .utf8)
        var configuration = ServerConfiguration()
        try configuration.access.addTokenFile(directory + "/tokens.csv")
        try configuration.access.addPolicyFile(directory + "/policy.jsonl")
        return configuration
    }

    func vdJSON(_ name: String) throws -> String {
        JSONText.string(
            try #require(try YAMLText.parseDocuments(virtualDestinationYAML(name, hostname: "\(name).global")).first)
                .value)
    }

    @Test func policyLinesAreReadAsKubeReadsThem() async throws {
        let directory = temporaryDirectory()
        func load(_ line: String) throws {
            try line.write(toFile: directory + "/policy.jsonl", atomically: true, encoding: .utf8)
            var access = AccessControl()
            try access.addPolicyFile(directory + "/policy.jsonl")
        }
        // Without apiVersion and kind kube reads a line as v0, whose unset fields mean everything:
        // a v1beta1 spec without them, or another apiVersion, is refused rather than widened.
        #expect(throws: AccessError.self) { try load(#"{"spec": {"user": "alice", "nonResourcePath": "/x"}}"#) }
        #expect(throws: AccessError.self) {
            try load(#"{"apiVersion": "abac.authorization.kubernetes.io/v2", "kind": "Policy", "spec": {}}"#)
        }
        #expect(throws: AccessError.self) {
            try load(
                #"{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"readonly": "yes"}}"#
            )
        }
        // A v0 line: unset namespace and resource mean all of them, in every API group, and paths.
        try Self.tokens.write(toFile: directory + "/tokens.csv", atomically: true, encoding: .utf8)
        try #"{"user": "alice", "readonly": true}"#.write(
            toFile: directory + "/policy.jsonl", atomically: true, encoding: .utf8)
        var configuration = ServerConfiguration()
        try configuration.access.addTokenFile(directory + "/tokens.csv")
        try configuration.access.addPolicyFile(directory + "/policy.jsonl")
        try await withServer(try fleetStore(), configuration: configuration) { client throws in
            #expect(try await client.call(.get, Self.vds, headers: Self.alice).status == 200)
            #expect(try await client.call(.get, "/apis", headers: Self.alice).status == 200)
            #expect(try await client.call(.get, Self.vds, headers: Self.bob).status == 403)
            let write = try await client.call(.post, Self.vds, body: try vdJSON("v0"), headers: Self.alice)
            #expect(write.status == 403)
        }
    }

    @Test func aLineNamingAUserAndAGroupNeedsBoth() async throws {
        let configuration = try configuration([
            #"{"user": "alice", "group": "viewers", "namespace": "*", "resource": "*", "apiGroup": "*"}"#
        ])
        try await withServer(try fleetStore(), configuration: configuration) { client throws in
            #expect(try await client.call(.get, Self.vds, headers: Self.alice).status == 403)
            #expect(try await client.call(.get, Self.vds, headers: Self.bob).status == 403)
        }
    }

    @Test func kubesDocumentedDiscoveryLineLetsEveryAuthenticatedCallerDiscover() async throws {
        let configuration = try configuration([
            #"{"group": "system:authenticated", "readonly": true, "nonResourcePath": "*"}"#,
            #"{"user": "*", "readonly": true, "nonResourcePath": "/v1/*"}"#,
        ])
        try await withServer(try fleetStore(), configuration: configuration) { client throws in
            #expect(try await client.call(.get, "/apis", headers: Self.alice).status == 200)
            #expect(try await client.call(.get, "/api", headers: Self.bob).status == 200)
            #expect(try await client.call(.get, "/v1/log?kind=vd", headers: Self.bob).status == 200)
            // Read-only, and not resources.
            #expect(try await client.call(.get, Self.vds, headers: Self.alice).status == 403)
            let write = try await client.call(
                .post, "/v1/events?op=apply", body: virtualDestinationYAML("w", hostname: "w.global"),
                headers: Self.alice)
            #expect(write.status == 403)
        }
    }

    @Test func unsetNamespaceResourceAndAPIGroupMatchOnlyTheEmptyValue() async throws {
        let configuration = try configuration([
            #"{"user": "alice", "resource": "*", "apiGroup": "*", "readonly": true}"#,
            #"{"user": "bob", "namespace": "*", "resource": "*", "readonly": true}"#,
        ])
        try await withServer(try fleetStore(), configuration: configuration) { client throws in
            // No namespace: cluster-scoped requests only (a list across all namespaces is one).
            #expect(try await client.call(.get, Self.vds, headers: Self.alice).status == 403)
            #expect(
                try await client.call(.get, "/apis/\(Self.group)/v1alpha1/virtualdestinations", headers: Self.alice)
                    .status == 200)
            // No apiGroup: the core group only.
            #expect(try await client.call(.get, "/api/v1/namespaces", headers: Self.bob).status == 200)
            #expect(try await client.call(.get, Self.vds, headers: Self.bob).status == 403)
        }
    }

    @Test func systemMastersMayDoAnythingWhateverThePolicy() async throws {
        let configuration = try configuration([#"{"user": "alice", "nonResourcePath": "/healthz"}"#])
        try await withServer(try fleetStore(), configuration: configuration) { client throws in
            #expect(try await client.call(.get, Self.vds, headers: Self.root).status == 200)
            let created = try await client.call(.post, Self.vds, body: try vdJSON("masters"), headers: Self.root)
            #expect(created.status == 201, "\(created.text)")
            #expect(try await client.call(.get, Self.vds, headers: Self.alice).status == 403)
        }
    }

    @Test func forbiddenIsKubeAPIServersStatus() async throws {
        let configuration = try configuration([#"{"user": "alice", "nonResourcePath": "/healthz"}"#])
        try await withServer(try fleetStore(), configuration: configuration) { client throws in
            let listed = try await client.call(
                .get, "/apis/\(Self.group)/v1alpha1/namespaces/x/virtualdestinations", headers: Self.alice)
            #expect(listed.status == 403)
            #expect(
                listed.json["message"]?.stringValue
                    == #"virtualdestinations.networking.enterprise.mesh.gloo.solo.io is forbidden: User "alice" cannot list resource "virtualdestinations" in API group "networking.enterprise.mesh.gloo.solo.io" in the namespace "x": No policy matched."#
            )
            #expect(listed.json["reason"] == "Forbidden" && listed.json["code"]?.intValue == 403)
            #expect(listed.json["details"] == ["group": .string(Self.group), "kind": "virtualdestinations"])

            let got = try await client.call(.get, Self.vds + "/reviews", headers: Self.alice)
            #expect(
                got.json["message"]?.stringValue
                    == #"virtualdestinations.networking.enterprise.mesh.gloo.solo.io "reviews" is forbidden: User "alice" cannot get resource "virtualdestinations" in API group "networking.enterprise.mesh.gloo.solo.io" in the namespace "bookinfo": No policy matched."#
            )
            #expect(
                got.json["details"] == ["group": .string(Self.group), "kind": "virtualdestinations", "name": "reviews"])

            let cluster = try await client.call(.get, "/api/v1/namespaces", headers: Self.alice)
            #expect(
                cluster.json["message"]?.stringValue
                    == #"namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope: No policy matched."#
            )
            #expect(cluster.json["details"] == ["kind": "namespaces"])

            let path = try await client.call(.get, "/v1/log", headers: Self.alice)
            #expect(
                path.json["message"]?.stringValue
                    == #"forbidden: User "alice" cannot get path "/v1/log": No policy matched."#)
            #expect(path.json["details"] == .object(JSONObject()))
        }
    }

    /// The verb, subresource and name kube's request info derives, seen in the 403's message.
    @Test(arguments: [
        ("GET", "/apis/G/v1/namespaces/x/vds", "list resource \"vds\" in API group \"G\" in the namespace \"x\""),
        // Empty segments are dropped, as the router drops them when it routes the request.
        (
            "PUT", "/apis/G/v1/namespaces//secret/vds/foo",
            "update resource \"vds\" in API group \"G\" in the namespace \"secret\""
        ),
        ("GET", "/apis/G/v1/namespaces/x/vds?watch=true", "watch resource \"vds\""),
        ("GET", "/apis/G/v1/namespaces/x/vds?watch=1", "watch resource \"vds\""),
        ("GET", "/apis/G/v1/namespaces/x/vds?watch=false", "list resource \"vds\""),
        ("GET", "/apis/G/v1/namespaces/x/vds?watch=0", "list resource \"vds\""),
        ("GET", "/apis/G/v1/watch/namespaces/x/vds", "watch resource \"vds\""),
        ("GET", "/apis/G/v1/namespaces/x/vds?fieldSelector=metadata.name%3Da", "vds.G \"a\" is forbidden"),
        ("HEAD", "/apis/G/v1/namespaces/x/vds/a", "get resource \"vds\""),
        ("POST", "/apis/G/v1/namespaces/x/vds", "create resource \"vds\""),
        ("PUT", "/apis/G/v1/namespaces/x/vds/a", "update resource \"vds\""),
        ("PUT", "/apis/G/v1/namespaces/x/vds/a/status", "update resource \"vds/status\" in API group \"G\""),
        ("PATCH", "/apis/G/v1/namespaces/x/vds/a", "patch resource \"vds\""),
        ("DELETE", "/apis/G/v1/namespaces/x/vds/a", "vds.G \"a\" is forbidden: User \"alice\" cannot delete resource"),
        ("DELETE", "/apis/G/v1/namespaces/x/vds", "deletecollection resource \"vds\""),
        (
            "GET", "/api/v1/namespaces/x",
            "namespaces \"x\" is forbidden: User \"alice\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"x\""
        ),
        ("GET", "/api/v1/namespaces/x/status", "get resource \"namespaces/status\""),
        ("GET", "/apis/G/v1", "forbidden: User \"alice\" cannot get path \"/apis/G/v1\""),
        ("DELETE", "/v1/x", "forbidden: User \"alice\" cannot delete path \"/v1/x\""),
    ])
    func requestAttributesAreKubes(method: String, uri: String, expected: String) async throws {
        let configuration = try configuration([#"{"user": "alice", "nonResourcePath": "/healthz"}"#])
        try await withServer(try fleetStore(), configuration: configuration) { client throws in
            let answer = try await client.call(HTTPRequest.Method(method)!, uri, headers: Self.alice)
            #expect(answer.status == 403)
            if method != "HEAD" {
                #expect(answer.json["message"]?.stringValue?.contains(expected) == true, "\(answer.text)")
            }
        }
    }

    /// A controller's report (`POST /v1/feedback`) is a create or update of the output's
    /// SyncResult in the output's namespace: a path-only line no longer lets a caller mark any
    /// VirtualDestination FAILED.
    @Test func feedbackIsAuthorizedAsItsSyncResult() async throws {
        let configuration = try configuration([
            #"{"user": "bob", "namespace": "istio-system", "resource": "syncresults", "apiGroup": "meshledger.dev"}"#,
            #"{"user": "bob", "nonResourcePath": "*"}"#,
            #"{"user": "alice", "nonResourcePath": "*"}"#,
        ])
        let store = try fleetStore()
        let head = try store.log.head().sequence
        @Sendable func report(_ namespace: String) -> String {
            #"{"result": "failed", "cluster": "cluster-1", "kind": "ServiceEntry", "namespace": "\#(namespace)", "name": "reviews-global-bookinfo", "error": "denied"}"#
        }
        try await withServer(store, configuration: configuration) { client throws in
            let elsewhere = try await client.call(.post, "/v1/feedback", body: report("other"), headers: Self.bob)
            #expect(elsewhere.status == 403, "\(elsewhere.text)")
            #expect(elsewhere.json["message"]?.stringValue?.contains(#"cannot create resource "syncresults""#) == true)
            let pathOnly = try await client.call(
                .post, "/v1/feedback", body: report("istio-system"), headers: Self.alice)
            #expect(pathOnly.status == 403, "\(pathOnly.text)")
            #expect(try store.log.head().sequence == head)
            let allowed = try await client.call(.post, "/v1/feedback", body: report("istio-system"), headers: Self.bob)
            #expect(allowed.status == 200, "\(allowed.text)")
            #expect(try store.log.head().sequence == head + 1)
            // The second report on that output updates its SyncResult: bob may update it too.
            let again = try await client.call(.post, "/v1/feedback", body: report("istio-system"), headers: Self.bob)
            #expect(again.status == 200, "\(again.text)")
        }
    }

    @Test func v1IsAuthorizedByKindAndNamespace() async throws {
        let configuration = try configuration([
            #"{"user": "bob", "namespace": "bookinfo", "resource": "virtualdestinations", "apiGroup": "\#(Self.group)"}"#,
            #"{"user": "bob", "readonly": true, "nonResourcePath": "*"}"#,
        ])
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store, configuration: configuration) { client throws in
            let vd = "/v1/virtualdestinations"
            #expect(try await client.call(.get, vd + "?namespace=bookinfo", headers: Self.bob).status == 200)
            #expect(try await client.call(.get, vd + "/bookinfo/absent", headers: Self.bob).status == 404)
            #expect(try await client.call(.get, vd + "/bookinfo/absent/history", headers: Self.bob).status != 403)
            // All namespaces is the cluster scope; another namespace or kind is not bob's.
            let all = try await client.call(.get, vd, headers: Self.bob)
            #expect(
                all.json["message"]?.stringValue
                    == #"virtualdestinations.networking.enterprise.mesh.gloo.solo.io is forbidden: User "bob" cannot list resource "virtualdestinations" in API group "networking.enterprise.mesh.gloo.solo.io" at the cluster scope: No policy matched."#
            )
            #expect(try await client.call(.get, vd + "/other/x/explain", headers: Self.bob).status == 403)
            for spelling in [vd + "/", "/v1//virtualdestinations", "/v1/virtual%64estinations"] {
                let answer = try await client.call(.get, spelling, headers: Self.bob)
                #expect(answer.status == 403 || answer.status == 404, "\(spelling): \(answer.text)")
            }
            #expect(
                try await client.call(.get, "/v1/trafficpolicies?namespace=bookinfo", headers: Self.bob).status == 403)
            // Writes: each object of the batch, on its kind and namespace.
            let other = virtualDestinationYAML("elsewhere", hostname: "elsewhere.global").replacingOccurrences(
                of: "namespace: bookinfo}", with: "namespace: other}")
            let refused = try await client.call(
                .post, "/v1/events?op=apply",
                body: virtualDestinationYAML("mine", hostname: "mine.global") + "\n---\n" + other,
                headers: Self.bob)
            #expect(
                refused.json["message"]?.stringValue
                    == #"virtualdestinations.networking.enterprise.mesh.gloo.solo.io "elsewhere" is forbidden: User "bob" cannot create resource "virtualdestinations" in API group "networking.enterprise.mesh.gloo.solo.io" in the namespace "other": No policy matched."#,
                "\(refused.text)")
            #expect(try store.log.head().sequence == head)
            let created = try await client.call(
                .post, "/v1/events?op=apply", body: virtualDestinationYAML("mine", hostname: "mine.global"),
                headers: Self.bob)
            #expect(created.status == 200, "\(created.text)")
            let deleted = try await client.call(
                .post, "/v1/events?op=delete", body: virtualDestinationYAML("mine", hostname: "mine.global"),
                headers: Self.bob)
            #expect(deleted.status == 200, "\(deleted.text)")
            let discovery = try await client.call(
                .post, "/v1/events?op=resync&cluster=cluster-1",
                body: try text("\(fleet)/discovery/cluster-1.yaml"), headers: Self.bob)
            #expect(
                discovery.json["message"]?.stringValue?.contains(#"User "bob" cannot"#) == true, "\(discovery.text)")
        }
    }

    @Test func impersonationIsAuthorizedAndRecordsBothIdentities() async throws {
        let configuration = try configuration([
            #"{"user": "alice", "resource": "users"}"#,
            #"{"user": "alice", "readonly": true, "nonResourcePath": "*"}"#,
            #"{"user": "bob", "namespace": "bookinfo", "resource": "*", "apiGroup": "*"}"#,
        ])
        let store = try fleetStore()
        try await withServer(store, configuration: configuration) { client throws in
            var asBob = Self.alice
            asBob[.init("Impersonate-User")!] = "bob"
            let created = try await client.call(.post, Self.vds, body: try vdJSON("as-bob"), headers: asBob)
            #expect(created.status == 201, "\(created.text)")
            // carol may be impersonated, but carol may not write.
            var asCarol = Self.alice
            asCarol[.init("Impersonate-User")!] = "carol"
            let carol = try await client.call(.post, Self.vds, body: try vdJSON("as-carol"), headers: asCarol)
            #expect(carol.status == 403)
            #expect(carol.json["message"]?.stringValue?.contains(#"User "carol" cannot create"#) == true)
            // bob may not impersonate.
            var asAlice = Self.bob
            asAlice[.init("Impersonate-User")!] = "alice"
            let refused = try await client.call(.get, Self.vds, headers: asAlice)
            #expect(refused.status == 403)
            #expect(
                refused.json["message"]?.stringValue
                    == #"users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope: No policy matched."#
            )
            #expect(refused.json["details"] == ["kind": "users", "name": "alice"])
            // Groups and uids are authorized each.
            var withGroup = asBob
            withGroup[.init("Impersonate-Group")!] = "system:masters"
            let group = try await client.call(.get, Self.vds, headers: withGroup)
            #expect(
                group.json["message"]?.stringValue
                    == #"groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope: No policy matched."#
            )
            var withUID = asBob
            withUID[.init("Impersonate-Uid")!] = "42"
            let uid = try await client.call(.get, Self.vds, headers: withUID)
            #expect(
                uid.json["message"]?.stringValue
                    == #"uids.authentication.k8s.io "42" is forbidden: User "alice" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope: No policy matched."#
            )
            // A group without a user is kube's 500.
            var groupOnly = Self.alice
            groupOnly[.init("Impersonate-Group")!] = "platform"
            #expect(try await client.call(.get, Self.vds, headers: groupOnly).status == 500)
        }
        var events: [Event] = []
        try store.query(try LogQuery(filters: ["name": "as-bob"])) {
            events.append($0)
            return true
        }
        #expect(events.map(\.actor) == ["bob"])
        #expect(events.map(\.groups) == [["meshledger.dev/impersonated-by=alice"]])
    }

    @Test func theImpersonatorEntryCannotBeForged() async throws {
        let configuration = try configuration([
            #"{"user": "forger", "namespace": "*", "resource": "*", "apiGroup": "*"}"#
        ])
        let store = try fleetStore()
        try await withServer(store, configuration: configuration) { client throws in
            let created = try await client.call(
                .post, Self.vds, body: try vdJSON("forged"), headers: [.authorization: "Bearer forger-token"])
            #expect(created.status == 201, "\(created.text)")
        }
        var events: [Event] = []
        try store.query(try LogQuery(filters: ["name": "forged"])) {
            events.append($0)
            return true
        }
        #expect(events.map(\.groups) == [["platform"]])
    }

    @Test func nobodyImpersonatesOnAServerWithoutAuthentication() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        try await withServer(store) { client throws in
            let answer = try await client.call(
                .post, Self.vds, body: try vdJSON("anonymous"), headers: [.init("Impersonate-User")!: "admin"])
            #expect(answer.status == 403)
            #expect(
                answer.json["message"]?.stringValue?.hasPrefix(
                    #"users "admin" is forbidden: User "system:anonymous" cannot impersonate resource "users""#)
                    == true,
                "\(answer.text)")
        }
        #expect(try store.log.head().sequence == head)
    }

    /// The streams of everything (`/v1/log`, `/v1/watch`, `/v1/outputs`) show a namespace-scoped
    /// reader only what it may list or watch: its kinds in its namespaces, and the status changes
    /// of its VirtualDestinations.
    @Test func v1StreamsShowACallerOnlyWhatItMayRead() async throws {
        let configuration = try configuration([
            #"{"user": "bob", "readonly": true, "namespace": "bookinfo", "resource": "virtualdestinations", "apiGroup": "\#(Self.group)"}"#,
            #"{"user": "bob", "readonly": true, "namespace": "istio-system", "resource": "serviceentries", "apiGroup": "networking.istio.io"}"#,
            #"{"user": "bob", "readonly": true, "nonResourcePath": "*"}"#,
            #"{"user": "alice", "namespace": "*", "resource": "*", "apiGroup": "*", "nonResourcePath": "*"}"#,
        ])
        let store = try fleetStore()
        try await withServer(store, configuration: configuration) { client throws in
            func lines(_ answer: Answer) -> [JSONValue] {
                answer.text.split(separator: "\n").map { (try? JSONText.parse(Array($0.utf8))) ?? .null }
            }
            let everything = lines(try await client.call(.get, "/v1/log", headers: Self.alice))
            let bobs = lines(try await client.call(.get, "/v1/log", headers: Self.bob))
            #expect(everything.contains { $0["kind"] == "Destination" })
            #expect(!bobs.isEmpty && bobs.count < everything.count)
            #expect(bobs.allSatisfy { $0["kind"] == "VirtualDestination" && $0["namespace"] == "bookinfo" })
            #expect(bobs.count == everything.filter { $0["kind"] == "VirtualDestination" }.count)
            // The audit export reads the same: bob's are the VirtualDestinations' changes alone.
            let audited = lines(try await client.call(.get, "/v1/audit/events", headers: Self.alice))
            let bobsAudit = lines(try await client.call(.get, "/v1/audit/events?level=Request", headers: Self.bob))
            #expect(audited.count == everything.count && bobsAudit.count == bobs.count)
            #expect(bobsAudit.allSatisfy { $0[path: ["objectRef", "resource"]] == "virtualdestinations" })
            #expect(
                bobsAudit.allSatisfy { $0["requestObject"] != nil } && audited.allSatisfy { $0["requestObject"] == nil }
            )
            // With the status changes: bob's VirtualDestinations' too, and only theirs.
            let withStatus = lines(
                try await client.call(.get, "/v1/audit/events?withStatusChanges=true", headers: Self.alice))
            let bobsWithStatus = lines(
                try await client.call(.get, "/v1/audit/events?withStatusChanges", headers: Self.bob))
            func isStatus(_ event: JSONValue) -> Bool { event[path: ["objectRef", "subresource"]] == "status" }
            #expect(withStatus.filter { !isStatus($0) } == audited && withStatus.contains(where: isStatus))
            #expect(
                bobsWithStatus.filter(isStatus)
                    == withStatus.filter { isStatus($0) && $0[path: ["objectRef", "namespace"]] == "bookinfo" })
            #expect(bobsWithStatus.contains(where: isStatus))
            let badLevel = try await client.call(.get, "/v1/audit/events?level=Everything", headers: Self.alice)
            #expect(badLevel.status == 400)
            let watched = lines(
                try await client.call(.get, "/v1/watch?from=0&timeoutSeconds=0.3", headers: Self.bob)
            ).filter { $0["type"] == "EVENT" }
            #expect(!watched.isEmpty)
            #expect(watched.allSatisfy { $0[path: ["event", "kind"]] == "VirtualDestination" }, "\(watched)")
            let changes = watched.flatMap { $0["statusChanges"]?.arrayValue ?? [] }
            #expect(changes.allSatisfy { $0["namespace"] == "bookinfo" })
            let all = try await client.call(.get, "/v1/outputs", headers: Self.alice).json["items"]?.arrayValue ?? []
            let mine = try await client.call(.get, "/v1/outputs", headers: Self.bob).json["items"]?.arrayValue ?? []
            #expect(all.contains { $0["kind"] == "DestinationRule" })
            #expect(!mine.isEmpty && mine.count < all.count)
            #expect(
                mine.allSatisfy {
                    $0["kind"] == "ServiceEntry" && $0[path: ["metadata", "namespace"]] == "istio-system"
                }, "\(mine)")
        }
    }
}
