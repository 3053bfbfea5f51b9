import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

@testable import Projection

/// A static VirtualDestination in any namespace.
func staticVD(_ name: String, namespace: String, hostname: String, backing: [String]) -> String {
    Fleet.staticVD(name, hostname: hostname, backing: backing).replacingOccurrences(
        of: "namespace: bookinfo}", with: "namespace: \(namespace)}")
}

/// A ledger with the base fleet, then each manifest applied in its own batch.
func fleetLedger(_ manifests: String...) throws -> Ledger {
    let ledger = try Ledger()
    try ledger.apply(Fleet.base)
    for manifest in manifests { try ledger.apply(manifest) }
    return ledger
}

/// Every output piece of every VirtualDestination, by key.
func piecesByKey(_ projection: Projection) -> [OutputKey: [(parent: ObjectRef, spec: JSONValue)]] {
    var result: [OutputKey: [(parent: ObjectRef, spec: JSONValue)]] = [:]
    for (vd, state) in projection.states {
        for piece in state.outputs { result[piece.key, default: []].append((vd, piece.spec)) }
    }
    return result
}

/// The keys two different sources produce (pieces of one key whose specs differ): none, when
/// output names are injective and merging only joins identical federated objects.
func collidingKeys(_ projection: Projection) -> [OutputKey] {
    piecesByKey(projection).filter { _, pieces in Set(pieces.map(\.spec)).count > 1 }.keys.sorted()
}

/// Each accepted mesh of each VirtualDestination has exactly one ServiceEntry for its hostname,
/// and it is one of that VirtualDestination's own outputs: the VirtualDestinations that lack theirs.
func virtualDestinationsMissingTheirServiceEntry(_ projection: Projection) -> [String] {
    let objects = projection.outputObjects
    var missing: [String] = []
    for (vd, state) in projection.states.sorted(by: { $0.key < $1.key }) {
        guard let hostname = projection.world.virtualDestinations[vd]?.spec.hostname else { continue }
        for (meshKey, status) in state.status.meshes where status.state == .accepted {
            guard let mesh = projection.world.meshes.values.first(where: { $0.ref.key == meshKey }) else { continue }
            let entries = objects.filter {
                $0.key.cluster == mesh.cluster && $0.key.kind == "ServiceEntry"
                    && $0.spec["hosts"] == .array([.string(hostname)])
            }
            if entries.count != 1 || entries[0].parents != [vd] { missing.append("\(vd) on \(meshKey)") }
        }
    }
    return missing
}

/// Aggregate clusters with an empty `clusters` list in these outputs (Envoy rejects them).
func emptyAggregateClusters(_ objects: [OutputObject]) -> [OutputKey] {
    objects.filter { object in
        guard object.key.kind == "EnvoyFilter", case .array(let patches)? = object.spec["configPatches"] else {
            return false
        }
        return patches.contains {
            $0[path: ["patch", "value", "cluster_type", "typed_config", "clusters"]] == .array([])
        }
    }.map(\.key)
}

