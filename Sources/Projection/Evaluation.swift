public import MeshModel

/// What a VirtualDestination is, given the current world, before hostname conflicts between
/// VirtualDestinations are resolved: its selection, where it is exported, and its errors
/// (docs/domain.md 4.1 to 4.3). A pure function of the VirtualDestination and the world.
public struct Evaluation: Sendable, Hashable {
    /// The selected backing Destinations, in priority order (static) or sorted (localized).
    public var selected: [Destination] = []
    /// The meshes it is exported to, sorted, missing ones included.
    public var exported: [ObjectRef] = []
    /// Meshes of the selected Destinations.
    public var backingMeshes: Set<ObjectRef> = []
    /// Errors that do not depend on the mesh: in every mesh entry and at the top level.
    public var errors: [Issue] = []
    /// Errors only at the top level (an export target that does not exist).
    public var topLevelErrors: [Issue] = []
    /// Errors of one mesh entry (that mesh missing or unreachable).
    public var meshErrors: [ObjectRef: [Issue]] = [:]
    /// Warnings (a static backing destination skipped).
    public var warnings: [Issue] = []
    /// The federation hostname suffix (of the one VirtualMesh involved, else `global`).
    public var hostnameSuffix = "global"
    /// The VirtualMeshes this evaluation read (for dependency tracking).
    public var virtualMeshes: Set<ObjectRef> = []
    /// Selected Destinations skipped: their mesh is missing, or (static) they have no port
    /// (for dependency tracking; each has a warning).
    public var skipped: [Destination] = []
    /// The name of the VirtualDestination's own outputs (decision 0014).
    public var outputName = ""
    /// The names of the federated objects of the selected services (static failover).
    public var federatedNames: [ClusterObjectRef: String] = [:]
    /// The output names whose claims decided the names above (for dependency tracking).
    public var nameReads: [String] = []
    /// The service whose federated hostname the VirtualDestination's hostname is, if discovered
    /// or not (for dependency tracking).
    public var federatedHostnameService: ClusterObjectRef?

    /// Whether it may be accepted on `mesh` (if no earlier VirtualDestination holds its hostname).
    public func isCandidate(on mesh: ObjectRef) -> Bool {
        errors.isEmpty && (meshErrors[mesh] ?? []).isEmpty && exported.contains(mesh)
    }

    /// Every mesh this evaluation depends on: exported and backing.
    public var involvedMeshes: Set<ObjectRef> { backingMeshes.union(exported) }
}

/// An error or warning, with the input objects it depends on (besides the VirtualDestination
/// itself), so that `explain` can name the events behind it.
public struct Issue: Sendable, Hashable {
    /// The text, as docs/domain.md 4.3 words it.
    public var message: String
    /// The inputs it depends on.
    public var inputs: [ObjectKey]

    /// Creates an issue.
    public init(_ message: String, _ inputs: [ObjectKey] = []) {
        self.message = message
        self.inputs = inputs
    }
}

extension ObjectRef {
    /// The key of the object this ref names, as a `kind`.
    public func objectKey(_ kind: ResourceKind) -> ObjectKey { ObjectKey(kind: kind, namespace: namespace, name: name) }
}

/// The protocols a VirtualDestination port may use.
let allowedProtocols: Set<String> = ["HTTP", "HTTPS", "GRPC", "HTTP2", "MONGO", "TCP", "TLS"]

/// Evaluates one VirtualDestination against the world: one rule after the other, in the order
/// their errors appear in the status (docs/domain.md 4.1 to 4.3). A new rule is one more method
/// of `Rules`, called here where its errors belong in that order.
public func evaluate(_ vd: VirtualDestination, in world: World) -> Evaluation {
    var rules = Rules(vd, world)
    rules.checkHostname()
    rules.checkPort()
    let outlierFromVirtualDestination = rules.selectDestinations()
    rules.checkBackingMeshes()
    rules.checkBackingPorts()
    rules.resolveExportedMeshes()
    rules.checkGroupingAndSuffix()
    rules.checkFederatedHostname()
    if !outlierFromVirtualDestination { rules.checkOutlierDetection() }
    rules.checkReachability()
    rules.nameOutputs()
    rules.evaluation.errors = rules.errors
    return rules.evaluation
}

/// The validation rules, each a method that reads the VirtualDestination and the world and adds
/// to the evaluation. Errors that hold for every mesh go to `errors`, in rule order.
private struct Rules {
    let vd: VirtualDestination
    let world: World
    let vdKey: ObjectKey
    var evaluation = Evaluation()
    var errors: [Issue] = []

