public import MeshModel

import enum Crypto.Insecure
import struct Crypto.SHA256

/// The identity of an output object: target cluster, kind, namespace and name.
public struct OutputKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The cluster the object is written to.
    public var cluster: String
    /// `ServiceEntry`, `DestinationRule` or `EnvoyFilter`.
    public var kind: String
    /// The mesh's installation namespace.
    public var namespace: String
    /// The object's name.
    public var name: String

    /// Creates a key.
    public init(cluster: String, kind: String, namespace: String, name: String) {
        self.cluster = cluster
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public static func < (a: OutputKey, b: OutputKey) -> Bool {
        // Field by field, without building tuples of copies (outputs are sorted by key often).
        if a.cluster != b.cluster { return a.cluster < b.cluster }
        if a.kind != b.kind { return a.kind < b.kind }
        if a.namespace != b.namespace { return a.namespace < b.namespace }
        return a.name < b.name
    }

    public var description: String { "\(cluster)/\(kind)/\(namespace)/\(name)" }
}

/// One output object as one VirtualDestination produces it: key and spec.
public struct OutputPiece: Sendable, Hashable {
    /// Where and what.
    public var key: OutputKey
    /// The mesh it was produced for (`name.namespace.`).
    public var mesh: String
    /// The Istio `spec`.
    public var spec: JSONValue
}

/// An output object merged from every VirtualDestination that produces it.
public struct OutputObject: Sendable, Hashable {
    /// Where and what.
    public var key: OutputKey
    /// The mesh it belongs to.
    public var mesh: String
    /// The Istio `spec`.
    public var spec: JSONValue
    /// The VirtualDestinations that produced it, sorted.
    public var parents: [ObjectRef]

    /// The whole `networking.istio.io/v1alpha3` manifest.
    public var manifest: JSONValue {
        let parentList = JSONValue.array(parents.map { $0.json })
        let annotation = JSONText.string([
            "networking.enterprise.mesh.gloo.solo.io/v1alpha1, Kind=VirtualDestination": parentList
        ])
        return [
            "apiVersion": "networking.istio.io/v1alpha3",
            "kind": .string(key.kind),
            "metadata": [
                "name": .string(key.name), "namespace": .string(key.namespace),
                "labels": [
                    "owner.networking.mesh.gloo.solo.io": "gloo-mesh",
                    "cluster.multicluster.solo.io": .string(key.cluster),
                ],
                "annotations": ["parents.networking.mesh.gloo.solo.io": .string(annotation)],
            ],
            "spec": spec,
        ]
    }

    /// SHA-256 of the canonical manifest: what a controller reports it applied.
    public var digest: String { manifestAndDigest.digest }

    /// The manifest and its digest, the manifest built once.
    public var manifestAndDigest: (manifest: JSONValue, digest: String) {
        let rendered = self.rendered
        return (rendered.manifest, rendered.digest)
    }

    /// The manifest, its digest, and its `spec` serialized (canonical), for a writer that puts
    /// the manifest in several documents (`JSONText.canonical(_:member:encoded:)`).
    public var rendered: (manifest: JSONValue, digest: String, spec: [UInt8]) {
        let manifest = self.manifest
        let spec = JSONText.canonical(self.spec)
        return (manifest, hex(SHA256.hash(data: JSONText.canonical(manifest, member: "spec", encoded: spec))), spec)
    }
}

/// Istio names: DNS labels, as Gloo's `SanitizeNameV2` makes them. `* / . : _` and space become
/// `-`; `[ ] \n " '` are dropped; over 63 bytes: the first 31, `-`, the md5 hex digest of the name
/// so replaced (before lower-casing), cut to 63; then lower-cased.
public func sanitizeName(_ name: String) -> String {
    var out = ""
    for character in name {
        switch character {
        case "*", "/", ".", ":", "_", " ": out.append("-")
        case "[", "]", "\n", "\"", "'": continue
        default: out.append(character)
        }
    }
    let bytes = Array(out.utf8)
    if bytes.count > 63 {
        let digest = hex(Insecure.MD5.hash(data: bytes))
        out = String(decoding: (Array(bytes.prefix(31)) + Array(("-" + digest).utf8)).prefix(63), as: UTF8.self)
    }
    return out.lowercased()
}

/// Who an output object's name belongs to (docs/domain.md 4.5, decision 0014): a backing
/// service, whose federated objects every VirtualDestination failing over to it shares, or a
/// VirtualDestination, for the objects of its own hostname.
public enum OutputSource: Sendable, Hashable, Comparable, CustomStringConvertible {
    case service(ClusterObjectRef)
    case virtualDestination(ObjectRef)

