public import EventLog
public import MeshModel

/// A deterministic (seeded) workload of a realistic fleet: C clusters across regions, each with an
/// Istio mesh and gateway, S services per cluster with labels, ports and endpoints, one
/// VirtualMesh, TrafficPolicies with outlier detection, and V VirtualDestinations (static and
/// localized). After the initial fleet, `nextBatch` produces steady-state churn: endpoint changes
/// (most events), services scaled to zero and back, user edits of VirtualDestinations and
/// TrafficPolicies, and discovery resyncs. Objects are built directly as validated manifests.
public struct FleetWorkload: Sendable {
    /// The fleet's size.
    public struct Parameters: Sendable {
        /// Number of clusters.
        public var clusters: Int
        /// Services per cluster.
        public var servicesPerCluster: Int
        /// VirtualDestinations.
        public var virtualDestinations: Int
        /// The seed.
        public var seed: UInt64

        /// A fleet of the given size.
        public init(clusters: Int = 6, servicesPerCluster: Int = 50, virtualDestinations: Int = 100, seed: UInt64 = 1) {
            self.clusters = clusters
            self.servicesPerCluster = servicesPerCluster
            self.virtualDestinations = virtualDestinations
            self.seed = seed
        }
    }

    /// The parameters.
    public let parameters: Parameters
    static let regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"]
    private var random: SplitMix64
    private var tick: Int = 0
    /// Services currently scaled to zero, by (service index, cluster index).
    private var scaledDown: Set<[Int]> = []

    /// A workload with these parameters.
    public init(_ parameters: Parameters) {
        self.parameters = parameters
        random = SplitMix64(seed: parameters.seed)
    }

    public func cluster(_ c: Int) -> String { "cluster-\(c + 1)" }
    func region(_ c: Int) -> String { FleetWorkload.regions[c % FleetWorkload.regions.count] }
    func service(_ s: Int) -> String { "svc-\(s)" }
    func namespace(_ s: Int) -> String { "team-\(s % 8)" }
    func meshName(_ c: Int) -> String { "istiod-istio-system-\(cluster(c))" }