    init(_ vd: VirtualDestination, _ world: World) {
        self.vd = vd
        self.world = world
        vdKey = vd.ref.objectKey(.virtualDestination)
    }

    /// The hostname is present and a valid DNS subdomain.
    mutating func checkHostname() {
        if let hostname = vd.hostname {
            if let problem = Naming.subdomainProblem(hostname) {
                errors.append(Issue("Invalid hostname \"\(hostname)\": \(problem)", [vdKey]))
            }
        } else {
            errors.append(Issue("Missing required field \"hostname\".", [vdKey]))
        }
    }

    /// The port is present, in range, with a supported protocol.
    mutating func checkPort() {
        guard let port = vd.port else {
            errors.append(Issue("Missing required field \"port\".", [vdKey]))
            return
        }
        if !(1...65535).contains(port.number) {
            errors.append(Issue("Invalid port number \(port.number): must be between 1 and 65535", [vdKey]))
        }
        if !allowedProtocols.contains(port.protocol.uppercased()) {
            errors.append(Issue("Invalid protocol for port: \(port.protocol)", [vdKey]))
        }
    }

    /// Selection (4.2); returns whether the VirtualDestination brings its own outlier detection.
    mutating func selectDestinations() -> Bool {
        switch vd.backing {
        case .none:
            errors.append(Issue("There must be at least one backing destination declared.", [vdKey]))
        case .staticList(let services):
            selectStatic(services)
        case .localized(let selectors, _, let outlierDetection):
            selectLocalized(selectors)
            return outlierDetection != nil
        }
        return false
    }

    /// A static list, in priority order: a service missing from discovery is skipped with a
    /// warning; none found is an error.
    mutating func selectStatic(_ services: [ClusterObjectRef]) {
        guard !services.isEmpty else {
            errors.append(Issue("There must be at least one backing destination declared.", [vdKey]))
            return
        }
        for service in services {
            if let destination = world.destination(forService: service) {
                if !evaluation.selected.contains(destination) { evaluation.selected.append(destination) }
            } else {
                let former = world.formerDestinations[service].map { [$0.objectKey(.destination)] } ?? []
                evaluation.warnings.append(
                    Issue("Backing destination \(service) not found in discovery; skipped", [vdKey] + former))
            }
        }
        if evaluation.selected.isEmpty {
            errors.append(
                Issue(
                    "None of the backing destinations were found in discovery.",
                    [vdKey] + evaluation.warnings.flatMap(\.inputs)))
        }
    }

    /// Localized selectors: every Destination they match, at most one per cluster.
    mutating func selectLocalized(_ selectors: [DestinationSelector]) {
        guard !selectors.isEmpty else {
            errors.append(Issue("Missing required field \"destinationSelectors\".", [vdKey]))
            return
        }
        evaluation.selected = world.destinations(matching: selectors)
            .sorted { ($0.service, $0.ref) < ($1.service, $1.ref) }
        if evaluation.selected.isEmpty {
            errors.append(Issue("None of the backing destinations were found in discovery.", [vdKey]))
        }
        var byCluster: [String: [Destination]] = [:]
        for destination in evaluation.selected {
            byCluster[destination.service.clusterName, default: []].append(destination)
        }
        for (cluster, found) in byCluster.sorted(by: { $0.key < $1.key }) where found.count > 1 {
            let names = found.map { "\($0.service)" }.joined(separator: ", ")
            errors.append(
                Issue(
                    "Multiple destinations selected in cluster \(cluster): \(names)",
                    [vdKey] + found.map { $0.ref.objectKey(.destination) }))
        }
    }

    /// The selected Destinations' meshes exist and are Istio. A Destination whose mesh is missing
    /// is skipped with a warning, as a missing static backing destination is (#947: a failover
    /// must survive losing a backend); none left is an error.
    mutating func checkBackingMeshes() {
        var kept: [Destination] = []
        for destination in evaluation.selected {
            guard let mesh = world.meshes[destination.mesh] else {
                evaluation.skipped.append(destination)
                evaluation.warnings.append(
                    Issue(
                        "Mesh \(destination.mesh) for destination \(destination.service) not found; skipped",
                        [destination.ref.objectKey(.destination), destination.mesh.objectKey(.mesh)]))
                continue
            }
            kept.append(destination)
            evaluation.backingMeshes.insert(destination.mesh)
            if !mesh.isIstio {
                errors.append(
                    Issue(
                        "Unsupported mesh type \(mesh.type) for mesh \(mesh.ref)",
                        [mesh.ref.objectKey(.mesh), destination.ref.objectKey(.destination)]))
            }
        }
        evaluation.selected = kept
        if kept.isEmpty, !evaluation.skipped.isEmpty {
            errors.append(
                Issue(
                    "None of the backing destinations were found in discovery.",
                    [vdKey] + evaluation.warnings.flatMap(\.inputs)))
        }
    }