    /// The name it wants: `<svc>-<ns>-<cluster>` or `<name>-<namespace>`, sanitized.
    public var baseName: String {
        switch self {
        case .service(let s): sanitizeName("\(s.name)-\(s.namespace)-\(s.clusterName)")
        case .virtualDestination(let r): sanitizeName("\(r.name)-\(r.namespace)")
        }
    }

    public var description: String {
        switch self {
        case .service(let s): "destination \(s)"
        case .virtualDestination(let r): "VirtualDestination \(r)"
        }
    }

    /// Services first (their federated objects are named as Gloo names them), then
    /// VirtualDestinations, each by ref.
    public static func < (a: OutputSource, b: OutputSource) -> Bool {
        switch (a, b) {
        case (.service(let x), .service(let y)): x < y
        case (.virtualDestination(let x), .virtualDestination(let y)): x < y
        case (.service, .virtualDestination): true
        case (.virtualDestination, .service): false
        }
    }

    /// The input objects behind a source (for `explain`).
    func objectKeys(_ world: World) -> [ObjectKey] {
        switch self {
        case .service(let s): (world.destinationsByService[s] ?? []).sorted().map { $0.objectKey(.destination) }
        case .virtualDestination(let r): [r.objectKey(.virtualDestination)]
        }
    }

    /// The name of a source that does not get its base name: the base cut to 46 characters, `-`,
    /// 16 hex digits of the SHA-256 of the source (attempt `k` > 0 hashes `#k` too).
    func disambiguatedName(_ attempt: Int) -> String {
        let identity = "\(description)" + (attempt == 0 ? "" : "#\(attempt)")
        let digest = hex(SHA256.hash(data: Array(identity.utf8)).prefix(8))
        return String(baseName.prefix(46)) + "-" + digest
    }
}

/// The hostname a remote service has in a mesh that reaches it through federation:
/// `<svc>.<ns>.svc.<cluster>.<suffix>` (docs/domain.md 4.5).
func federatedHostname(_ service: ClusterObjectRef, suffix: String) -> String {
    "\(service.name).\(service.namespace).svc.\(service.clusterName).\(suffix)"
}

/// The service whose federated hostname `hostname` is, under `suffix` (nil when it is not of
/// that form): what a VirtualDestination's hostname must not be (docs/domain.md 4.3).
func federatedService(ofHostname hostname: String, suffix: String) -> ClusterObjectRef? {
    guard hostname.hasSuffix("." + suffix) else { return nil }
    let labels = hostname.dropLast(suffix.count + 1).split(separator: ".", omittingEmptySubsequences: false)
    guard labels.count >= 4, labels[2] == "svc" else { return nil }
    return ClusterObjectRef(
        name: String(labels[0]), namespace: String(labels[1]), clusterName: labels[3...].joined(separator: "."))
}

/// The VIP of a service: FNV-1 (not FNV-1a) 32-bit over name + namespace + cluster + scope, its
/// bytes little-endian, the first OR 0xF0 (docs/domain.md 4.5).
public func virtualIP(name: String, namespace: String, cluster: String, scope: String) -> String {
    var hash: UInt32 = 0x811C_9DC5
    for byte in (name + namespace + cluster + scope).utf8 {
        hash = hash &* 0x0100_0193
        hash ^= UInt32(byte)
    }
    let b0 = UInt8(hash & 0xFF) | 0xF0
    return "\(b0).\((hash >> 8) & 0xFF).\((hash >> 16) & 0xFF).\(hash >> 24)"
}

/// Istio OutlierDetection from Gloo's, with the defaults of docs/domain.md 4.5.
func istioOutlierDetection(_ o: OutlierDetection) -> JSONValue {
    [
        "consecutive5xxErrors": .int(o.consecutiveErrors ?? 5),
        "interval": .string(o.interval ?? "10s"),
        "baseEjectionTime": .string(o.baseEjectionTime ?? "30s"),
        "maxEjectionPercent": .int(o.maxEjectionPercent ?? 100),
    ]
}

/// A service port as an Istio port: its protocol (TCP when unknown), a name always set.
func istioPort(_ port: Destination.Port) -> JSONValue {
    let upper = port.protocol.uppercased()
    let proto = allowedProtocols.contains(upper) ? upper : "TCP"
    let name = port.name.isEmpty ? "\(proto.lowercased())-\(port.port)" : port.name
    return ["number": .int(port.port), "protocol": .string(proto), "name": .string(name)]
}