@Suite struct OutputNameTests {
    @Test func twoVirtualDestinationsWhoseNamesJoinAlikeKeepTheirOwnOutputs() throws {
        let projection = try fleetLedger(
            staticVD("a.b", namespace: "c", hostname: "ab-c.global", backing: ["reviews@cluster-1"]),
            staticVD("a", namespace: "b-c", hostname: "a-bc.global", backing: ["reviews@cluster-1"])
        ).project()
        #expect(collidingKeys(projection) == [])
        #expect(virtualDestinationsMissingTheirServiceEntry(projection) == [])
        // The first by ref (namespace, then name) keeps the plain name; the other is told why not.
        let first = try #require(projection.state(of: ObjectRef(name: "a.b", namespace: "c")))
        let second = try #require(projection.state(of: ObjectRef(name: "a", namespace: "b-c")))
        #expect(second.evaluation.outputName == "a-b-c")
        #expect(first.evaluation.outputName.hasPrefix("a-b-c-") && first.evaluation.outputName.count == 22)
        #expect(
            first.status.warnings.contains(
                "Output name a-b-c is also the name of VirtualDestination a.b-c's outputs; this VirtualDestination's are named \(first.evaluation.outputName)"
            ))
        #expect(second.status.warnings == [])
        #expect(first.status.state == .accepted && second.status.state == .accepted)
    }

    @Test func aVirtualDestinationNamedLikeAFederatedServiceDoesNotTakeItsObjects() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("failover", backing: ["reviews@cluster-2", "reviews@cluster-1"]))
        try ledger.apply(
            staticVD(
                "reviews-bookinfo", namespace: "cluster-2", hostname: "mine.global", backing: ["ratings@cluster-1"]))
        let projection = ledger.project()
        #expect(collidingKeys(projection) == [])
        #expect(virtualDestinationsMissingTheirServiceEntry(projection) == [])
        // The federated ServiceEntry keeps Gloo's name and has the failover as its only parent.
        let federated = try #require(
            projection.outputObjects.first {
                $0.key
                    == OutputKey(
                        cluster: "cluster-1", kind: "ServiceEntry", namespace: "istio-system",
                        name: "reviews-bookinfo-cluster-2")
            })
        #expect(federated.spec["hosts"] == ["reviews.bookinfo.svc.cluster-2.global"])
        #expect(federated.parents == [ObjectRef(name: "failover", namespace: "bookinfo")])
        let mine = try #require(projection.state(of: ObjectRef(name: "reviews-bookinfo", namespace: "cluster-2")))
        #expect(mine.evaluation.outputName != "reviews-bookinfo-cluster-2")
        #expect(
            mine.status.warnings.first?.hasPrefix(
                "Output name reviews-bookinfo-cluster-2 is also the name of destination reviews.bookinfo.cluster-2's outputs"
            )
                == true)
    }

    /// The name a source gets changes only when another source wants the same name: deleting the
    /// one that had it gives the plain name back, and the other one's is never touched.
    @Test func aNameComesBackWhenTheOtherSourceGoes() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(staticVD("a", namespace: "b-c", hostname: "a-bc.global", backing: ["reviews@cluster-1"]))
        try ledger.apply(staticVD("a.b", namespace: "c", hostname: "ab-c.global", backing: ["reviews@cluster-1"]))
        #expect(ledger.project().state(of: ObjectRef(name: "a.b", namespace: "c"))?.evaluation.outputName != "a-b-c")
        try ledger.delete(.virtualDestination, "b-c", "a")
        let projection = ledger.project()
        #expect(projection.state(of: ObjectRef(name: "a.b", namespace: "c"))?.evaluation.outputName == "a-b-c")
        #expect(projection.status(of: ObjectRef(name: "a.b", namespace: "c"))?.warnings == [])
    }

    /// A VirtualDestination named exactly as another's disambiguated name does not take it.
    @Test func aNameThatIsAnotherSourcesDisambiguatedNameIsNotShared() throws {
        let loser = OutputSource.virtualDestination(ObjectRef(name: "a.b", namespace: "c"))
        let crafted = loser.disambiguatedName(0)
        let cut = crafted.lastIndex(of: "-")!
        let (name, namespace) = (String(crafted[..<cut]), String(crafted[crafted.index(after: cut)...]))
        #expect(OutputSource.virtualDestination(ObjectRef(name: name, namespace: namespace)).baseName == crafted)
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(staticVD("a", namespace: "b-c", hostname: "a-bc.global", backing: ["reviews@cluster-1"]))
        try ledger.apply(staticVD(name, namespace: namespace, hostname: "x.global", backing: ["reviews@cluster-1"]))
        try ledger.apply(staticVD("a.b", namespace: "c", hostname: "ab-c.global", backing: ["reviews@cluster-1"]))
        let projection = ledger.project()
        #expect(collidingKeys(projection) == [])
        #expect(virtualDestinationsMissingTheirServiceEntry(projection) == [])
        #expect(
            projection.state(of: ObjectRef(name: "a.b", namespace: "c"))?.evaluation.outputName
                == loser.disambiguatedName(1))
    }

    /// Random names and namespaces with dots and dashes, services with dashes in three clusters,
    /// static failovers between them: no two different sources ever share an output object,
    /// every VirtualDestination keeps its own ServiceEntry, after creates and after deletes.
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomNamesNeverShareAnOutput(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        func word(_ parts: Int, separators: [String]) -> String {
            (0..<parts).map { _ in ["a", "b", "ab", "ba"].randomElement(using: &random)! }
                .joined(separator: separators.randomElement(using: &random)!)
        }
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        var services: [String] = []
        for _ in 0..<6 {
            let service = word(Int.random(in: 1...3, using: &random), separators: ["-"])
            let cluster = "cluster-\(Int.random(in: 1...3, using: &random))"
            services.append("\(service)@\(cluster)")
            try ledger.apply(Fleet.destination(service, cluster, labels: "{app: x}"))
        }
        var created: [(String, String)] = []
        for index in 0..<24 {
            let name = word(Int.random(in: 1...3, using: &random), separators: ["-", "."])
            let namespace = word(Int.random(in: 1...3, using: &random), separators: ["-"])
            guard !created.contains(where: { $0 == (name, namespace) }) else { continue }
            created.append((name, namespace))
            // Some named like a service's federated objects (`<svc>-<ns>` in namespace `<cluster>`).
            let backing = (0..<2).map { _ in services.randomElement(using: &random)! }
            try ledger.apply(staticVD(name, namespace: namespace, hostname: "h\(index).global", backing: backing))
            if index % 5 == 0, let service = services.randomElement(using: &random) {
                let parts = service.split(separator: "@")
                try ledger.apply(
                    staticVD(
                        "\(parts[0])-bookinfo", namespace: String(parts[1]), hostname: "f\(index).global",
                        backing: [service]))
            }
        }
        var projection = ledger.project()
        #expect(collidingKeys(projection) == [])
        #expect(virtualDestinationsMissingTheirServiceEntry(projection) == [])
        #expect(projection.states.values.filter { $0.status.state == .accepted }.count > 10)
        // Disambiguated names are DNS labels too: every output validates against Istio's schemas.
        let file = FileManager.default.temporaryDirectory.path + "/outputs-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try YAMLText.emitDocuments(projection.outputObjects.map(\.manifest)).write(
            toFile: file, atomically: true, encoding: .utf8)
        let (status, report) = try validateIstio([file], crds: istioCRDs)
        #expect(status == 0, "\(report)")
        #expect(report.split(separator: "\n").last?.hasSuffix("passed, 0 failed") == true, "\(report)")
        for (name, namespace) in created.shuffled(using: &random).prefix(created.count / 2) {
            try ledger.delete(.virtualDestination, namespace, name)
        }
        projection = ledger.project()
        #expect(collidingKeys(projection) == [])
        #expect(virtualDestinationsMissingTheirServiceEntry(projection) == [])
    }

    /// Long names are hashed as Gloo's `SanitizeNameV2` hashes them: the md5 of the name after
    /// `.`, `/`, `_` and the others are replaced.
    @Test func longNamesHashLikeGloo() {
        let name = "reviews.with.a.rather.long.name.that.goes.on-bookinfo.with.a.long.namespace"
        // md5("reviews-with-a-rather-long-name-that-goes-on-bookinfo-with-a-long-namespace")
        #expect(sanitizeName(name) == "reviews-with-a-rather-long-name-e1f51924a7a095f990e9402e39c0585")
    }
}