    /// Static failover: a backing Destination without ports adds no cluster to the aggregate
    /// cluster, so it is skipped with a warning; when none has a port, the failover has nothing
    /// to fail over to (Envoy rejects an aggregate cluster with no clusters).
    mutating func checkBackingPorts() {
        guard case .staticList = vd.backing, !evaluation.selected.isEmpty else { return }
        let portless = evaluation.selected.filter { $0.ports.isEmpty }
        guard !portless.isEmpty else { return }
        for destination in portless {
            evaluation.warnings.append(
                Issue(
                    "Backing destination \(destination.service) has no ports and adds no cluster to the failover; skipped",
                    [vdKey, destination.ref.objectKey(.destination)]))
        }
        evaluation.selected.removeAll { $0.ports.isEmpty }
        evaluation.skipped += portless
        if evaluation.selected.isEmpty {
            errors.append(
                Issue(
                    "None of the backing destinations has a port: the failover would have no cluster.",
                    [vdKey] + portless.map { $0.ref.objectKey(.destination) }))
        }
    }

    /// Exported meshes (4.1): the VirtualMesh's, the listed ones, or the backing meshes; a
    /// missing VirtualMesh is a top-level error, a missing or non-Istio mesh an error of its entry.
    mutating func resolveExportedMeshes() {
        var exported: [ObjectRef] = []
        switch vd.export {
        case .virtualMesh(let ref):
            evaluation.virtualMeshes.insert(ref)
            if let vm = world.virtualMeshes[ref]?.spec {
                exported = vm.meshes
            } else {
                evaluation.topLevelErrors.append(
                    Issue("VirtualMesh \(ref) not found", [vdKey, ref.objectKey(.virtualMesh)]))
            }
        case .meshList(let refs):
            exported = refs
        case .backingMeshes:
            exported = Array(evaluation.backingMeshes)
        }
        evaluation.exported = exported.distinctSortedByKey()
        for ref in evaluation.exported {
            guard let mesh = world.meshes[ref] else {
                evaluation.meshErrors[ref, default: []].append(
                    Issue("Mesh \(ref) not found", [vdKey, ref.objectKey(.mesh)]))
                continue
            }
            if !mesh.isIstio {
                evaluation.meshErrors[ref, default: []].append(
                    Issue("Unsupported mesh type \(mesh.type) for mesh \(ref)", [ref.objectKey(.mesh)]))
            }
        }
    }

    /// Grouping: with more than one mesh involved, each must be in a VirtualMesh, all in the
    /// same one; then the hostname must end with that VirtualMesh's suffix.
    mutating func checkGroupingAndSuffix() {
        let involved = evaluation.backingMeshes.union(evaluation.exported.filter { world.meshes[$0] != nil })
        var owners = Set<ObjectRef>()
        if involved.count > 1 {
            // Errors name the ungrouped meshes in key order; the owners are a set.
            var ungrouped: [ObjectRef] = []
            for mesh in involved {
                if let owner = world.meshOwner[mesh] { owners.insert(owner) } else { ungrouped.append(mesh) }
            }
            for mesh in ungrouped.sortedByKey() {
                errors.append(
                    Issue(
                        "Mesh \(mesh) is not grouped in a VirtualMesh.",
                        // The VirtualMeshes that list it (and failed to group it), if any.
                        [mesh.objectKey(.mesh)]
                            + world.virtualMeshes.filter { $0.value.spec.meshes.contains(mesh) }.keys.sorted().map {
                                $0.objectKey(.virtualMesh)
                            }))
            }
            if owners.count > 1 {
                let names = owners.sorted().map(\.description).joined(separator: ", ")
                errors.append(
                    Issue(
                        "Destinations belong to multiple different parent VirtualMeshes: [\(names)]",
                        owners.sorted().map { $0.objectKey(.virtualMesh) }))
            }
        } else {
            for mesh in involved { if let owner = world.meshOwner[mesh] { owners.insert(owner) } }
        }
        if case .virtualMesh(let ref) = vd.export, world.virtualMeshes[ref] != nil { owners = [ref] }
        evaluation.virtualMeshes.formUnion(owners)
        guard owners.count == 1, let owner = owners.first, let suffix = world.virtualMeshes[owner]?.spec.hostnameSuffix
        else { return }
        evaluation.hostnameSuffix = suffix
        if let hostname = vd.hostname, !hostname.hasSuffix("." + suffix) {
            errors.append(
                Issue(
                    "Provided hostname \(hostname) is missing required suffix \"\(suffix)\".",
                    [vdKey, owner.objectKey(.virtualMesh)]))
        }
    }