/// The first ingress gateway with an address, of the mesh of a Destination.
func gateway(of destination: Destination, in world: World) -> Mesh.IngressGateway? {
    world.meshes[destination.mesh]?.ingressGateways.first { !$0.externalAddress.isEmpty }
}

/// Translates a VirtualDestination accepted on `meshRef` into Istio objects for that mesh's
/// cluster (docs/domain.md 4.5): localized failover as endpoints and locality rules, static
/// failover as an aggregate cluster over federated services. One function per output below.
/// With `only`, just the outputs of that kind, in the same order (a TrafficPolicy's outlier
/// settings reach DestinationRules alone, so a policy edit translates those).
func translate(
    _ vd: VirtualDestination, evaluation e: Evaluation, mesh meshRef: ObjectRef, world: World,
    only kind: String? = nil
) -> [OutputPiece] {
    guard let translator = Translator(vd, e, meshRef, world, only: kind) else { return [] }
    switch vd.backing {
    case .localized(_, let failover, let outlier): return translator.localized(failover, outlier)
    case .staticList: return translator.staticFailover()
    case .none: return []
    }
}

/// What every output of one VirtualDestination on one mesh shares, and the outputs themselves.
private struct Translator {
    let vd: VirtualDestination
    let e: Evaluation
    let meshRef: ObjectRef
    let world: World
    /// The mesh's cluster: where the outputs are written.
    let cluster: String
    /// The mesh's installation namespace: the outputs' namespace.
    let namespace: String
    /// The name of the hostname's own objects (unique among output names, decision 0014).
    let baseName: String
    let hostname: String
    let portNumber: Int64
    /// The port's protocol, upper case.
    let proto: String
    /// The one kind of output wanted (nil: all).
    let only: String?

    init?(_ vd: VirtualDestination, _ e: Evaluation, _ meshRef: ObjectRef, _ world: World, only: String?) {
        guard let mesh = world.meshes[meshRef], let hostname = vd.hostname, let port = vd.port else { return nil }
        self.vd = vd
        self.e = e
        self.meshRef = meshRef
        self.world = world
        cluster = mesh.cluster
        namespace = mesh.installationNamespace
        baseName = e.outputName
        self.hostname = hostname
        portNumber = port.number
        proto = port.protocol.uppercased()
        self.only = only
    }

    /// Whether outputs of this kind are wanted.
    func wants(_ kind: String) -> Bool { only == nil || only == kind }

    func piece(_ kind: String, _ name: String, _ spec: JSONValue) -> OutputPiece {
        OutputPiece(
            key: OutputKey(cluster: cluster, kind: kind, namespace: namespace, name: name), mesh: meshRef.key,
            spec: spec)
    }

    /// Localized failover: the hostname's ServiceEntry lists every selected Destination as an
    /// endpoint with its locality; its DestinationRule enables locality failover.
    func localized(_ failover: [VirtualDestination.FailoverDirective], _ outlier: OutlierDetection?) -> [OutputPiece] {
        var rules: [JSONValue] = []
        for directive in failover {
            for to in directive.to { rules.append(["from": .string(directive.from), "to": .string(to)]) }
        }
        var loadBalancer: JSONObject = ["enabled": true]
        if !rules.isEmpty { loadBalancer["failover"] = .array(rules) }
        var pieces: [OutputPiece] = []
        if wants("ServiceEntry") { pieces.append(hostServiceEntry(endpoints: e.selected.map(localizedEndpoint))) }
        if wants("DestinationRule") {
            pieces.append(
                hostDestinationRule(
                    outlier: outlier ?? firstOutlierDetection(e.selected, world),
                    loadBalancer: ["localityLbSetting": .object(loadBalancer)]))
        }
        return pieces
    }

    /// One endpoint of a localized ServiceEntry: the local service, or a remote one through its
    /// mesh's ingress gateway.
    func localizedEndpoint(_ d: Destination) -> JSONValue {
        var endpoint = JSONObject()
        if d.service.clusterName == cluster {
            endpoint["address"] = .string("\(d.service.name).\(d.service.namespace).svc.cluster.local")
            if let first = d.ports.first { endpoint["ports"] = [proto.lowercased(): .int(first.port)] }
        } else if let gw = gateway(of: d, in: world) {
            endpoint["address"] = .string(gw.externalAddress)
            endpoint["ports"] = [proto.lowercased(): .int(gw.externalTlsPort)]
            endpoint["labels"] = ["cluster": .string(d.service.clusterName)]
        }
        if !d.region.isEmpty {
            endpoint["locality"] = .string(d.zone.isEmpty ? d.region : "\(d.region)/\(d.zone)")
        }
        return .object(endpoint)
    }