@Suite struct ServedFaithfullyTests {
    @Test func aHostnameThatIsAFederatedHostnameIsNotAcceptedWhereItIsFederated() throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(Fleet.staticVD("failover", backing: ["reviews@cluster-2", "reviews@cluster-1"]))
        try ledger.apply(
            Fleet.staticVD(
                "squatter", hostname: "reviews.bookinfo.svc.cluster-2.global", backing: ["ratings@cluster-1"]))
        let projection = ledger.project()
        let status = try #require(projection.status("squatter"))
        let expected =
            "Hostname reviews.bookinfo.svc.cluster-2.global is the federated hostname of destination reviews.bookinfo.cluster-2"
        #expect(meshErrors(status, "cluster-1") == [expected])
        #expect(meshErrors(status, "cluster-3") == [expected])
        #expect(meshState(status, "cluster-2") == "ACCEPTED")
        #expect(status["state"] == "INVALID")
        // One ServiceEntry for that host in cluster-1: the federated one.
        let entries = projection.outputObjects.filter {
            $0.key.cluster == "cluster-1" && $0.key.kind == "ServiceEntry"
                && $0.spec["hosts"] == ["reviews.bookinfo.svc.cluster-2.global"]
        }
        #expect(entries.count == 1)
        // When the service goes, so does the reservation.
        try ledger.delete(.destination, "gloo-mesh", "reviews-bookinfo-cluster-2")
        #expect(meshState(try #require(ledger.project().status("squatter")), "cluster-1") == "ACCEPTED")
    }

    static let portless = Fleet.destination("empty", "cluster-2").replacingOccurrences(
        of: "ports: [{port: 9080, name: http, protocol: TCP}]", with: "ports: []")

    @Test func aFailoverWithNothingToFailOverToIsNotAccepted() throws {
        let (projection, status) = try statusOf(
            Fleet.staticVD("nothing", backing: ["empty@cluster-2"]), extra: [Self.portless])
        #expect(status["state"] == "INVALID")
        #expect(
            errors(status) == ["None of the backing destinations has a port: the failover would have no cluster."])
        #expect(
            status["warnings"] == [
                "Backing destination empty.bookinfo.cluster-2 has no ports and adds no cluster to the failover; skipped"
            ])
        #expect(emptyAggregateClusters(projection.outputObjects) == [])
        #expect(projection.outputObjects.isEmpty)
    }

    @Test func aPortlessPrimaryIsNamedAndLeftOutOfTheChain() throws {
        let (projection, status) = try statusOf(
            Fleet.staticVD("chain", backing: ["empty@cluster-2", "reviews@cluster-3"]), extra: [Self.portless])
        #expect(status["state"] == "ACCEPTED")
        #expect(
            status["warnings"] == [
                "Backing destination empty.bookinfo.cluster-2 has no ports and adds no cluster to the failover; skipped"
            ])
        let selected = status["selectedDestinations"]?.arrayValue?.compactMap {
            $0[path: ["destination", "kubeService", "name"]]?.stringValue
        }
        #expect(selected == ["reviews"])
        #expect(emptyAggregateClusters(projection.outputObjects) == [])
    }

    /// A Destination whose Mesh is gone is skipped as a missing one is: the holder of a hostname
    /// keeps it whichever of the two a resync deletes first.
    @Test(arguments: [true, false])
    func theHolderKeepsItsHostnameWhicheverIsDeletedFirst(meshFirst: Bool) throws {
        let ledger = try Ledger()
        try ledger.apply(Fleet.base)
        try ledger.apply(
            Fleet.staticVD("holder", hostname: "shared.global", backing: ["reviews@cluster-2", "reviews@cluster-1"]))
        try ledger.apply(Fleet.staticVD("waiting", hostname: "shared.global", backing: ["reviews@cluster-1"]))
        let mesh = Change(
            .delete(ObjectKey(kind: .mesh, namespace: "gloo-mesh", name: "istiod-istio-system-cluster-2"), nil),
            source: .discovery, actor: "agent")
        let destination = Change(
            .delete(ObjectKey(kind: .destination, namespace: "gloo-mesh", name: "reviews-bookinfo-cluster-2"), nil),
            source: .discovery, actor: "agent")
        _ = try ledger.append(meshFirst ? [mesh, destination] : [destination, mesh])
        // After each of the two events, not only after both.
        var projection = Projection()
        for (index, event) in ledger.events.enumerated() {
            projection.apply(event)
            guard index >= ledger.events.count - 2 else { continue }
            let holder = try #require(projection.status("holder"))
            #expect(meshState(holder, "cluster-1") == "ACCEPTED", "after \(event.key)")
            #expect(
                meshErrors(try #require(projection.status("waiting")), "cluster-1").first?.hasPrefix(
                    "Hostname shared.global is already used by VirtualDestination holder.bookinfo") == true)
        }
        if meshFirst {
            // Between the two events the Destination is there without its Mesh: skipped, said so.
            var between = Projection()
            for event in ledger.events.dropLast() { between.apply(event) }
            #expect(
                between.status("holder")?["warnings"]?.arrayValue?.contains(
                    "Mesh istiod-istio-system-cluster-2.gloo-mesh for destination reviews.bookinfo.cluster-2 not found; skipped"
                )
                    == true)
        }
        _ = ledger.project()
    }

    /// A resync that removes a cluster deletes its Destinations before their Mesh.
    @Test func aResyncDeletesDestinationsBeforeTheirMesh() throws {
        let ledger = try Ledger()
        try ledger.resync(
            cluster: "cluster-2",
            [Fleet.mesh("cluster-2", region: "us-west-2"), Fleet.destination("reviews", "cluster-2")].joined(
                separator: "\n---\n"))
        let deleted = try ledger.append(
            [], resync: Resync(cluster: "cluster-2", kinds: [.destination, .mesh], actor: "agent-cluster-2")
        ).filter { $0.change == .delete }.map(\.key.kind)
        #expect(deleted == [.destination, .mesh])
    }

    /// The state after event N is a function of events 1..N: the same events in one batch or one
    /// per batch give the same state after every event.
    @Test func batchBoundariesDoNotChangeTheStateAfterAnyEvent() throws {
        func changes() throws -> [Change] {
            let manifests = try ManifestReader.manifests(
                Array(
                    [
                        Fleet.base,
                        Fleet.staticVD(
                            "holder", hostname: "shared.global", backing: ["reviews@cluster-2", "reviews@cluster-1"]),
                        Fleet.staticVD("waiting", hostname: "shared.global", backing: ["reviews@cluster-1"]),
                    ].joined(separator: "\n---\n").utf8), name: "fleet")
            return manifests.map { Change(.upsert($0), source: $0.key.kind.source, actor: "test") } + [
                Change(
                    .delete(ObjectKey(kind: .mesh, namespace: "gloo-mesh", name: "istiod-istio-system-cluster-2"), nil),
                    source: .discovery, actor: "agent"),
                Change(
                    .delete(
                        ObjectKey(kind: .destination, namespace: "gloo-mesh", name: "reviews-bookinfo-cluster-2"), nil),
                    source: .discovery, actor: "agent"),
            ]
        }
        let whole = try Ledger()
        _ = try whole.append(try changes())
        let single = try Ledger()
        for change in try changes() { _ = try single.append([change]) }
        #expect(whole.events.count == single.events.count)
        var a = Projection()
        var b = Projection()
        for (x, y) in zip(whole.events, single.events) {
            a.apply(x)
            b.apply(y)
            #expect(canonicalState(a.states) == canonicalState(b.states), "after event \(x.sequence)")
        }
    }

    @Test func twoAcceptedVirtualDestinationsWithOneVIPAreBothWarned() throws {
        let ledger = try fleetLedger(
            staticVD("ab", namespace: "c", hostname: "one.global", backing: ["reviews@cluster-1"]),
            staticVD("a", namespace: "bc", hostname: "two.global", backing: ["reviews@cluster-1"]))
        let projection = ledger.project()
        let vip = virtualIP(name: "ab", namespace: "c", cluster: "", scope: "local-resource")
        #expect(vip == "253.59.255.229")
        let first = try #require(projection.status("ab", "c"))
        let second = try #require(projection.status("a", "bc"))
        #expect(first["state"] == "ACCEPTED" && second["state"] == "ACCEPTED")
        let mesh = "istiod-istio-system-cluster-1.gloo-mesh."
        #expect(
            first[path: ["meshes", mesh, "warnings"]] == [
                "VIP 253.59.255.229 is also the VIP of VirtualDestination a.bc, accepted on this mesh"
            ])
        #expect(
            second[path: ["meshes", mesh, "warnings"]] == [
                "VIP 253.59.255.229 is also the VIP of VirtualDestination ab.c, accepted on this mesh"
            ])
        // Not on a mesh where only one of them is accepted.
        try ledger.delete(.virtualDestination, "bc", "a")
        #expect(ledger.project().status("ab", "c")?[path: ["meshes", mesh, "warnings"]] == nil)
    }

    @Test func noGoldenScenarioNorTheBenchmarkFleetEmitsAnEmptyAggregateCluster() throws {
        for name in GoldenTests.scenarios {
            let projection = try runScenario(name)
            #expect(emptyAggregateClusters(projection.outputObjects) == [], "\(name)")
            #expect(collidingKeys(projection) == [], "\(name)")
        }
        let ledger = try Ledger()
        var workload = FleetWorkload(.init(clusters: 4, servicesPerCluster: 10, virtualDestinations: 40))
        for batch in workload.initialBatches() { _ = try ledger.append(batch) }
        for _ in 0..<200 { _ = try ledger.append(workload.nextBatch()) }
        let projection = ledger.project()
        let objects = projection.outputObjects
        #expect(objects.contains { $0.key.kind == "EnvoyFilter" })
        #expect(emptyAggregateClusters(objects) == [])
        #expect(collidingKeys(projection) == [])
    }
}
