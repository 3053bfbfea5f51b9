import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

@testable import Projection

/// A fleet plus one VirtualDestination, projected; the status JSON of that VirtualDestination.
func statusOf(
    _ vd: String, extra: [String] = [], base: String = Fleet.base, name: String? = nil
) throws -> (Projection, JSONValue) {
    let ledger = try Ledger()
    try ledger.apply(base)
    for manifest in extra { try ledger.apply(manifest) }
    try ledger.apply(vd)
    let projection = ledger.project()
    let vdName = try name ?? ManifestReader.manifests(Array(vd.utf8), name: "vd").first!.key.name
    return (projection, try #require(projection.status(vdName)))
}

func errors(_ status: JSONValue) -> [String] { (status["errors"]?.arrayValue ?? []).compactMap(\.stringValue) }
func meshErrors(_ status: JSONValue, _ cluster: String) -> [String] {
    (status[path: ["meshes", "istiod-istio-system-\(cluster).gloo-mesh.", "errors"]]?.arrayValue ?? []).compactMap(
        \.stringValue)
}
func meshState(_ status: JSONValue, _ cluster: String) -> String? {
    status[path: ["meshes", "istiod-istio-system-\(cluster).gloo-mesh.", "state"]]?.stringValue
}

@Suite struct ValidationRuleTests {
    /// (what, the VirtualDestination, the error text expected in every mesh entry and at the top).
    static let meshIndependent: [(String, String, String)] = [
        (
            "hostname missing",
            Fleet.staticVD("a", backing: ["reviews@cluster-1"]).replacingOccurrences(
                of: "  hostname: a.global\n", with: ""), "Missing required field \"hostname\"."
        ),
        (
            "hostname not DNS-1123", Fleet.staticVD("a", hostname: "Bad_Host.global", backing: ["reviews@cluster-1"]),
            "Invalid hostname \"Bad_Host.global\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ),
        (
            "hostname suffix", Fleet.staticVD("a", hostname: "reviews.mesh.internal", backing: ["reviews@cluster-1"]),
            "Provided hostname reviews.mesh.internal is missing required suffix \"global\"."
        ),
        (
            "port missing",
            Fleet.staticVD("a", backing: ["reviews@cluster-1"]).replacingOccurrences(
                of: "  port: {number: 9080, protocol: http}\n", with: ""), "Missing required field \"port\"."
        ),
        (
            "port out of range",
            Fleet.staticVD("a", port: "{number: 70000, protocol: http}", backing: ["reviews@cluster-1"]),
            "Invalid port number 70000: must be between 1 and 65535"
        ),
        (
            "port zero", Fleet.staticVD("a", port: "{number: 0, protocol: http}", backing: ["reviews@cluster-1"]),
            "Invalid port number 0: must be between 1 and 65535"
        ),
        (
            "protocol", Fleet.staticVD("a", port: "{number: 9080, protocol: udp}", backing: ["reviews@cluster-1"]),
            "Invalid protocol for port: udp"
        ),
        ("static empty", Fleet.staticVD("a", backing: []), "There must be at least one backing destination declared."),
        (
            "localized without selectors",
            Fleet.localizedVD("a", labels: "{}").replacingOccurrences(
                of: "destinationSelectors: [{kubeServiceMatcher: {labels: {}}}]", with: "destinationSelectors: []"),
            "Missing required field \"destinationSelectors\"."
        ),
        (
            "no backing destination found", Fleet.staticVD("a", backing: ["nothing@cluster-1", "nothing@cluster-2"]),
            "None of the backing destinations were found in discovery."
        ),
        (
            "localized: two per cluster", Fleet.localizedVD("a", labels: "{}"),
            "Multiple destinations selected in cluster cluster-1: ratings.bookinfo.cluster-1, reviews.bookinfo.cluster-1"
        ),
    ]

    @Test(arguments: meshIndependent)
    func meshIndependentErrorsAppearOnceInEveryMeshAndAtTheTop(_ rule: (String, String, String)) throws {
        let (_, status) = try statusOf(rule.1)
        #expect(status["state"] == "INVALID", "\(rule.0)")
        #expect(errors(status).filter { $0 == rule.2 }.count == 1, "\(rule.0): \(errors(status))")
        for mesh in status["meshes"]?.objectValue?.members ?? [] {
            let list = (mesh.value["errors"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(list.filter { $0 == rule.2 }.count == 1, "\(rule.0) on \(mesh.key): \(list)")
            #expect(mesh.value["state"] == "INVALID")
        }
    }

    @Test func exportTargetsThatDoNotExist() throws {
        let (_, vmMissing) = try statusOf(
            Fleet.staticVD(
                "a", export: "virtualMesh: {name: nope, namespace: gloo-mesh}", backing: ["reviews@cluster-1"]))
        #expect(errors(vmMissing).contains("VirtualMesh nope.gloo-mesh not found"))
        #expect(vmMissing["state"] == "INVALID")

        let list =
            "meshList: {meshes: [{name: istiod-istio-system-cluster-1, namespace: gloo-mesh}, {name: ghost, namespace: gloo-mesh}]}"
        let (projection, meshMissing) = try statusOf(Fleet.staticVD("a", export: list, backing: ["reviews@cluster-1"]))
        #expect(meshMissing["state"] == "INVALID")
        #expect(
            (meshMissing[path: ["meshes", "ghost.gloo-mesh.", "errors"]]?.arrayValue ?? []) == [
                "Mesh ghost.gloo-mesh not found"
            ])
        // Decision (Gloo Mesh #1581): the missing mesh does not block the mesh that exists.
        #expect(meshState(meshMissing, "cluster-1") == "ACCEPTED")
        #expect(projection.outputObjects.contains { $0.key.cluster == "cluster-1" && $0.parents.map(\.name) == ["a"] })
    }

    @Test func backingMeshMustExistAndBeIstio() throws {
        let orphan = Fleet.destination("orphan", "cluster-9", labels: "{app: orphan}")
        // A Destination whose mesh is missing is skipped with a warning, as a missing one is
        // (decision 0015); none left is the error of no backing destination found.
        let (_, missing) = try statusOf(Fleet.staticVD("a", backing: ["orphan@cluster-9"]), extra: [orphan])
        #expect(errors(missing) == ["None of the backing destinations were found in discovery."])
        #expect(
            missing["warnings"] == [
                "Mesh istiod-istio-system-cluster-9.gloo-mesh for destination orphan.bookinfo.cluster-9 not found; skipped"
            ])
        let (_, partly) = try statusOf(
            Fleet.staticVD("b", backing: ["orphan@cluster-9", "reviews@cluster-1"]), extra: [orphan], name: "b")
        #expect(partly["state"] == "ACCEPTED")
        #expect(partly["selectedDestinations"]?.arrayValue?.count == 1)

        let linkerd = """
            apiVersion: discovery.mesh.gloo.solo.io/v1alpha2
            kind: Mesh
            metadata: {name: istiod-istio-system-cluster-9, namespace: gloo-mesh}
            spec: {linkerd: {installation: {namespace: linkerd, cluster: cluster-9}}}
            """
        let (_, unsupported) = try statusOf(
            Fleet.staticVD("a", backing: ["orphan@cluster-9"]), extra: [orphan, linkerd])
        #expect(
            errors(unsupported).contains(
                "Unsupported mesh type linkerd for mesh istiod-istio-system-cluster-9.gloo-mesh"))
    }

    @Test func meshesMustBeGroupedInOneVirtualMesh() throws {
        let base = Fleet.base.replacingOccurrences(
            of: Fleet.virtualMesh(meshes: ["cluster-1", "cluster-2", "cluster-3"]),
            with: Fleet.virtualMesh(meshes: ["cluster-1", "cluster-2"]) + "\n---\n"
                + Fleet.virtualMesh("other", meshes: ["cluster-3"]))
        let list = "meshList: {meshes: [{name: istiod-istio-system-cluster-1, namespace: gloo-mesh}]}"
        let (_, two) = try statusOf(
            Fleet.staticVD("a", export: list, backing: ["reviews@cluster-1", "reviews@cluster-3"]), base: base)
        #expect(
            errors(two).contains(
                "Destinations belong to multiple different parent VirtualMeshes: [federation.gloo-mesh, other.gloo-mesh]"
            ))

        let ungrouped = Fleet.base.replacingOccurrences(
            of: Fleet.virtualMesh(meshes: ["cluster-1", "cluster-2", "cluster-3"]),
            with: Fleet.virtualMesh(meshes: ["cluster-1"]))
        let (_, notGrouped) = try statusOf(
            Fleet.staticVD("a", export: list, backing: ["reviews@cluster-1", "reviews@cluster-2"]), base: ungrouped)
        #expect(
            errors(notGrouped).contains("Mesh istiod-istio-system-cluster-2.gloo-mesh is not grouped in a VirtualMesh.")
        )
    }

    @Test func aVirtualMeshThatClaimsAnAlreadyGroupedMeshGroupsNothing() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.virtualMesh("late", meshes: ["cluster-2"]))
        let projection = ledger.project()
        #expect(
            projection.world.virtualMeshErrors[ObjectRef(name: "late", namespace: "gloo-mesh")] == [
                "Includes a Mesh (istiod-istio-system-cluster-2.gloo-mesh) that already is grouped in a VirtualMesh (federation.gloo-mesh)"
            ])
        #expect(
            projection.world.meshOwner[ObjectRef(name: "istiod-istio-system-cluster-2", namespace: "gloo-mesh")]?.name
                == "federation")
    }

    @Test func everyBackingDestinationNeedsOutlierDetection() throws {
        let base = Fleet.base.replacingOccurrences(
            of: Fleet.outlierPolicy(), with: Fleet.outlierPolicy(labels: "{app: ratings}"))
        let (_, status) = try statusOf(
            Fleet.staticVD("a", backing: ["reviews@cluster-1", "ratings@cluster-1"]), base: base)
        #expect(
            errors(status) == [
                "Destination reviews.bookinfo.cluster-1 does not have any TrafficPolicies that apply OutlierDetection settings."
            ])
        // localized.outlierDetection is enough on its own.
        let (_, localized) = try statusOf(Fleet.localizedVD("b", labels: "{app: reviews}"), base: base)
        #expect(localized["state"] == "ACCEPTED", "\(errors(localized))")
        let (_, without) = try statusOf(Fleet.localizedVD("c", labels: "{app: reviews}", outlier: false), base: base)
        #expect(errors(without).count == 3)
    }

    /// An edit of a TrafficPolicy that keeps its selectors and its outlier detection changes only
    /// outputs: the fold defers finding what it affects until outputs, the digest or
    /// `lastChanged` are asked for, and then they are what a full fold gives.
    @Test func anOutputOnlyPolicyEditIsDeferredUntilOutputsAreAskedFor() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("a", backing: ["reviews@cluster-1"]))
        try ledger.apply(Fleet.localizedVD("b", labels: "{app: reviews}", outlier: false))
        try ledger.apply(Fleet.localizedVD("c", labels: "{app: ratings}", outlier: false))
        var projection = ledger.project()
        projection.settleDigest()
        let before = projection.states
        let edit = try #require(try ledger.apply(Fleet.outlierPolicy(consecutiveErrors: 7)).first)
        projection.apply(edit)
        #expect(projection.deferredPolicyCount == 1)  // nothing looked at yet
        let full = ledger.project()  // every event folded from scratch, checked against the reference
        #expect(projection.lastChanged == Set(full.states.keys))  // the policy selects every Destination
        #expect(projection.deferredPolicyCount == 1)
        #expect(projection.digest == full.digest)
        #expect(canonicalState(projection.states) == canonicalState(full.states))
        for (ref, state) in projection.states {
            #expect(state.outputs != before[ref]?.outputs, "\(ref): consecutive errors 7 reach its outputs")
            #expect(state.status == before[ref]?.status)
        }
        projection.settleOutputs()
        #expect(projection.deferredPolicyCount == 0)
        #expect(projection.digest == full.digest)
        // Settling translated the DestinationRules alone, in place of the stored ones.
        #expect(projection.rulesOnlyTranslations == full.states.count)
        #expect(canonicalState(projection.states) == canonicalState(full.states))
        // Narrowing its selectors is an evaluation input: no deferral, statuses follow at once.
        let narrowed = try #require(
            try ledger.apply(Fleet.outlierPolicy(labels: "{app: ratings}", consecutiveErrors: 7)).first)
        projection.apply(narrowed)
        #expect(projection.deferredPolicyCount == 0)
        #expect(canonicalState(projection.states) == canonicalState(ledger.project().states))
    }

    /// The outlier error names the policies that select the Destination without detecting
    /// outliers; creating, editing and narrowing such a policy must re-trace it (the incremental
    /// projection skips re-evaluation for TrafficPolicy edits that change only outputs).
    @Test func theOutlierErrorNamesThePoliciesThatSelectTheDestination() throws {
        let ledger = try Ledger()
        try ledger.apply(
            Fleet.base.replacingOccurrences(
                of: Fleet.outlierPolicy(), with: Fleet.outlierPolicy(labels: "{app: ratings}")))
        try ledger.apply(Fleet.staticVD("a", backing: ["reviews@cluster-1"]))
        let vd = ObjectRef(name: "a", namespace: "bookinfo")
        let reviews = ObjectKey(kind: .destination, namespace: "gloo-mesh", name: "reviews-bookinfo-cluster-1")
        let retries = ObjectKey(kind: .trafficPolicy, namespace: "gloo-mesh", name: "retries")
        func outlierInputs() throws -> [ObjectKey] {
            let evaluation = try #require(ledger.project().states[vd]?.evaluation)
            return evaluation.errors.first { $0.message.contains("OutlierDetection") }?.inputs ?? []
        }
        #expect(try outlierInputs() == [reviews])
        try ledger.apply(Fleet.retryPolicy("retries", labels: "{app: reviews}"))
        #expect(try outlierInputs() == [reviews, retries])
        try ledger.apply(Fleet.retryPolicy("retries", labels: "{app: reviews}", attempts: 5))
        #expect(try outlierInputs() == [reviews, retries])
        try ledger.apply(Fleet.retryPolicy("retries", labels: "{app: details}"))
        #expect(try outlierInputs() == [reviews])
    }

    @Test func aRemoteDestinationBehindNoGatewayMakesThatMeshInvalid() throws {
        let base = Fleet.base.replacingOccurrences(
            of: Fleet.mesh("cluster-2", region: "us-west-2", gateway: "gw2.example.com"),
            with: Fleet.mesh("cluster-2", region: "us-west-2"))
        let (projection, status) = try statusOf(
            Fleet.staticVD("a", backing: ["reviews@cluster-1", "reviews@cluster-2"]), base: base)
        #expect(
            meshErrors(status, "cluster-1") == [
                "Mesh istiod-istio-system-cluster-2.gloo-mesh has no ingress gateway; destination reviews.bookinfo.cluster-2 is unreachable from istiod-istio-system-cluster-1.gloo-mesh"
            ])
        #expect(meshState(status, "cluster-1") == "INVALID")
        #expect(meshState(status, "cluster-3") == "INVALID")
        #expect(meshState(status, "cluster-2") == "ACCEPTED")
        #expect(status["state"] == "INVALID")
        #expect(Set(projection.outputObjects.map(\.key.cluster)) == ["cluster-2"])
    }

    @Test func missingStaticBackingDestinationsAreSkippedWithAWarning() throws {
        // Decision (Gloo Mesh #947): scaling the primary to zero must not stop the failover.
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("a", backing: ["reviews@cluster-1", "reviews@cluster-2"]))
        try ledger.delete(.destination, "gloo-mesh", "reviews-bookinfo-cluster-1")
        let status = try #require(ledger.project().status("a"))
        #expect(status["state"] == "ACCEPTED")
        #expect(
            status["warnings"] == ["Backing destination reviews.bookinfo.cluster-1 not found in discovery; skipped"])
        #expect(status["selectedDestinations"]?.arrayValue?.count == 1)
        try ledger.delete(.destination, "gloo-mesh", "reviews-bookinfo-cluster-2")
        let none = try #require(ledger.project().status("a"))
        #expect(none["state"] == "INVALID")
        #expect(errors(none) == ["None of the backing destinations were found in discovery."])
    }

    @Test func observedGenerationFollowsTheSpec() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("a", backing: ["reviews@cluster-1"]))
        #expect(ledger.project().status("a")?["observedGeneration"] == 1)
        try ledger.apply(Fleet.staticVD("a", port: "{number: 9443, protocol: http}", backing: ["reviews@cluster-1"]))
        #expect(ledger.project().status("a")?["observedGeneration"] == 2)
        // A discovery change re-evaluates it at the same generation.
        try ledger.delete(.destination, "gloo-mesh", "reviews-bookinfo-cluster-1")
        #expect(ledger.project().status("a")?["observedGeneration"] == 2)
    }

    @Test func aWellFormedButInvalidVirtualDestinationIsRecorded() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        let events = try ledger.apply(
            Fleet.staticVD("bad", port: "{number: 0, protocol: carrier-pigeon}", backing: ["nope@cluster-1"]))
        #expect(events.count == 1)
        let status = try #require(ledger.project().status("bad"))
        #expect(status["state"] == "INVALID")
        #expect(
            errors(status) == [
                "Invalid port number 0: must be between 1 and 65535", "Invalid protocol for port: carrier-pigeon",
                "None of the backing destinations were found in discovery.",
            ])
    }
}