    /// Static failover: per remote Destination a federated ServiceEntry (and a DestinationRule
    /// when a TrafficPolicy gives it outlier detection), an EnvoyFilter aggregate cluster over
    /// all of them in priority order, then the hostname's own ServiceEntry and DestinationRule.
    func staticFailover() -> [OutputPiece] {
        var pieces: [OutputPiece] = []
        var clusters: [JSONValue] = []
        for d in e.selected {
            let local = d.service.clusterName == cluster
            let fqdn =
                local
                ? "\(d.service.name).\(d.service.namespace).svc.cluster.local"
                : federatedHostname(d.service, suffix: e.hostnameSuffix)
            if wants("EnvoyFilter") { for p in d.ports { clusters.append(.string("outbound|\(p.port)||\(fqdn)")) } }
            guard wants("ServiceEntry") || wants("DestinationRule") else { continue }
            let name = e.federatedNames[d.service] ?? OutputSource.service(d.service).baseName
            if !local, wants("ServiceEntry"), let gw = gateway(of: d, in: world) {
                pieces.append(federatedServiceEntry(d, fqdn: fqdn, name: name, gateway: gw))
            }
            if wants("DestinationRule"), let rule = federatedDestinationRule(d, fqdn: fqdn, name: name) {
                pieces.append(rule)
            }
        }
        if wants("EnvoyFilter") { pieces.append(aggregateCluster(clusters)) }
        if wants("ServiceEntry") { pieces.append(hostServiceEntry(endpoints: nil)) }
        if wants("DestinationRule") {
            pieces.append(hostDestinationRule(outlier: firstOutlierDetection(e.selected, world), loadBalancer: nil))
        }
        return pieces
    }

    /// The hostname's ServiceEntry, with its stable VIP (and endpoints for localized failover).
    func hostServiceEntry(endpoints: [JSONValue]?) -> OutputPiece {
        var spec: JSONObject = [
            "hosts": [.string(hostname)],
            "addresses": [
                .string(virtualIP(name: vd.ref.name, namespace: vd.ref.namespace, cluster: "", scope: "local-resource"))
            ],
            "ports": [["number": .int(portNumber), "protocol": .string(proto), "name": .string(proto.lowercased())]],
            "location": "MESH_INTERNAL",
            "resolution": "DNS",
        ]
        if let endpoints { spec["endpoints"] = .array(endpoints) }
        return piece("ServiceEntry", baseName, .object(spec))
    }

    /// The hostname's DestinationRule: mutual TLS, outlier detection, locality load balancing.
    func hostDestinationRule(outlier: OutlierDetection?, loadBalancer: JSONValue?) -> OutputPiece {
        var trafficPolicy: JSONObject = ["tls": ["mode": "ISTIO_MUTUAL"]]
        if let outlier { trafficPolicy["outlierDetection"] = istioOutlierDetection(outlier) }
        if let loadBalancer { trafficPolicy["loadBalancer"] = loadBalancer }
        return piece("DestinationRule", baseName, ["host": .string(hostname), "trafficPolicy": .object(trafficPolicy)])
    }

    /// A remote service made addressable in this cluster through its mesh's ingress gateway.
    func federatedServiceEntry(
        _ d: Destination, fqdn: String, name: String, gateway gw: Mesh.IngressGateway
    ) -> OutputPiece {
        var ports = JSONObject()
        for p in d.ports {
            if case .string(let portName)? = istioPort(p)["name"] { ports[portName] = .int(gw.externalTlsPort) }
        }
        return piece(
            "ServiceEntry", name,
            [
                "hosts": [.string(fqdn)],
                "addresses": [
                    .string(
                        virtualIP(
                            name: d.service.name, namespace: d.service.namespace, cluster: d.service.clusterName,
                            scope: "kube-service"))
                ],
                "ports": .array(d.ports.map(istioPort)),
                "location": "MESH_INTERNAL",
                "resolution": "DNS",
                "endpoints": [
                    [
                        "address": .string(gw.externalAddress), "ports": .object(ports),
                        "labels": ["cluster": .string(d.service.clusterName)],
                    ]
                ],
            ])
    }

