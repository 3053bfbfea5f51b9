public import MeshModel

/// A VirtualDestination as stored: its spec, generation and last change.
public struct VirtualDestinationRecord: Sendable, Hashable {
    /// The typed spec.
    public var spec: VirtualDestination
    /// `metadata.generation` as the log counts it.
    public var generation: UInt64
    /// The sequence of its last change (its resourceVersion).
    public var lastSequence: UInt64
}

/// The current inputs: every object that exists after the events folded so far, with the lookups
/// evaluation needs. Pure data; no clock, no randomness.
public struct World: Sendable {
    /// Destinations by their object ref.
    public internal(set) var destinations: [ObjectRef: Destination] = [:]
    /// Destination object refs by the service they represent (`kubeService.ref`).
    public internal(set) var destinationsByService: [ClusterObjectRef: Set<ObjectRef>] = [:]
    /// Destination refs by index key (`World.indexKeys(of:)`: each service label, the service's
    /// namespace, cluster and name): the candidates a selector is tested against.
    var destinationsByKey: [String: Set<ObjectRef>] = [:]
    /// Meshes by ref.
    public internal(set) var meshes: [ObjectRef: Mesh] = [:]
    /// VirtualMeshes by ref, with the sequence each was created at (its acceptance order).
    public internal(set) var virtualMeshes: [ObjectRef: (spec: VirtualMesh, createdAt: UInt64)] = [:]
    /// TrafficPolicies by ref, with the sequence each was created at (its acceptance order).
    public internal(set) var trafficPolicies: [ObjectRef: (spec: TrafficPolicy, createdAt: UInt64)] = [:]
    /// VirtualDestinations by ref.
    public internal(set) var virtualDestinations: [ObjectRef: VirtualDestinationRecord] = [:]
    /// Which VirtualMesh groups each mesh (the earliest-created VirtualMesh that lists it).
    public internal(set) var meshOwner: [ObjectRef: ObjectRef] = [:]
    /// Errors of VirtualMeshes that list a mesh already grouped by an earlier one.
    public internal(set) var virtualMeshErrors: [ObjectRef: [String]] = [:]
    /// The last Destination object seen for each service, kept after it is deleted (for `explain`).
    public internal(set) var formerDestinations: [ClusterObjectRef: ObjectRef] = [:]
    /// Controller feedback: the output object each SyncResult reports on.
    public internal(set) var syncResultKeys: [ObjectRef: OutputKey] = [:]
    /// Output objects whose last reported write failed, with the error (docs/domain.md 4.6).
    public internal(set) var writeFailures: [OutputKey: String] = [:]
    /// Every input object that exists, by its generation and the sequence of its last change (what
    /// a snapshot stores). The objects themselves are not kept: the event at that sequence has
    /// each, and the typed views above are all evaluation reads.
    public internal(set) var inputs: [ObjectKey: (generation: UInt64, sequence: UInt64)] = [:]
    /// Who wants each output name (`OutputSource.baseName`): every discovered service and every
    /// VirtualDestination, whatever their state, so that a name depends on the inputs alone.
    var outputNameClaims: [String: Set<OutputSource>] = [:]

    /// An empty world.
    public init() {}

    /// The Destination that represents a service, if discovered (the first by object ref when
    /// several claim the same service).
    public func destination(forService service: ClusterObjectRef) -> Destination? {
        guard let refs = destinationsByService[service], let first = refs.min() else { return nil }
        return destinations[first]
    }

    /// The name of a source's output objects and the names whose claims decided it (decision
    /// 0014): its base name when no source before it (services first, then by ref) wants that
    /// name too; otherwise the first of its disambiguated names that no source wants as its base.
    /// Two different sources never get the same name.
    func outputName(of source: OutputSource) -> (name: String, winner: OutputSource?, reads: [String]) {
        let base = source.baseName
        guard let winner = outputNameClaims[base]?.min(), winner < source else { return (base, nil, [base]) }
        var reads = [base]
        for attempt in 0... {
            let name = source.disambiguatedName(attempt)
            reads.append(name)
            if outputNameClaims[name]?.isEmpty ?? true { return (name, winner, reads) }
        }
        preconditionFailure("unreachable")
    }

    /// Adds or removes a source's claim on its base name.
    private mutating func claim(_ source: OutputSource, _ present: Bool) {
        let base = source.baseName
        if present {
            outputNameClaims[base, default: []].insert(source)
        } else {
            outputNameClaims[base]?.remove(source)
            if outputNameClaims[base]?.isEmpty == true { outputNameClaims[base] = nil }
        }
    }

    /// The index keys of a Destination: one per service label, its namespace, cluster and name.
    static func indexKeys(of destination: Destination) -> [String] {
        destination.labels.map { "label:\($0.key)=\($0.value)" } + [
            "namespace:\(destination.service.namespace)", "cluster:\(destination.service.clusterName)",
            "name:\(destination.service.name)",
        ]
    }

    /// Index keys of which every Destination a selector matches has at least one, or nil when a
    /// Destination without any of them may match ("any"). A selector with neither a matcher nor
    /// refs matches nothing: no keys.
    static func indexKeys(for selector: DestinationSelector) -> [String]? {
        var keys: [String] = []
        if let matcher = selector.matcher {
            if let (key, value) = matcher.labels.min(by: { $0.key < $1.key }) {
                keys.append("label:\(key)=\(value)")
            } else if !matcher.namespaces.isEmpty {
                keys += matcher.namespaces.map { "namespace:\($0)" }
            } else if !matcher.clusters.isEmpty {
                keys += matcher.clusters.map { "cluster:\($0)" }
            } else {
                return nil
            }
        }
        for ref in selector.refs ?? [] {
            if !ref.name.isEmpty {
                keys.append("name:\(ref.name)")
            } else if !ref.namespace.isEmpty {
                keys.append("namespace:\(ref.namespace)")
            } else if !ref.clusterName.isEmpty {
                keys.append("cluster:\(ref.clusterName)")
            } else {
                return nil
            }
        }
        return keys
    }

