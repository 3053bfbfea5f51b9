public import EventLog
public import MeshModel

import struct Crypto.SHA256

/// The derived state of one VirtualDestination: its status and the output pieces it produces.
public struct VirtualDestinationState: Sendable, Hashable {
    /// The status.
    public var status: VirtualDestinationStatus
    /// The evaluation it came from (selection, errors).
    public var evaluation: Evaluation
    /// Output pieces for each accepted mesh.
    public var outputs: [OutputPiece]
}

/// The incremental projection: a pure, deterministic fold from events to derived state
/// (DOMAIN.md section 4). One event costs work proportional to the VirtualDestinations it can
/// affect, found through dependency indexes; `ReferenceProjection` recomputes everything and is
/// the cross-check.
public struct Projection: Sendable {
    /// The inputs after the events folded so far.
    public private(set) var world = World()
    /// The last sequence folded.
    public private(set) var sequence: UInt64 = 0
    /// Per VirtualDestination: status, evaluation, outputs.
    public private(set) var states: [ObjectRef: VirtualDestinationState] = [:]
    /// Per mesh: accepted and blocked VirtualDestinations.
    public private(set) var acceptance: [ObjectRef: MeshAcceptance] = [:]
    private var digestAccumulator = DigestAccumulator()
    private var contributions: [ObjectRef: [UInt8]] = [:]

    // Dependency indexes: which VirtualDestinations read which inputs.
    private var byService: [ClusterObjectRef: Set<ObjectRef>] = [:]
    private var bySelected: [ObjectRef: Set<ObjectRef>] = [:]
    private var byMesh: [ObjectRef: Set<ObjectRef>] = [:]
    private var byExport: [ObjectRef: Set<ObjectRef>] = [:]
    private var byVirtualMesh: [ObjectRef: Set<ObjectRef>] = [:]
    private var byOutput: [OutputKey: Set<ObjectRef>] = [:]
    private var localized: Set<ObjectRef> = []

    /// An empty projection (before event 1).
    public init() {}

    /// The digest of the whole derived state: an order-independent sum of the SHA-256 of each
    /// VirtualDestination's canonical state, so it is updated in O(changed) per event.
    public var digest: Digest { digestAccumulator.digest }