    /// The outlier detection of a backing service, when a TrafficPolicy gives it some.
    func federatedDestinationRule(_ d: Destination, fqdn: String, name: String) -> OutputPiece? {
        guard let detection = world.outlierPolicies(for: d).first?.outlierDetection else { return nil }
        return piece(
            "DestinationRule", name,
            [
                "host": .string(fqdn),
                "trafficPolicy": [
                    "tls": ["mode": "ISTIO_MUTUAL"], "outlierDetection": istioOutlierDetection(detection),
                ],
            ])
    }

    /// The EnvoyFilter that replaces the hostname's cluster with an aggregate cluster over the
    /// backing services' clusters, in priority order.
    func aggregateCluster(_ clusters: [JSONValue]) -> OutputPiece {
        let clusterName = "outbound|\(portNumber)||\(hostname)"
        return piece(
            "EnvoyFilter", baseName,
            [
                "configPatches": [
                    [
                        "applyTo": "CLUSTER",
                        "match": ["context": "ANY", "cluster": ["name": .string(clusterName)]],
                        "patch": ["operation": "REMOVE"],
                    ],
                    [
                        "applyTo": "CLUSTER", "match": ["context": "ANY"],
                        "patch": [
                            "operation": "ADD",
                            "value": [
                                "name": .string(clusterName), "connect_timeout": "1s",
                                "lb_policy": "CLUSTER_PROVIDED",
                                "cluster_type": [
                                    "name": "envoy.clusters.aggregate",
                                    "typed_config": [
                                        "@type":
                                            "type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig",
                                        "clusters": .array(clusters),
                                    ],
                                ],
                            ],
                        ],
                    ],
                ]
            ])
    }
}

/// The outlier detection of the first accepted TrafficPolicy (by acceptance) that applies to any of
/// the Destinations.
func firstOutlierDetection(_ destinations: [Destination], _ world: World) -> OutlierDetection? {
    let policies = destinations.flatMap { destination in
        world.trafficPolicies.values.filter { $0.spec.outlierDetection != nil && $0.spec.selects(destination) }
    }
    return policies.min { ($0.createdAt, $0.spec.ref) < ($1.createdAt, $1.spec.ref) }?.spec.outlierDetection
}

/// Merges pieces from several VirtualDestinations into output objects, sorted by key. Pieces with
/// the same key merge their parents; the spec is the one of the first parent by name.
public func mergeOutputs(_ pieces: [(parent: ObjectRef, piece: OutputPiece)]) -> [OutputObject] {
    // Grouped by key first: only the pieces of one key (most often one) are sorted by parent,
    // and the pieces themselves are not moved.
    var byKey: [OutputKey: [Int]] = [:]
    for (index, item) in pieces.enumerated() { byKey[item.piece.key, default: []].append(index) }
    var merged: [OutputObject] = []
    merged.reserveCapacity(byKey.count)
    for (key, indices) in byKey {
        merged.append(
            indices.count == 1
                ? OutputObject(
                    key: key, mesh: pieces[indices[0]].piece.mesh, spec: pieces[indices[0]].piece.spec,
                    parents: [pieces[indices[0]].parent])
                : mergeOutput(key, indices.map { pieces[$0] }))
    }
    merged.sort { $0.key < $1.key }
    return merged
}

/// The output object merged from the pieces with one key: its parents sorted, the spec of the
/// first parent's piece (pieces of one parent in the order given).
func mergeOutput(_ key: OutputKey, _ pieces: [(parent: ObjectRef, piece: OutputPiece)]) -> OutputObject {
    var ordered = pieces
    if ordered.count > 1 {
        // Stable: pieces of one parent keep their order.
        ordered = ordered.enumerated().sorted { ($0.element.parent, $0.offset) < ($1.element.parent, $1.offset) }.map {
            $0.element
        }
    }
    var parents: [ObjectRef] = []
    for item in ordered where parents.last != item.parent { parents.append(item.parent) }
    return OutputObject(key: key, mesh: ordered[0].piece.mesh, spec: ordered[0].piece.spec, parents: parents)
}

/// Every output object of these VirtualDestination states, merged and sorted by key.
public func mergedOutputs(of states: [ObjectRef: VirtualDestinationState]) -> [OutputObject] {
    mergeOutputs(states.flatMap { ref, state in state.outputs.map { (ref, $0) } })
}

extension Projection {
    /// Every output object of the projection, merged and sorted by key (settle outputs first, or
    /// read it from a settled projection).
    public var outputObjects: [OutputObject] { mergedOutputs(of: states) }
}

/// Lower-case hex of digest bytes.
func hex<D: Sequence<UInt8>>(_ bytes: D) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}
