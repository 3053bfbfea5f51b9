public import EventLog
import Foundation
import MeshModel

/// A seeded generator of realistic, messy event streams: services appearing, changing and
/// disappearing in several clusters, meshes losing gateways, VirtualMeshes and TrafficPolicies
/// changing, VirtualDestinations (static and localized, some invalid, some sharing hostnames)
/// applied, edited and deleted, and controller reports.
public struct ChaosStream {
    var random: SplitMix64
    let clusters: [String]
    let services = ["reviews", "ratings", "details", "productpage", "cart"]
    let regions = ["us-east-1", "us-west-2", "eu-west-1"]

    /// A generator over `clusters` clusters, seeded.
    public init(seed: UInt64, clusters: Int) {
        random = SplitMix64(seed: seed)
        self.clusters = (1...clusters).map { "cluster-\($0)" }
    }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
    mutating func chance(_ percent: Int) -> Bool { Int(random.next() % 100) < percent }

    /// One batch of changes (usually one object).
    public mutating func next() throws -> [Change] {
        let roll = random.next() % 100
        switch roll {
        case 0..<35: return [try destinationChange()]
        case 35..<42: return [try meshChange()]
        case 42..<47: return [try virtualMeshChange()]
        case 47..<53: return [try trafficPolicyChange()]
        case 53..<92: return [try virtualDestinationChange()]
        default: return [try syncResult()]
        }
    }

    func manifest(_ yaml: String) throws -> Manifest { try ManifestReader.manifests(Array(yaml.utf8), name: "gen")[0] }

    mutating func destinationChange() throws -> Change {
        let service = pick(services)
        let cluster = pick(clusters)
        let name = "\(service)-bookinfo-\(cluster)"
        if chance(25) {
            return Change(
                .delete(ObjectKey(kind: .destination, namespace: "gloo-mesh", name: name), nil), source: .discovery,
                actor: "agent-\(cluster)", ignoreNotFound: true)
        }
        let yaml = Fleet.destination(
            service, cluster, region: pick(regions), zone: chance(50) ? "z\(random.next() % 3)" : "",
            labels: "{app: \(service), tier: \(pick(["a", "b"]))}", port: pick([9080, 8080]))
        return Change(.upsert(try manifest(yaml)), source: .discovery, actor: "agent-\(cluster)")
    }

    mutating func meshChange() throws -> Change {
        let cluster = pick(clusters)
        if chance(15) {
            return Change(
                .delete(ObjectKey(kind: .mesh, namespace: "gloo-mesh", name: "istiod-istio-system-\(cluster)"), nil),
                source: .discovery, actor: "agent-\(cluster)", ignoreNotFound: true)
        }
        let gateway = chance(80) ? "gw.\(cluster).example.com" : nil
        return Change(
            .upsert(try manifest(Fleet.mesh(cluster, region: pick(regions), gateway: gateway))), source: .discovery,
            actor: "agent-\(cluster)")
    }

    mutating func virtualMeshChange() throws -> Change {
        let name = pick(["federation", "federation", "other"])
        if chance(15) {
            return Change(
                .delete(ObjectKey(kind: .virtualMesh, namespace: "gloo-mesh", name: name), nil), source: .user,
                actor: "ops", ignoreNotFound: true)
        }
        let members = clusters.filter { _ in chance(70) }
        let suffix = chance(80) ? nil : "mesh"
        return Change(
            .upsert(
                try manifest(Fleet.virtualMesh(name, meshes: members.isEmpty ? [clusters[0]] : members, suffix: suffix))
            ), source: .user, actor: "ops")
    }

    mutating func trafficPolicyChange() throws -> Change {
        let name = pick(["outlier", "outlier-reviews", "outlier-b"])
        if chance(20) {
            return Change(
                .delete(ObjectKey(kind: .trafficPolicy, namespace: "gloo-mesh", name: name), nil), source: .user,
                actor: "ops", ignoreNotFound: true)
        }
        let labels = pick(["{}", "{app: reviews}", "{tier: b}", "{app: ratings}"])
        // Now and then a policy without outlier detection: it selects Destinations without
        // lifting their "no outlier detection" error (which names it).
        let yaml =
            chance(25)
            ? Fleet.retryPolicy(name, labels: labels, attempts: pick([2, 3]))
            : Fleet.outlierPolicy(name, labels: labels, consecutiveErrors: pick([1, 3, 5]))
        return Change(.upsert(try manifest(yaml)), source: .user, actor: "ops")
    }

    mutating func virtualDestinationChange() throws -> Change {
        let name = "vd-\(random.next() % 12)"
        if chance(12) {
            return Change(
                .delete(ObjectKey(kind: .virtualDestination, namespace: "bookinfo", name: name), nil), source: .user,
                actor: pick(["alice", "bob"]), ignoreNotFound: true)
        }
        let hostname = chance(85) ? "\(pick(services)).global" : pick(["x.mesh", "Bad_Host.global"])
        let port =
            chance(90) ? "{number: 9080, protocol: \(pick(["http", "HTTP", "tcp"]))}" : "{number: 0, protocol: udp}"
        let export = pick([
            "virtualMesh: {name: federation, namespace: gloo-mesh}",
            "virtualMesh: {name: other, namespace: gloo-mesh}",
            "meshList: {meshes: [{name: istiod-istio-system-\(pick(clusters)), namespace: gloo-mesh}, {name: istiod-istio-system-\(pick(clusters)), namespace: gloo-mesh}]}",
            "",
        ])
        let yaml: String
        if chance(55) {
            let backing = (0..<Int(random.next() % 3 + 1)).map { _ in "\(pick(services))@\(pick(clusters))" }
            yaml = Fleet.staticVD(
                name, hostname: hostname, port: port, export: export,
                backing: Array(NSOrderedSet(array: backing)) as! [String])
        } else {
            let labels = pick(["{app: reviews}", "{app: ratings, tier: a}", "{tier: b}", "{app: cart}"])
            yaml = Fleet.localizedVD(name, hostname: hostname, labels: labels, outlier: chance(50), export: export)
                .replacingOccurrences(of: "port: {number: 9080, protocol: HTTP}", with: "port: \(port)")
        }
        return Change(.upsert(try manifest(yaml)), source: .user, actor: pick(["alice", "bob"]))
    }

    mutating func syncResult() throws -> Change {
        let cluster = pick(clusters)
        let name = "vd-\(random.next() % 12)-bookinfo"
        let failed = chance(50)
        let yaml = """
            apiVersion: meshledger.dev/v1alpha1
            kind: SyncResult
            metadata: {name: \(cluster).serviceentry.\(name), namespace: istio-system}
            spec: {cluster: \(cluster), kind: ServiceEntry, namespace: istio-system, name: \(name), result: \(failed ? "failed" : "applied")\(failed ? ", error: quota exceeded" : "")}
            """
        return Change(.upsert(try manifest(yaml)), source: .controller, actor: "controller-\(cluster)")
    }
}

/// SplitMix64: a small seeded generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    /// A generator with this seed.
    public init(seed: UInt64) { state = seed }
    /// The next value.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
