import EventLog
import Foundation
import MeshModel
import Testing

@testable import Projection

/// Builds events through the real event log (generation counting, no-op detection), in a fresh
/// store per call.
final class Ledger {
    let log: EventLog
    var events: [Event] = []
    private var clock: Int64 = 1_800_000_000_000_000

    init() throws {
        var options = EventLog.Options()
        options.noSync = true
        log = try EventLog.open(
            at: FileManager.default.temporaryDirectory.path + "/projection-\(UUID().uuidString)", options: options)
    }

    /// Appends upserts of the manifests in `yaml` (one batch) and returns the new events.
    @discardableResult
    func apply(_ yaml: String, actor: String = "test") throws -> [Event] {
        let manifests = try ManifestReader.manifests(Array(yaml.utf8), name: "test")
        return try append(manifests.map { Change(.upsert($0), source: $0.key.kind.source, actor: actor) })
    }

    /// A full resync of one cluster's discovered objects.
    @discardableResult
    func resync(cluster: String, _ yaml: String) throws -> [Event] {
        let manifests = try ManifestReader.manifests(Array(yaml.utf8), name: "resync")
        return try append(
            manifests.map { Change(.upsert($0), source: .discovery, actor: "agent-\(cluster)") },
            resync: Resync(cluster: cluster, kinds: [.destination, .mesh], actor: "agent-\(cluster)"))
    }

    /// A watch stream, as `ingest` records it.
    @discardableResult
    func watch(_ json: String) throws -> [Event] {
        let changes = try ManifestReader.watchEvents(Array(json.utf8), name: "watch").compactMap { event -> Change? in
            guard let manifest = event.manifest else { return nil }
            if event.type == .deleted {
                return Change(
                    .delete(manifest.key, manifest), source: manifest.key.kind.source, actor: "watch",
                    ignoreNotFound: true)
            }
            return Change(.upsert(manifest), source: manifest.key.kind.source, actor: "watch")
        }
        return try append(changes)
    }

    /// Deletes every object of the manifests in `yaml`.
    @discardableResult
    func delete(_ yaml: String) throws -> [Event] {
        let manifests = try ManifestReader.manifests(Array(yaml.utf8), name: "delete")
        return try append(manifests.map { Change(.delete($0.key, $0), source: $0.key.kind.source, actor: "test") })
    }

    /// Deletes an object.
    @discardableResult
    func delete(_ kind: ResourceKind, _ namespace: String, _ name: String) throws -> [Event] {
        try append([
            Change(
                .delete(ObjectKey(kind: kind, namespace: namespace, name: name), nil), source: kind.source,
                actor: "test")
        ])
    }

    func append(_ changes: [Change], resync: Resync? = nil) throws -> [Event] {
        clock += 1_000_000
        let time = clock
        let result = try log.append(Batch(changes, resync: resync), clock: { Timestamp(microseconds: time) })
        guard let range = result.range else { return [] }
        var new: [Event] = []
        try log.scan(range) { event in
            new.append(event)
            return true
        }
        events += new
        return new
    }

    /// Both projections folded over every event so far; fails the test if they disagree.
    func project() -> Projection {
        var incremental = Projection()
        var reference = ReferenceProjection()
        for event in events {
            incremental.apply(event)
            reference.apply(event)
        }
        #expect(canonicalState(incremental.states) == canonicalState(reference.states))
        return incremental
    }
}

extension Projection {
    /// The status of a VirtualDestination as JSON.
    func status(_ name: String, _ namespace: String = "bookinfo") -> JSONValue? {
        states[ObjectRef(name: name, namespace: namespace)]?.status.json
    }

    /// Every merged output object.
    var outputObjects: [OutputObject] {
        mergeOutputs(states.flatMap { ref, state in state.outputs.map { (ref, $0) } })
    }
}

/// Manifests of a small fleet: meshes and services in three clusters, grouped by a VirtualMesh.
enum Fleet {
    static func mesh(_ cluster: String, region: String, gateway: String? = nil) -> String {
        let gateways =
            gateway.map {
                "\n    ingressGateways:\n    - {externalAddress: \($0), externalTlsPort: 15443, tlsContainerPort: 15443}"
            } ?? ""
        return """
            apiVersion: discovery.mesh.gloo.solo.io/v1alpha2
            kind: Mesh
            metadata: {name: istiod-istio-system-\(cluster), namespace: gloo-mesh}
            spec:
              istio:
                installation: {namespace: istio-system, cluster: \(cluster), region: \(region)}\(gateways)
            """
    }