@Suite struct AcceptanceTests {
    @Test func theEarlierVirtualDestinationKeepsAHostnameAndTheLaterTakesItOver() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("first", hostname: "shared.global", backing: ["reviews@cluster-1"]))
        try ledger.apply(Fleet.staticVD("other", backing: ["ratings@cluster-1"]))
        try ledger.apply(Fleet.staticVD("second", hostname: "shared.global", backing: ["reviews@cluster-2"]))
        var projection = ledger.project()
        let second = try #require(projection.status("second"))
        #expect(second["state"] == "INVALID")
        #expect(
            meshErrors(second, "cluster-1") == [
                "Hostname shared.global is already used by VirtualDestination first.bookinfo, accepted earlier"
            ])
        #expect(
            projection.status("first")?[path: ["meshes", "istiod-istio-system-cluster-1.gloo-mesh.", "acceptanceOrder"]]
                == 0)
        #expect(
            projection.status("other")?[path: ["meshes", "istiod-istio-system-cluster-1.gloo-mesh.", "acceptanceOrder"]]
                == 1)
        #expect(projection.outputObjects.allSatisfy { !$0.parents.map(\.name).contains("second") })

        // When the earlier one becomes invalid, the later is accepted at that event.
        let events = try ledger.apply(
            Fleet.staticVD(
                "first", hostname: "shared.global", port: "{number: 0, protocol: http}", backing: ["reviews@cluster-1"])
        )
        projection = ledger.project()
        #expect(projection.status("second")?["state"] == "ACCEPTED")
        let entry = try #require(
            projection.acceptance[ObjectRef(name: "istiod-istio-system-cluster-1", namespace: "gloo-mesh")])
        #expect(entry.accepted.map(\.virtualDestination.name) == ["other", "second"])
        #expect(entry.accepted.last?.acceptedAt == events.first?.sequence)
        #expect(
            projection.status("other")?[path: ["meshes", "istiod-istio-system-cluster-1.gloo-mesh.", "acceptanceOrder"]]
                == 0)

        // Fixed again, the first one is now the later one and stays out.
        try ledger.apply(Fleet.staticVD("first", hostname: "shared.global", backing: ["reviews@cluster-1"]))
        projection = ledger.project()
        #expect(projection.status("first")?["state"] == "INVALID")
        #expect(projection.status("second")?["state"] == "ACCEPTED")

        // Deleting the holder hands the hostname back.
        try ledger.delete(.virtualDestination, "bookinfo", "second")
        #expect(ledger.project().status("first")?["state"] == "ACCEPTED")
    }

    @Test func acceptanceOrderIsStableAcrossUnrelatedEvents() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("a", backing: ["reviews@cluster-1"]))
        try ledger.apply(Fleet.staticVD("b", backing: ["ratings@cluster-1"]))
        let before = ledger.project().status("b")
        try ledger.apply(Fleet.destination("details", "cluster-2", labels: "{app: details}"))
        try ledger.apply(Fleet.staticVD("c", backing: ["reviews@cluster-3"]))
        let after = ledger.project()
        #expect(after.status("b") == before)
        #expect(
            after.status("c")?[path: ["meshes", "istiod-istio-system-cluster-1.gloo-mesh.", "acceptanceOrder"]] == 2)
    }
}