    /// Folds one event.
    public mutating func apply(_ event: Event) {
        precondition(event.sequence > sequence, "events must be folded in order")
        sequence = event.sequence
        let ref = ObjectRef(name: event.key.name, namespace: event.key.namespace)
        let object = event.change == .upsert ? event.object : nil
        var affected = Set<ObjectRef>()

        switch event.key.kind {
        case .destination:
            let old = world.destinations[ref]
            world.apply(
                kind: .destination, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            let new = world.destinations[ref]
            affected.formUnion(bySelected[ref] ?? [])
            for destination in [old, new].compactMap({ $0 }) {
                affected.formUnion(byService[destination.service] ?? [])
                for vd in localized where selects(vd, destination) { affected.insert(vd) }
            }
        case .mesh:
            world.apply(kind: .mesh, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            affected.formUnion(byMesh[ref] ?? [])
        case .virtualMesh:
            let oldOwners = world.meshOwner
            world.apply(
                kind: .virtualMesh, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            affected.formUnion(byVirtualMesh[ref] ?? [])
            for mesh in Set(oldOwners.keys).union(world.meshOwner.keys) where oldOwners[mesh] != world.meshOwner[mesh] {
                affected.formUnion(byMesh[mesh] ?? [])
            }
        case .trafficPolicy:
            let old = world.trafficPolicies[ref]?.spec
            world.apply(
                kind: .trafficPolicy, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            let new = world.trafficPolicies[ref]?.spec
            for (destinationRef, destination) in world.destinations
            where old?.selects(destination) == true || new?.selects(destination) == true {
                affected.formUnion(bySelected[destinationRef] ?? [])
            }
        case .syncResult:
            let old = world.syncResultKeys[ref]
            world.apply(
                kind: .syncResult, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            for key in [old, world.syncResultKeys[ref]].compactMap({ $0 }) { affected.formUnion(byOutput[key] ?? []) }
        case .virtualDestination:
            world.apply(
                kind: .virtualDestination, ref: ref, object: object, generation: event.generation,
                sequence: event.sequence)
            affected.insert(ref)
        }
        refresh(affected)
    }

    private func selects(_ vd: ObjectRef, _ destination: Destination) -> Bool {
        guard case .localized(let selectors, _, _)? = world.virtualDestinations[vd]?.spec.backing else { return false }
        return selectors.contains { $0.matches(destination) }
    }

    /// Re-evaluates the affected VirtualDestinations, resolves acceptance on the meshes they touch
    /// and rebuilds the statuses and outputs that changed.
    private mutating func refresh(_ affected: Set<ObjectRef>) {
        var meshesToResolve = Set<ObjectRef>()
        for vd in affected.sorted() {
            if let old = states[vd]?.evaluation {
                meshesToResolve.formUnion(old.exported)
                unindex(vd, old)
            }
            localized.remove(vd)
            guard let record = world.virtualDestinations[vd] else {
                states[vd] = nil
                continue
            }
            let evaluation = evaluate(record.spec, in: world)
            meshesToResolve.formUnion(evaluation.exported)
            index(vd, record.spec, evaluation)
            states[vd] = VirtualDestinationState(
                status: states[vd]?.status ?? placeholderStatus, evaluation: evaluation, outputs: [])
        }
        var restatus = affected
        for mesh in meshesToResolve.sorted(by: { $0.key < $1.key }) {
            let old = acceptance[mesh] ?? MeshAcceptance()
            let candidates = (byExport[mesh] ?? []).compactMap { vd -> MeshAcceptance.Candidate? in
                guard let state = states[vd], state.evaluation.isCandidate(on: mesh),
                    let record = world.virtualDestinations[vd], let hostname = record.spec.hostname
                else { return nil }
                return MeshAcceptance.Candidate(
                    virtualDestination: vd, hostname: hostname, lastSequence: record.lastSequence)
            }
            let new = old.resolved(candidates: candidates, at: sequence)
            let touched = Set(old.accepted.map(\.virtualDestination)).union(old.blocked.keys)
                .union(new.accepted.map(\.virtualDestination)).union(new.blocked.keys)
            for vd in touched where old.outcome(of: vd) != new.outcome(of: vd) { restatus.insert(vd) }
            acceptance[mesh] = new.accepted.isEmpty && new.blocked.isEmpty ? nil : new
        }
        for vd in restatus.sorted() { rebuild(vd) }
    }

    /// Replaces the whole state by one computed from inputs and acceptance (a snapshot restore).
    mutating func rebuildAll(world: World, acceptance: [ObjectRef: MeshAcceptance], sequence: UInt64) {
        self = Projection()
        self.world = world
        self.acceptance = acceptance
        self.sequence = sequence
        for vd in world.virtualDestinations.keys.sorted() {
            let record = world.virtualDestinations[vd]!
            let evaluation = evaluate(record.spec, in: world)
            index(vd, record.spec, evaluation)
            states[vd] = VirtualDestinationState(status: placeholderStatus, evaluation: evaluation, outputs: [])
        }
        for vd in world.virtualDestinations.keys.sorted() { rebuild(vd) }
    }

    private static let placeholderStatus = VirtualDestinationStatus(
        observedGeneration: 0, state: .pending, meshes: [], selectedDestinations: [], errors: [], warnings: [])
    private var placeholderStatus: VirtualDestinationStatus { Projection.placeholderStatus }

    /// Rebuilds one VirtualDestination's status, outputs and digest contribution.
    private mutating func rebuild(_ vd: ObjectRef) {
        for piece in states[vd]?.outputs ?? [] { byOutput[piece.key]?.remove(vd) }
        if let old = contributions.removeValue(forKey: vd) { digestAccumulator.subtract(old) }
        guard let record = world.virtualDestinations[vd], var state = states[vd] else { return }
        let derived = derive(
            record: record, evaluation: state.evaluation, world: world,
            acceptance: { self.acceptance[$0]?.outcome(of: vd) ?? .notCandidate },
            writeFailures: world.writeFailures)
        state.status = derived.status
        state.outputs = derived.outputs
        states[vd] = state
        for piece in state.outputs { byOutput[piece.key, default: []].insert(vd) }
        let contribution = contributionDigest(vd, state)
        contributions[vd] = contribution
        digestAccumulator.add(contribution)
    }

    private mutating func index(_ vd: ObjectRef, _ spec: VirtualDestination, _ e: Evaluation) {
        if case .staticList(let services) = spec.backing {
            for service in services { byService[service, default: []].insert(vd) }
        }
        if case .localized = spec.backing { localized.insert(vd) }
        for destination in e.selected {
            bySelected[destination.ref, default: []].insert(vd)
            byMesh[destination.mesh, default: []].insert(vd)
        }
        for mesh in e.exported {
            byExport[mesh, default: []].insert(vd)
            byMesh[mesh, default: []].insert(vd)
        }
        for vm in e.virtualMeshes { byVirtualMesh[vm, default: []].insert(vd) }
        if case .virtualMesh(let vm) = spec.export { byVirtualMesh[vm, default: []].insert(vd) }
    }

    private mutating func unindex(_ vd: ObjectRef, _ e: Evaluation) {
        if let spec = world.virtualDestinations[vd]?.spec ?? nil as VirtualDestination?,
            case .staticList(let services) = spec.backing
        {
            for service in services { byService[service]?.remove(vd) }
        }
        for (service, set) in byService where set.contains(vd) { byService[service]?.remove(vd) }
        for destination in e.selected {
            bySelected[destination.ref]?.remove(vd)
            byMesh[destination.mesh]?.remove(vd)
        }
        for mesh in e.exported {
            byExport[mesh]?.remove(vd)
            byMesh[mesh]?.remove(vd)
        }
        for (vm, set) in byVirtualMesh where set.contains(vd) { byVirtualMesh[vm]?.remove(vd) }
    }
}

/// Status and outputs of one VirtualDestination, given its evaluation and mesh outcomes.
func derive(
    record: VirtualDestinationRecord, evaluation: Evaluation, world: World,
    acceptance: (ObjectRef) -> MeshAcceptance.Outcome, writeFailures: [OutputKey: String]
) -> (status: VirtualDestinationStatus, outputs: [OutputPiece]) {
    var outputs: [OutputPiece] = []
    var accepted: [ObjectRef] = []
    let provisional = buildStatus(
        generation: record.generation, evaluation: evaluation, acceptance: acceptance, hostname: record.spec.hostname,
        writeErrors: [])
    for (mesh, (key, status)) in zip(evaluation.exported, provisional.meshes) where status.state == .accepted {
        precondition(mesh.key == key)
        accepted.append(mesh)
        outputs += translate(record.spec, evaluation: evaluation, mesh: mesh, world: world)
    }
    let failures = Set(outputs.compactMap { writeFailures[$0.key].map { "write error: \($0)" } }).sorted()
    if failures.isEmpty { return (provisional, outputs) }
    let status = buildStatus(
        generation: record.generation, evaluation: evaluation, acceptance: acceptance, hostname: record.spec.hostname,
        writeErrors: failures)
    return (status, outputs)
}

/// SHA-256 of a VirtualDestination's canonical derived state.
func contributionDigest(_ vd: ObjectRef, _ state: VirtualDestinationState) -> [UInt8] {
    let value: JSONValue = [
        "ref": vd.json, "status": state.status.json,
        "outputs": .array(
            state.outputs.map { ["key": .string($0.key.description), "mesh": .string($0.mesh), "spec": $0.spec] }),
    ]
    return Array(SHA256.hash(data: JSONText.canonical(value)))
}

/// An order-independent, incrementally updatable digest: the sum modulo 2^256 of 32-byte hashes.
struct DigestAccumulator: Sendable, Hashable {
    private var limbs: [UInt64] = [0, 0, 0, 0]

    private static func limbs(of bytes: [UInt8]) -> [UInt64] {
        (0..<4).map { i in bytes[(i * 8)..<(i * 8 + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
    }

    mutating func add(_ bytes: [UInt8]) {
        let other = DigestAccumulator.limbs(of: bytes)
        var carry: UInt64 = 0
        for i in (0..<4).reversed() {
            let (sum1, o1) = limbs[i].addingReportingOverflow(other[i])
            let (sum2, o2) = sum1.addingReportingOverflow(carry)
            limbs[i] = sum2
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
    }

    mutating func subtract(_ bytes: [UInt8]) {
        let other = DigestAccumulator.limbs(of: bytes)
        var borrow: UInt64 = 0
        for i in (0..<4).reversed() {
            let (d1, o1) = limbs[i].subtractingReportingOverflow(other[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            limbs[i] = d2
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
    }

    var digest: Digest {
        Digest(
            bytes: limbs.flatMap { limb in
                (0..<8).reversed().map { UInt8(truncatingIfNeeded: limb >> (UInt64($0) * 8)) }
            })
    }
}