    static func destination(
        _ service: String, _ cluster: String, region: String = "", zone: String = "", labels: String = "{}",
        port: Int = 9080
    ) -> String {
        """
        apiVersion: discovery.mesh.gloo.solo.io/v1alpha2
        kind: Destination
        metadata: {name: \(service)-bookinfo-\(cluster), namespace: gloo-mesh}
        spec:
          mesh: {name: istiod-istio-system-\(cluster), namespace: gloo-mesh}
          kubeService:
            ref: {name: \(service), namespace: bookinfo, clusterName: \(cluster)}
            labels: \(labels)
            region: \(region)
            ports: [{port: \(port), name: http, protocol: TCP}]
            endpointSubsets: [{endpoints: [{ipAddress: 10.0.0.1, subLocality: {zone: "\(zone)"}}]}]
        """
    }

    static func virtualMesh(_ name: String = "federation", meshes: [String], suffix: String? = nil) -> String {
        let list = meshes.map { "{name: istiod-istio-system-\($0), namespace: gloo-mesh}" }.joined(separator: ", ")
        let federation = suffix.map { "\n  federation: {hostnameSuffix: \($0)}" } ?? ""
        return """
            apiVersion: networking.mesh.gloo.solo.io/v1alpha2
            kind: VirtualMesh
            metadata: {name: \(name), namespace: gloo-mesh}
            spec:
              meshes: [\(list)]\(federation)
            """
    }

    static func outlierPolicy(_ name: String = "outlier", labels: String = "{}", consecutiveErrors: Int = 3) -> String {
        """
        apiVersion: networking.mesh.gloo.solo.io/v1alpha2
        kind: TrafficPolicy
        metadata: {name: \(name), namespace: gloo-mesh}
        spec:
          destinationSelector: [{kubeServiceMatcher: {labels: \(labels)}}]
          policy:
            outlierDetection: {consecutiveErrors: \(consecutiveErrors), interval: 5s}
        """
    }

    static func staticVD(
        _ name: String, hostname: String? = nil, port: String = "{number: 9080, protocol: http}",
        export: String = "virtualMesh: {name: federation, namespace: gloo-mesh}", backing: [String]
    ) -> String {
        let list = backing.map {
            "    - kubeService: {name: \($0.split(separator: "@")[0]), namespace: bookinfo, clusterName: \($0.split(separator: "@")[1])}"
        }
        let destinations = list.isEmpty ? "    destinations: []" : "    destinations:\n" + list.joined(separator: "\n")
        return """
            apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
            kind: VirtualDestination
            metadata: {name: \(name), namespace: bookinfo}
            spec:
              hostname: \(hostname ?? "\(name).global")
              port: \(port)
              \(export)
              static:
            \(destinations)
            """
    }

    static func localizedVD(
        _ name: String, hostname: String? = nil, labels: String, outlier: Bool = true,
        export: String = "virtualMesh: {name: federation, namespace: gloo-mesh}"
    ) -> String {
        """
        apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
        kind: VirtualDestination
        metadata: {name: \(name), namespace: bookinfo}
        spec:
          hostname: \(hostname ?? "\(name).global")
          port: {number: 9080, protocol: HTTP}
          \(export)
          localized:
            destinationSelectors: [{kubeServiceMatcher: {labels: \(labels)}}]
            failoverDirectives:
            - from: {region: us-east-1}
              to: [{region: us-west-2}, {region: eu-west-1}]\(outlier ? "\n    outlierDetection: {consecutiveErrors: 2}" : "")
        """
    }

    /// Three clusters with gateways, reviews in all three, ratings in 1 and 3, grouped, with an
    /// outlier policy for everything.
    static let base = [
        mesh("cluster-1", region: "us-east-1", gateway: "gw1.example.com"),
        mesh("cluster-2", region: "us-west-2", gateway: "gw2.example.com"),
        mesh("cluster-3", region: "eu-west-1", gateway: "gw3.example.com"),
        destination("reviews", "cluster-1", region: "us-east-1", zone: "us-east-1a", labels: "{app: reviews}"),
        destination("reviews", "cluster-2", region: "us-west-2", labels: "{app: reviews}"),
        destination("reviews", "cluster-3", region: "eu-west-1", labels: "{app: reviews}"),
        destination("ratings", "cluster-1", region: "us-east-1", labels: "{app: ratings}"),
        destination("ratings", "cluster-3", region: "eu-west-1", labels: "{app: ratings}"),
        virtualMesh(meshes: ["cluster-1", "cluster-2", "cluster-3"]),
        outlierPolicy(),
    ].joined(separator: "\n---\n")
}