@Suite struct FeedbackTests {
    @Test func aFailedWriteMakesEveryParentFailedUntilApplied() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("a", backing: ["reviews@cluster-1", "reviews@cluster-2"]))
        try ledger.apply(Fleet.staticVD("b", backing: ["reviews@cluster-2"]))
        var projection = ledger.project()
        // The federated ServiceEntry for reviews in cluster-2, written to cluster-1, has both parents.
        let shared = try #require(
            projection.outputObjects.first {
                $0.key.cluster == "cluster-1" && $0.key.name == "reviews-bookinfo-cluster-2"
                    && $0.key.kind == "ServiceEntry"
            })
        #expect(shared.parents.map(\.name) == ["a", "b"])
        func report(_ result: String, error: String? = nil) throws {
            let errorLine = error.map { "\n  error: \"\($0)\"" } ?? ""
            try ledger.apply(
                """
                apiVersion: meshledger.dev/v1alpha1
                kind: SyncResult
                metadata: {name: cluster-1.serviceentry.reviews-bookinfo-cluster-2, namespace: istio-system}
                spec:
                  cluster: cluster-1
                  kind: ServiceEntry
                  namespace: istio-system
                  name: reviews-bookinfo-cluster-2
                  result: \(result)\(errorLine)
                """)
        }
        try report("failed", error: "admission webhook denied the request")
        projection = ledger.project()
        for name in ["a", "b"] {
            let status = try #require(projection.status(name))
            #expect(status["state"] == "FAILED")
            #expect(errors(status) == ["write error: admission webhook denied the request"])
        }
        try report("applied")
        projection = ledger.project()
        #expect(projection.status("a")?["state"] == "ACCEPTED")
        #expect(projection.status("b")?["state"] == "ACCEPTED")
    }
}