    private mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(max(n, 1))) }

    static func manifest(_ value: JSONValue) -> Manifest {
        do {
            return try Manifest(object: value)
        } catch {
            preconditionFailure("the workload built an invalid object: \(error)")
        }
    }

    /// The Mesh of cluster `c`.
    public func mesh(_ c: Int) -> Manifest {
        FleetWorkload.manifest([
            "apiVersion": "discovery.mesh.gloo.solo.io/v1alpha2", "kind": "Mesh",
            "metadata": ["name": .string(meshName(c)), "namespace": "gloo-mesh"],
            "spec": [
                "istio": [
                    "installation": [
                        "namespace": "istio-system", "cluster": .string(cluster(c)), "region": .string(region(c)),
                        "version": "1.9.5",
                    ],
                    "trustDomain": "cluster.local",
                    "ingressGateways": [
                        [
                            "externalAddress": .string("gw.\(cluster(c)).example.com"), "externalTlsPort": 15443,
                            "tlsContainerPort": 15443,
                        ]
                    ],
                ]
            ],
        ])
    }

    /// The Destination of service `s` in cluster `c`, with `generation` varying its endpoints.
    public func destination(_ s: Int, _ c: Int, endpoints generation: Int) -> Manifest {
        let endpoints: [JSONValue] = (0..<3).map { e in
            [
                "ipAddress": .string("10.\(c).\((s + generation) % 250).\(e + 1 + generation % 7)"),
                "labels": ["app": .string(service(s)), "version": .string("v\(1 + (generation + e) % 3)")],
                "subLocality": ["zone": .string("\(region(c))\(["a", "b", "c"][e])")],
            ]
        }
        return FleetWorkload.manifest([
            "apiVersion": "discovery.mesh.gloo.solo.io/v1alpha2", "kind": "Destination",
            "metadata": ["name": .string("\(service(s))-\(namespace(s))-\(cluster(c))"), "namespace": "gloo-mesh"],
            "spec": [
                "mesh": ["name": .string(meshName(c)), "namespace": "gloo-mesh"],
                "kubeService": [
                    "ref": [
                        "name": .string(service(s)), "namespace": .string(namespace(s)),
                        "clusterName": .string(cluster(c)),
                    ],
                    "labels": ["app": .string(service(s)), "tier": .string(s % 3 == 0 ? "frontend" : "backend")],
                    "workloadSelectorLabels": ["app": .string(service(s))],
                    "ports": [["port": .int(Int64(8080 + s % 3)), "name": "http", "protocol": "TCP"]],
                    "region": .string(region(c)),
                    "endpointSubsets": [
                        [
                            "endpoints": .array(endpoints),
                            "ports": [["port": .int(Int64(8080 + s % 3)), "name": "http", "protocol": "TCP"]],
                        ]
                    ],
                ],
            ],
        ])
    }

    /// The VirtualMesh grouping every mesh.
    public func virtualMesh() -> Manifest {
        FleetWorkload.manifest([
            "apiVersion": "networking.mesh.gloo.solo.io/v1alpha2", "kind": "VirtualMesh",
            "metadata": ["name": "fleet", "namespace": "gloo-mesh"],
            "spec": [
                "meshes": .array(
                    (0..<parameters.clusters).map { ["name": .string(meshName($0)), "namespace": "gloo-mesh"] }),
                "federation": ["hostnameSuffix": "global"],
            ],
        ])
    }

    /// TrafficPolicy `t`: outlier detection for one tier.
    public func trafficPolicy(_ t: Int, errors: Int) -> Manifest {
        FleetWorkload.manifest([
            "apiVersion": "networking.mesh.gloo.solo.io/v1alpha2", "kind": "TrafficPolicy",
            "metadata": ["name": .string("outlier-\(t == 0 ? "frontend" : "backend")"), "namespace": "gloo-mesh"],
            "spec": [
                "destinationSelector": [
                    ["kubeServiceMatcher": ["labels": ["tier": .string(t == 0 ? "frontend" : "backend")]]]
                ],
                "policy": [
                    "outlierDetection": [
                        "consecutiveErrors": .int(Int64(errors)), "interval": "10s", "baseEjectionTime": "30s",
                        "maxEjectionPercent": 100,
                    ]
                ],
            ],
        ])
    }

    /// VirtualDestination `v` at edit `edit`: even ones static over three clusters, odd ones localized.
    public func virtualDestination(_ v: Int, edit: Int) -> Manifest {
        let s = v % parameters.servicesPerCluster
        let c = parameters.clusters
        var spec: JSONObject = [
            "hostname": .string("\(service(s))-\(v).global"),
            "port": ["number": .int(Int64(8080 + edit % 2)), "protocol": "http"],
            "virtualMesh": ["name": "fleet", "namespace": "gloo-mesh"],
        ]
        if v % 2 == 0 {
            let order = (0..<min(3, c)).map { (v + edit + $0) % c }
            spec["static"] = [
                "destinations": .array(
                    order.map {
                        [
                            "kubeService": [
                                "name": .string(service(s)), "namespace": .string(namespace(s)),
                                "clusterName": .string(cluster($0)),
                            ]
                        ]
                    })
            ]
        } else {
            spec["localized"] = [
                "destinationSelectors": [
                    [
                        "kubeServiceMatcher": [
                            "labels": ["app": .string(service(s))], "namespaces": [.string(namespace(s))],
                        ]
                    ]
                ],
                "failoverDirectives": .array(
                    FleetWorkload.regions.prefix(min(c, 4)).map { from in
                        [
                            "from": ["region": .string(from)],
                            "to": .array(
                                FleetWorkload.regions.prefix(min(c, 4)).filter { $0 != from }.map {
                                    ["region": .string($0)]
                                }),
                        ]
                    }),
                "outlierDetection": ["consecutiveErrors": .int(Int64(3 + edit % 3))],
            ]
        }
        return FleetWorkload.manifest([
            "apiVersion": "networking.enterprise.mesh.gloo.solo.io/v1alpha1", "kind": "VirtualDestination",
            "metadata": ["name": .string("vd-\(v)"), "namespace": .string(namespace(s))],
            "spec": .object(spec),
        ])
    }

    /// The initial fleet: per cluster its mesh and services (one batch each), then the
    /// VirtualMesh and TrafficPolicies, then the VirtualDestinations in batches of 50.
    public func initialBatches() -> [[Change]] {
        var batches: [[Change]] = []
        for c in 0..<parameters.clusters {
            var batch = [Change(.upsert(mesh(c)), source: .discovery, actor: "agent-\(cluster(c))")]
            for s in 0..<parameters.servicesPerCluster {
                batch.append(
                    Change(.upsert(destination(s, c, endpoints: 0)), source: .discovery, actor: "agent-\(cluster(c))"))
            }
            batches.append(batch)
        }
        batches.append([
            Change(.upsert(virtualMesh()), source: .user, actor: "platform"),
            Change(.upsert(trafficPolicy(0, errors: 5)), source: .user, actor: "platform"),
            Change(.upsert(trafficPolicy(1, errors: 5)), source: .user, actor: "platform"),
        ])
        var vds: [Change] = []
        for v in 0..<parameters.virtualDestinations {
            vds.append(Change(.upsert(virtualDestination(v, edit: 0)), source: .user, actor: "team-\(v % 8)"))
            if vds.count == 50 {
                batches.append(vds)
                vds = []
            }
        }
        if !vds.isEmpty { batches.append(vds) }
        return batches
    }

    /// One batch of steady-state churn.
    public mutating func nextBatch() -> [Change] {
        tick += 1
        let roll = below(1000)
        let c = below(parameters.clusters)
        let s = below(parameters.servicesPerCluster)
        switch roll {
        case 0..<900:  // endpoints move (pods rescheduled): most of a fleet's events
            if scaledDown.contains([s, c]) { fallthrough }
            return [
                Change(.upsert(destination(s, c, endpoints: tick)), source: .discovery, actor: "agent-\(cluster(c))")
            ]
        case 900..<940:  // scaled to zero, or back
            if scaledDown.remove([s, c]) != nil {
                return [
                    Change(
                        .upsert(destination(s, c, endpoints: tick)), source: .discovery, actor: "agent-\(cluster(c))")
                ]
            }
            scaledDown.insert([s, c])
            let key = ObjectKey(
                kind: .destination, namespace: "gloo-mesh", name: "\(service(s))-\(namespace(s))-\(cluster(c))")
            return [Change(.delete(key, nil), source: .discovery, actor: "agent-\(cluster(c))", ignoreNotFound: true)]
        case 940..<990:  // a user edits a VirtualDestination
            let v = below(parameters.virtualDestinations)
            return [Change(.upsert(virtualDestination(v, edit: tick)), source: .user, actor: "team-\(v % 8)")]
        default:  // a TrafficPolicy is tuned
            return [Change(.upsert(trafficPolicy(below(2), errors: 3 + below(5))), source: .user, actor: "platform")]
        }
    }

    /// A full resync of cluster `c` as discovery would send it (every live service, new endpoints).
    public mutating func resync(_ c: Int) -> (changes: [Change], resync: Resync) {
        tick += 1
        var changes = [Change(.upsert(mesh(c)), source: .discovery, actor: "agent-\(cluster(c))")]
        for s in 0..<parameters.servicesPerCluster where !scaledDown.contains([s, c]) {
            changes.append(
                Change(.upsert(destination(s, c, endpoints: tick)), source: .discovery, actor: "agent-\(cluster(c))"))
        }
        return (changes, Resync(cluster: cluster(c), kinds: [.destination, .mesh], actor: "agent-\(cluster(c))"))
    }
}