    /// The hostname is not the federated hostname of a discovered service
    /// (`<svc>.<ns>.svc.<cluster>.<suffix>`): a static failover to that service emits a
    /// ServiceEntry for that host in every other cluster, and Istio's choice between two
    /// ServiceEntries for one host depends on its version. An error of each exported mesh in
    /// another cluster than the service's.
    mutating func checkFederatedHostname() {
        guard let hostname = vd.hostname,
            let service = federatedService(ofHostname: hostname, suffix: evaluation.hostnameSuffix)
        else { return }
        evaluation.federatedHostnameService = service
        guard let owner = world.destination(forService: service) else { return }
        for ref in evaluation.exported {
            guard let mesh = world.meshes[ref], mesh.cluster != service.clusterName else { continue }
            evaluation.meshErrors[ref, default: []].append(
                Issue(
                    "Hostname \(hostname) is the federated hostname of destination \(service)",
                    [vdKey, owner.ref.objectKey(.destination)]))
        }
    }

    /// The names of the outputs (decision 0014): the VirtualDestination's own, and the federated
    /// objects' of each selected service (static failover). A name other than the base name gets
    /// a warning naming the source that has the base name.
    mutating func nameOutputs() {
        let own = world.outputName(of: .virtualDestination(vd.ref))
        evaluation.outputName = own.name
        evaluation.nameReads = own.reads
        if let winner = own.winner {
            evaluation.warnings.append(
                Issue(
                    "Output name \(OutputSource.virtualDestination(vd.ref).baseName) is also the name of \(winner)'s outputs; this VirtualDestination's are named \(own.name)",
                    [vdKey] + winner.objectKeys(world)))
        }
        guard case .staticList = vd.backing else { return }
        for destination in evaluation.selected {
            let federated = world.outputName(of: .service(destination.service))
            evaluation.federatedNames[destination.service] = federated.name
            evaluation.nameReads += federated.reads
            if let winner = federated.winner {
                evaluation.warnings.append(
                    Issue(
                        "Output name \(OutputSource.service(destination.service).baseName) is also the name of \(winner)'s outputs; the federated objects of destination \(destination.service) are named \(federated.name)",
                        [destination.ref.objectKey(.destination)] + winner.objectKeys(world)))
            }
        }
    }

    /// Every selected Destination has a TrafficPolicy with outlier detection (unless the
    /// VirtualDestination brings its own).
    mutating func checkOutlierDetection() {
        for destination in evaluation.selected where world.outlierPolicies(for: destination).isEmpty {
            errors.append(
                Issue(
                    "Destination \(destination.service) does not have any TrafficPolicies that apply OutlierDetection settings.",
                    // The TrafficPolicies that select it (none with outlier detection), if any.
                    [destination.ref.objectKey(.destination)]
                        + world.trafficPolicies.filter { $0.value.spec.selects(destination) }.keys.sorted().map {
                            $0.objectKey(.trafficPolicy)
                        }))
        }
    }

    /// Remote backing destinations are reachable from each exported mesh through an ingress
    /// gateway with an external address (4.5); an error of that mesh's entry otherwise.
    mutating func checkReachability() {
        // Per selected Destination, its mesh when that exists and has no gateway with an external
        // address (looked up once, not once per exported mesh).
        let gatewayless = evaluation.selected.map { destination -> ObjectRef? in
            guard let remote = world.meshes[destination.mesh],
                !remote.ingressGateways.contains(where: { !$0.externalAddress.isEmpty })
            else { return nil }
            return remote.ref
        }
        guard gatewayless.contains(where: { $0 != nil }) else { return }
        for ref in evaluation.exported {
            guard let mesh = world.meshes[ref], mesh.isIstio else { continue }
            for (destination, remote) in zip(evaluation.selected, gatewayless)
            where destination.service.clusterName != mesh.cluster {
                guard let remote else { continue }
                evaluation.meshErrors[ref, default: []].append(
                    Issue(
                        "Mesh \(remote) has no ingress gateway; destination \(destination.service) is unreachable from \(ref)",
                        [remote.objectKey(.mesh), destination.ref.objectKey(.destination)]))
            }
        }
    }
}