@Suite struct TranslationTests {
    @Test func theVirtualIPMatchesTheKnownVector() {
        #expect(
            virtualIP(
                name: "failover-service", namespace: "failover-service-namespace", cluster: "",
                scope: "failover-service") == "247.153.147.39")
    }

    @Test func namesAreSanitizedIntoDNSLabels() {
        #expect(sanitizeName("Reviews.Global:9080/x_y z*") == "reviews-global-9080-x-y-z-")
        #expect(sanitizeName("a[b]\"c'd\ne") == "abcde")
        let long = sanitizeName(String(repeating: "abcdefghij", count: 8))
        #expect(long.count == 63)
        #expect(long.hasPrefix(String(repeating: "abcdefghij", count: 3) + "a-"))
    }

    @Test func staticFailoverBecomesAnAggregateCluster() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("reviews-global", backing: ["reviews@cluster-2", "reviews@cluster-1"]))
        let objects = ledger.project().outputObjects.filter { $0.key.cluster == "cluster-1" }
        let filter = try #require(objects.first { $0.key.kind == "EnvoyFilter" })
        let clusters = filter.spec[path: ["configPatches"]]?.arrayValue?[1][path: [
            "patch", "value", "cluster_type", "typed_config", "clusters",
        ]]
        #expect(
            clusters == [
                "outbound|9080||reviews.bookinfo.svc.cluster-2.global",
                "outbound|9080||reviews.bookinfo.svc.cluster.local",
            ])
        let federated = try #require(
            objects.first { $0.key.kind == "ServiceEntry" && $0.key.name == "reviews-bookinfo-cluster-2" })
        #expect(federated.spec["hosts"] == ["reviews.bookinfo.svc.cluster-2.global"])
        #expect(federated.spec["endpoints"]?.arrayValue?.first?["address"] == "gw2.example.com")
        #expect(
            federated.spec["addresses"] == [
                .string(virtualIP(name: "reviews", namespace: "bookinfo", cluster: "cluster-2", scope: "kube-service"))
            ])
        let entry = try #require(
            objects.first { $0.key.kind == "ServiceEntry" && $0.key.name == "reviews-global-bookinfo" })
        #expect(
            entry.spec["addresses"] == [
                .string(virtualIP(name: "reviews-global", namespace: "bookinfo", cluster: "", scope: "local-resource"))
            ])
        #expect(entry.manifest[path: ["metadata", "labels", "cluster.multicluster.solo.io"]] == "cluster-1")
        #expect(
            entry.manifest[path: ["metadata", "annotations", "parents.networking.mesh.gloo.solo.io"]]
                == #"{"networking.enterprise.mesh.gloo.solo.io/v1alpha1, Kind=VirtualDestination":[{"name":"reviews-global","namespace":"bookinfo"}]}"#
        )
    }

    @Test func localizedFailoverBecomesEndpointsAndLocalityRules() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.localizedVD("reviews-local", labels: "{app: reviews}"))
        let objects = ledger.project().outputObjects.filter { $0.key.cluster == "cluster-1" }
        let entry = try #require(objects.first { $0.key.kind == "ServiceEntry" })
        #expect(entry.spec["resolution"] == "DNS")
        #expect(
            entry.spec["endpoints"] == [
                [
                    "address": "reviews.bookinfo.svc.cluster.local", "ports": ["http": 9080],
                    "locality": "us-east-1/us-east-1a",
                ],
                [
                    "address": "gw2.example.com", "ports": ["http": 15443], "labels": ["cluster": "cluster-2"],
                    "locality": "us-west-2",
                ],
                [
                    "address": "gw3.example.com", "ports": ["http": 15443], "labels": ["cluster": "cluster-3"],
                    "locality": "eu-west-1",
                ],
            ])
        let rule = try #require(objects.first { $0.key.kind == "DestinationRule" })
        #expect(
            rule.spec[path: ["trafficPolicy", "loadBalancer", "localityLbSetting"]] == [
                "enabled": true,
                "failover": [["from": "us-east-1", "to": "us-west-2"], ["from": "us-east-1", "to": "eu-west-1"]],
            ])
        #expect(
            rule.spec[path: ["trafficPolicy", "outlierDetection"]] == [
                "consecutive5xxErrors": 2, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 100,
            ])
    }
}