    /// The Destinations a selector could match (a superset, from the indexes), or nil for "any".
    func candidates(for selector: DestinationSelector) -> Set<ObjectRef>? {
        guard let keys = World.indexKeys(for: selector) else { return nil }
        var result = Set<ObjectRef>()
        for key in keys { result.formUnion(destinationsByKey[key] ?? []) }
        return result
    }

    /// The Destinations any of the selectors match.
    public func destinations(matching selectors: [DestinationSelector]) -> [Destination] {
        var candidates = Set<ObjectRef>()
        for selector in selectors {
            guard let found = self.candidates(for: selector) else {
                return destinations.values.filter { d in selectors.contains { $0.matches(d) } }
            }
            candidates.formUnion(found)
        }
        return candidates.compactMap { destinations[$0] }.filter { d in selectors.contains { $0.matches(d) } }
    }

    /// The Destinations a TrafficPolicy selects (every one when it has no selector), from the
    /// indexes.
    public func destinations(selectedBy policy: TrafficPolicy) -> [Destination] {
        policy.destinationSelectors.isEmpty
            ? Array(destinations.values) : destinations(matching: policy.destinationSelectors)
    }

    /// TrafficPolicies that select a Destination and carry outlier detection, in acceptance order.
    public func outlierPolicies(for destination: Destination) -> [TrafficPolicy] {
        trafficPolicies.values
            .filter { $0.spec.outlierDetection != nil && $0.spec.selects(destination) }
            .sorted { ($0.createdAt, $0.spec.ref) < ($1.createdAt, $1.spec.ref) }
            .map(\.spec)
    }

    /// Recomputes which VirtualMesh groups each mesh: VirtualMeshes in creation order claim their
    /// meshes; one that lists a mesh already claimed is INVALID and groups none (docs/domain.md 4.3).
    mutating func recomputeMeshOwners() {
        var owner: [ObjectRef: ObjectRef] = [:]
        var errors: [ObjectRef: [String]] = [:]
        let ordered = virtualMeshes.values.sorted { ($0.createdAt, $0.spec.ref) < ($1.createdAt, $1.spec.ref) }
        for (vm, _) in ordered {
            let taken = vm.meshes.filter { owner[$0] != nil && owner[$0] != vm.ref }
            if let first = taken.first {
                errors[vm.ref] = [
                    "Includes a Mesh (\(first)) that already is grouped in a VirtualMesh (\(owner[first]!))"
                ]
                continue
            }
            for mesh in vm.meshes { owner[mesh] = vm.ref }
        }
        meshOwner = owner
        virtualMeshErrors = errors
    }

    /// Applies one change to the inputs. `object` nil means the object is gone; it may carry only
    /// what `Projection.foldShapes` names. Returns false when
    /// a Destination's typed view is unchanged (only its endpoints moved), true otherwise.
    @discardableResult
    mutating func apply(
        kind: ResourceKind, ref: ObjectRef, object: JSONValue?, generation: UInt64, sequence: UInt64
    ) -> Bool {
        inputs[ref.objectKey(kind)] = object.map { _ in (generation, sequence) }
        switch kind {
        case .destination:
            let typed = object.map(Destination.init)
            if let typed { formerDestinations[typed.service] = ref }
            guard typed != destinations[ref] else { return false }  // the indexes stay as they are
            if let old = destinations[ref] {
                destinationsByService[old.service]?.remove(ref)
                if destinationsByService[old.service]?.isEmpty == true {
                    destinationsByService[old.service] = nil
                    claim(.service(old.service), false)
                }
                for key in World.indexKeys(of: old) { destinationsByKey[key]?.remove(ref) }
            }
            destinations[ref] = typed
            if let new = destinations[ref] {
                if destinationsByService[new.service] == nil { claim(.service(new.service), true) }
                destinationsByService[new.service, default: []].insert(ref)
                for key in World.indexKeys(of: new) { destinationsByKey[key, default: []].insert(ref) }
            }
        case .mesh:
            meshes[ref] = object.map(Mesh.init)
        case .virtualMesh:
            if let object {
                let createdAt = virtualMeshes[ref]?.createdAt ?? sequence
                virtualMeshes[ref] = (VirtualMesh(object: object), createdAt)
            } else {
                virtualMeshes[ref] = nil
            }
            recomputeMeshOwners()
        case .trafficPolicy:
            if let object {
                let createdAt = trafficPolicies[ref]?.createdAt ?? sequence
                trafficPolicies[ref] = (TrafficPolicy(object: object), createdAt)
            } else {
                trafficPolicies[ref] = nil
            }
        case .syncResult:
            if let old = syncResultKeys.removeValue(forKey: ref) { writeFailures[old] = nil }
            guard let spec = object?["spec"] else { return true }
            let key = OutputKey(
                cluster: spec["cluster"]?.stringValue ?? "", kind: spec["kind"]?.stringValue ?? "",
                namespace: spec["namespace"]?.stringValue ?? "", name: spec["name"]?.stringValue ?? "")
            syncResultKeys[ref] = key
            if spec["result"]?.stringValue == "failed" {
                writeFailures[key] = spec["error"]?.stringValue ?? "unknown error"
            }
        case .virtualDestination:
            if (virtualDestinations[ref] == nil) != (object == nil) { claim(.virtualDestination(ref), object != nil) }
            virtualDestinations[ref] = object.map {
                VirtualDestinationRecord(
                    spec: VirtualDestination(object: $0), generation: generation, lastSequence: sequence)
            }
        }
        return true
    }
}
