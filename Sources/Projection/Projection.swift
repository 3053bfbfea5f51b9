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
/// (docs/domain.md section 4). One event costs work proportional to the VirtualDestinations it can
/// affect, found through dependency indexes; `ReferenceProjection` recomputes everything and is
/// the cross-check.
public struct Projection: Sendable {
    /// The inputs after the events folded so far.
    public private(set) var world = World()
    /// The last sequence folded.
    public private(set) var sequence: UInt64 = 0
    /// Per VirtualDestination: status, evaluation, outputs. Outputs are translated lazily (see
    /// `staleOutputs`); this view translates the pending ones, `settleOutputs()` stores them.
    public var states: [ObjectRef: VirtualDestinationState] {
        let stale = staleOutputs.union(staleRules).union(deferredAffected)
        guard !stale.isEmpty else { return storedStates }
        var result = storedStates
        for vd in stale { result[vd]?.outputs = translatedOutputs(vd) }
        return result
    }
    private var storedStates: [ObjectRef: VirtualDestinationState] = [:]
    /// VirtualDestinations whose outputs are not translated yet. Translation is the costly part
    /// of a fold and nothing else in the fold reads it while no write failure is reported (a
    /// status depends on its outputs only through `writeFailures`), so it waits until outputs or
    /// a digest are asked for: a replay translates each changed VirtualDestination once, and a
    /// TrafficPolicy edit costs a mark per VirtualDestination instead of a translation.
    private var staleOutputs: Set<ObjectRef> = []
    /// VirtualDestinations whose stored outputs are current except for their DestinationRules: a
    /// deferred TrafficPolicy edit (same selectors, outlier detection still present or still
    /// absent) changes only outlier settings, so settling translates those rules alone and puts
    /// them in place of the stored ones (the same keys), instead of translating every output.
    private var staleRules: Set<ObjectRef> = []
    /// How many VirtualDestinations had only their DestinationRules translated again when
    /// outputs were settled (what the policy path saves; tests read it).
    private(set) var rulesOnlyTranslations = 0
    /// TrafficPolicy edits that can change outputs only (same selectors, outlier detection still
    /// present or still absent, no write failure reported), by policy: which VirtualDestinations
    /// they affect is looked up when outputs, a digest or `lastChanged` are asked for, so such an
    /// edit costs no work proportional to what its selectors match. The VirtualDestinations to
    /// translate again are those whose selection, when asked, includes a Destination the policy
    /// selects: any that selected one at the edit and no longer does was rebuilt since.
    private var deferredPolicies: [ObjectRef: TrafficPolicy] = [:]
    /// The policy of the last event, when that event was a deferred TrafficPolicy edit.
    private var lastDeferredPolicy: TrafficPolicy?
    private var changed: Set<ObjectRef> = []
    /// The VirtualDestinations whose status or outputs the last event rebuilt (or removed).
    public var lastChanged: Set<ObjectRef> {
        guard let policy = lastDeferredPolicy else { return changed }
        return affected(by: policy)
    }
    /// Per VirtualDestination, the sequence of the event that last changed its derived status
    /// (its creation's, at first): part of the fold, so that the resourceVersion it is served at
    /// is the same read live, at that point of history, or after a restart (decision 0009).
    public private(set) var statusChangedAt: [ObjectRef: UInt64] = [:]
    /// Per mesh: accepted and blocked VirtualDestinations.
    public private(set) var acceptance: [ObjectRef: MeshAcceptance] = [:]
    private var digestAccumulator = DigestAccumulator()
    private var contributions: [ObjectRef: [UInt8]] = [:]
    /// VirtualDestinations whose digest contribution is not yet in the accumulator: hashing is
    /// deferred until a digest is asked for, so a replay hashes each changed state once.
    private var pendingContributions: Set<ObjectRef> = []

    // Dependency indexes: which VirtualDestinations read which inputs.
    private var byService: [ClusterObjectRef: Set<ObjectRef>] = [:]
    private var bySelected: [ObjectRef: Set<ObjectRef>] = [:]
    private var byMesh: [ObjectRef: Set<ObjectRef>] = [:]
    private var byExport: [ObjectRef: Set<ObjectRef>] = [:]
    private var byVirtualMesh: [ObjectRef: Set<ObjectRef>] = [:]
    private var byOutput: [OutputKey: Set<ObjectRef>] = [:]
    /// VirtualDestinations by the output names whose claims decided their outputs' names.
    private var byNameRead: [String: Set<ObjectRef>] = [:]
    /// Localized VirtualDestinations by the index keys of their selectors (`World.indexKeys`), and
    /// those with a selector that may match any Destination: a Destination's arrival or change
    /// is tested against the ones sharing a key with it, not against all.
    private var localizedByKey: [String: Set<ObjectRef>] = [:]
    private var localizedAnywhere: Set<ObjectRef> = []
    /// What each VirtualDestination was indexed under, to unindex it exactly.
    private var indexed: [ObjectRef: IndexEntry] = [:]

    /// The index keys of one VirtualDestination, and its candidacy per exported mesh.
    private struct IndexEntry: Sendable {
        var services: [ClusterObjectRef] = []
        var selected: [(destination: ObjectRef, mesh: ObjectRef)] = []
        var exported: [ObjectRef] = []
        var virtualMeshes: Set<ObjectRef> = []
        var candidacy: [ObjectRef: MeshAcceptance.Candidate] = [:]
        var localizedKeys: [String] = []
        var localizedAnywhere = false
        var nameReads: [String] = []
    }

    /// An empty projection (before event 1).
    public init() {}

    /// The parts of event objects a fold reads, by kind (the kinds absent are read whole): a log
    /// scanned with these shapes folds to the same projection, without building what no rule
    /// reads, such as the addresses of a Destination's endpoints.
    public static let foldShapes: [ResourceKind: ValueShape] = [.destination: Destination.shape]

    /// The status of one VirtualDestination (cheap: no outputs are translated).
    public func status(of vd: ObjectRef) -> VirtualDestinationStatus? { storedStates[vd]?.status }

    /// The derived state of one VirtualDestination, its outputs translated if pending.
    public func state(of vd: ObjectRef) -> VirtualDestinationState? {
        guard var state = storedStates[vd] else { return nil }
        if staleOutputs.contains(vd) || staleRules.contains(vd) || deferredAffects(vd) {
            state.outputs = translatedOutputs(vd)
        }
        return state
    }

    /// The output objects with these keys, each merged from every VirtualDestination that
    /// produces it (as in `outputObjects`); a key none produces is absent. Read it from a settled
    /// projection: it costs the pieces of the VirtualDestinations producing these keys, not
    /// every output.
    public func outputObjects(_ keys: Set<OutputKey>) -> [OutputKey: OutputObject] {
        var producers: Set<ObjectRef> = []
        for key in keys { producers.formUnion(byOutput[key] ?? []) }
        var pieces: [OutputKey: [(parent: ObjectRef, piece: OutputPiece)]] = [:]
        for vd in producers {
            for piece in storedStates[vd]?.outputs ?? [] where keys.contains(piece.key) {
                pieces[piece.key, default: []].append((vd, piece))
            }
        }
        return pieces.reduce(into: [:]) { objects, item in objects[item.key] = mergeOutput(item.key, item.value) }
    }

    /// The VirtualDestinations whose outputs a policy's edit changes: those selecting a
    /// Destination it selects (found through the selector indexes, not by testing every one).
    private func affected(by policy: TrafficPolicy) -> Set<ObjectRef> {
        var result = Set<ObjectRef>()
        for destination in world.destinations(selectedBy: policy) {
            result.formUnion(bySelected[destination.ref] ?? [])
        }
        return result
    }

    /// Every VirtualDestination a deferred policy edit affects.
    private var deferredAffected: Set<ObjectRef> {
        deferredPolicies.values.reduce(into: Set<ObjectRef>()) { $0.formUnion(affected(by: $1)) }
    }

    /// How many policies have an output-only edit whose effects are not looked up yet.
    var deferredPolicyCount: Int { deferredPolicies.count }

    /// Whether a deferred policy edit affects one VirtualDestination.
    private func deferredAffects(_ vd: ObjectRef) -> Bool {
        guard !deferredPolicies.isEmpty, let selected = storedStates[vd]?.evaluation.selected else { return false }
        return deferredPolicies.values.contains { policy in selected.contains(where: policy.selects) }
    }

    /// Marks the DestinationRules of what the deferred policy edits affect for translation (the
    /// only outputs such an edit changes; see `staleRules`).
    private mutating func resolveDeferredPolicies() {
        guard !deferredPolicies.isEmpty else { return }
        for vd in deferredAffected where storedStates[vd] != nil && !staleOutputs.contains(vd) {
            staleRules.insert(vd)
            pendingContributions.insert(vd)
        }
        deferredPolicies = [:]
    }

    /// Translates and stores the outputs still pending, so that `states` is cheap to read again.
    public mutating func settleOutputs() {
        resolveDeferredPolicies()
        for vd in staleRules.subtracting(staleOutputs).sorted() where !replaceRules(vd) {
            invalidateOutputs(vd)  // the rules' keys differ from the stored ones: translate all
        }
        staleRules = []
        for vd in staleOutputs.sorted() {
            guard storedStates[vd] != nil else { continue }
            let outputs = translatedOutputs(vd)
            storedStates[vd]!.outputs = outputs
            for piece in outputs { byOutput[piece.key, default: []].insert(vd) }
        }
        staleOutputs = []
    }

    /// Translates a VirtualDestination's DestinationRules and puts each in place of the stored
    /// piece with its key. Returns false, changing nothing, when the keys are not the stored ones.
    private mutating func replaceRules(_ vd: ObjectRef) -> Bool {
        guard let state = storedStates[vd], let record = world.virtualDestinations[vd] else { return true }
        let rules = acceptedOutputs(
            record: record, evaluation: state.evaluation, status: state.status, world: world,
            only: "DestinationRule")
        var outputs = state.outputs
        var replaced = 0
        for rule in rules {
            guard let index = outputs.firstIndex(where: { $0.key == rule.key }) else { return false }
            outputs[index] = rule
            replaced += 1
        }
        guard replaced == outputs.count(where: { $0.key.kind == "DestinationRule" }) else { return false }
        storedStates[vd]!.outputs = outputs
        rulesOnlyTranslations += 1
        return true
    }

    /// The outputs of a VirtualDestination as its stored status and evaluation give them.
    private func translatedOutputs(_ vd: ObjectRef) -> [OutputPiece] {
        guard let state = storedStates[vd], let record = world.virtualDestinations[vd] else { return [] }
        return acceptedOutputs(record: record, evaluation: state.evaluation, status: state.status, world: world)
    }

    /// Marks a VirtualDestination's outputs for translation (its status is unchanged).
    private mutating func invalidateOutputs(_ vd: ObjectRef) {
        guard storedStates[vd] != nil else { return }
        unindexOutputs(vd)
        storedStates[vd]!.outputs = []
        staleOutputs.insert(vd)
        staleRules.remove(vd)
        pendingContributions.insert(vd)
    }

    /// Removes a VirtualDestination's stored output pieces from the output-key index.
    private mutating func unindexOutputs(_ vd: ObjectRef) {
        for piece in storedStates[vd]?.outputs ?? [] { byOutput[piece.key]?.remove(vd) }
    }

    /// The digest of the whole derived state: an order-independent sum of the SHA-256 of each
    /// VirtualDestination's canonical state, so it is updated in O(changed) per event.
    public var digest: Digest {
        var accumulator = digestAccumulator
        for vd in pendingContributions.union(deferredAffected) {
            if let old = contributions[vd] { accumulator.subtract(old) }
            if let state = state(of: vd) { accumulator.add(contributionDigest(vd, state)) }
        }
        return accumulator.digest
    }

    /// Folds the pending digest contributions into the accumulator (makes `digest` cheap again).
    public mutating func settleDigest() {
        settleOutputs()
        for vd in pendingContributions.sorted() {
            if let old = contributions.removeValue(forKey: vd) { digestAccumulator.subtract(old) }
            if let state = storedStates[vd] {
                let contribution = contributionDigest(vd, state)
                contributions[vd] = contribution
                digestAccumulator.add(contribution)
            }
        }
        pendingContributions = []
    }

    /// Folds one event.
    public mutating func apply(_ event: Event) {
        precondition(event.sequence > sequence, "events must be folded in order")
        sequence = event.sequence
        lastDeferredPolicy = nil
        let ref = ObjectRef(name: event.key.name, namespace: event.key.namespace)
        let object = event.change == .upsert ? event.object : nil
        var affected = Set<ObjectRef>()

        switch event.key.kind {
        case .destination:
            let old = world.destinations[ref]
            guard
                world.apply(
                    kind: .destination, ref: ref, object: object, generation: event.generation,
                    sequence: event.sequence)
            else {  // endpoints moved: nothing evaluation reads changed
                changed = []
                return
            }
            let new = world.destinations[ref]
            affected.formUnion(bySelected[ref] ?? [])
            for destination in [old, new].compactMap({ $0 }) {
                affected.formUnion(byService[destination.service] ?? [])
                // Whether its service is discovered decides who has that service's output name.
                affected.formUnion(byNameRead[OutputSource.service(destination.service).baseName] ?? [])
                var localized = localizedAnywhere
                for key in World.indexKeys(of: destination) { localized.formUnion(localizedByKey[key] ?? []) }
                for vd in localized where selects(vd, destination) { affected.insert(vd) }
            }
        case .mesh:
            world.apply(kind: .mesh, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            affected.formUnion(byMesh[ref] ?? [])
        case .virtualMesh:
            let oldOwners = world.meshOwner
            let oldMeshes = world.virtualMeshes[ref]?.spec.meshes ?? []
            world.apply(
                kind: .virtualMesh, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            affected.formUnion(byVirtualMesh[ref] ?? [])
            // An ungrouped mesh's error names the VirtualMeshes that list it.
            for mesh in oldMeshes + (world.virtualMeshes[ref]?.spec.meshes ?? []) {
                affected.formUnion(byMesh[mesh] ?? [])
            }
            for mesh in Set(oldOwners.keys).union(world.meshOwner.keys) where oldOwners[mesh] != world.meshOwner[mesh] {
                affected.formUnion(byMesh[mesh] ?? [])
            }
        case .trafficPolicy:
            let old = world.trafficPolicies[ref]?.spec
            world.apply(
                kind: .trafficPolicy, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            let new = world.trafficPolicies[ref]?.spec
            // Evaluation reads which policies select a Destination and whether one of them
            // detects outliers (the "no TrafficPolicies that apply OutlierDetection" error): with
            // the same selectors and outlier detection still present (or still absent), only
            // outputs can change, and they wait until asked for.
            if let old, let new, old.destinationSelectors == new.destinationSelectors,
                (old.outlierDetection != nil) == (new.outlierDetection != nil), world.writeFailures.isEmpty
            {
                deferredPolicies[ref] = new
                lastDeferredPolicy = new
                changed = []
                return
            }
            resolveDeferredPolicies()
            var evaluationInputChanged = false
            var matched: [ObjectRef: Destination] = [:]
            for policy in [old, new].compactMap({ $0 }) {
                for destination in world.destinations(selectedBy: policy) { matched[destination.ref] = destination }
            }
            for (destinationRef, destination) in matched {
                let before = old?.selects(destination) == true
                let after = new?.selects(destination) == true
                guard before || after else { continue }
                affected.formUnion(bySelected[destinationRef] ?? [])
                if before != after || (old?.outlierDetection != nil) != (new?.outlierDetection != nil) {
                    evaluationInputChanged = true
                }
            }
            // Otherwise evaluations, acceptance and statuses are unchanged: only outputs are
            // (and a status through them only when a write failure is reported).
            if !evaluationInputChanged && world.writeFailures.isEmpty {
                for vd in affected { invalidateOutputs(vd) }
                changed = affected
                return
            }
        case .syncResult:
            let old = world.syncResultKeys[ref]
            world.apply(
                kind: .syncResult, ref: ref, object: object, generation: event.generation, sequence: event.sequence)
            settleOutputs()  // byOutput must know every output's key
            for key in [old, world.syncResultKeys[ref]].compactMap({ $0 }) { affected.formUnion(byOutput[key] ?? []) }
        case .virtualDestination:
            world.apply(
                kind: .virtualDestination, ref: ref, object: object, generation: event.generation,
                sequence: event.sequence)
            affected.insert(ref)
            // Whether it exists decides who has its output name.
            affected.formUnion(byNameRead[OutputSource.virtualDestination(ref).baseName] ?? [])
        }
        // A Destination reaches statuses and outputs only through evaluations (selection, ports,
        // regions, meshes): where the evaluation is unchanged, nothing derived from it is.
        refresh(affected, evaluationDecides: event.key.kind == .destination)
    }

    private func selects(_ vd: ObjectRef, _ destination: Destination) -> Bool {
        guard case .localized(let selectors, _, _)? = world.virtualDestinations[vd]?.spec.backing else { return false }
        return selectors.contains { $0.matches(destination) }
    }

    /// Re-evaluates the affected VirtualDestinations, resolves acceptance on the meshes they touch
    /// and rebuilds the statuses and outputs that changed.
    private mutating func refresh(_ affected: Set<ObjectRef>, evaluationDecides: Bool = false) {
        var meshesToResolve = Set<ObjectRef>()
        var unchanged = Set<ObjectRef>()
        for vd in affected.sorted() {
            let oldCandidacy = unindex(vd)
            guard let record = world.virtualDestinations[vd] else {
                unindexOutputs(vd)  // before the state goes; `rebuild` below does the rest
                storedStates[vd] = nil
                statusChangedAt[vd] = nil
                meshesToResolve.formUnion(oldCandidacy.keys)
                continue
            }
            let evaluation = evaluate(record.spec, in: world)
            let newCandidacy = index(vd, record, evaluation)
            // A mesh's acceptance depends only on its candidates and their hostnames: resolve it
            // again only where this VirtualDestination became or stopped being a candidate, or
            // changed hostname. (A candidate's last-change sequence only orders newcomers to a
            // freed hostname, and no hostname is freed unless one of those happened.)
            for mesh in Set(oldCandidacy.keys).union(newCandidacy.keys)
            where oldCandidacy[mesh]?.hostname != newCandidacy[mesh]?.hostname {
                meshesToResolve.insert(mesh)
            }
            if storedStates[vd] == nil {
                storedStates[vd] = VirtualDestinationState(
                    status: placeholderStatus, evaluation: evaluation, outputs: [])
            } else {
                if evaluationDecides && storedStates[vd]!.evaluation == evaluation { unchanged.insert(vd) }
                storedStates[vd]!.evaluation = evaluation
            }
        }
        var restatus = affected.subtracting(unchanged)
        for mesh in meshesToResolve.sortedByKey() {
            let old = acceptance[mesh] ?? MeshAcceptance()
            let candidates = (byExport[mesh] ?? []).compactMap { vd -> MeshAcceptance.Candidate? in
                guard let state = storedStates[vd], state.evaluation.isCandidate(on: mesh),
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
        changed = restatus
    }

    /// Replaces the whole state by one computed from inputs and acceptance (a snapshot restore):
    /// every VirtualDestination is evaluated, indexed and given its status again, and each status
    /// must hash to the one the snapshot recorded. Outputs are left to translate lazily, and the
    /// digest contributions are the recorded ones (decision 0006, addendum: what checks them);
    /// those not recorded are pending, computed when a digest is asked for.
    /// Returns the first problem, nil when the state is restored.
    mutating func rebuildAll(
        world: World, acceptance: [ObjectRef: MeshAcceptance], sequence: UInt64,
        recorded: [ObjectRef: RecordedState]
    ) -> String? {
        self = Projection()
        self.world = world
        self.acceptance = acceptance
        self.sequence = sequence
        let refs = world.virtualDestinations.keys.sorted()
        guard refs.count == recorded.count else {
            return "the snapshot records \(recorded.count) VirtualDestination states, its inputs have \(refs.count)"
        }
        // Sized once instead of grown while every VirtualDestination is indexed.
        storedStates.reserveCapacity(refs.count)
        indexed.reserveCapacity(refs.count)
        bySelected.reserveCapacity(world.destinations.count)
        pendingContributions.reserveCapacity(refs.count)
        staleOutputs.reserveCapacity(refs.count)
        for vd in refs {
            let record = world.virtualDestinations[vd]!
            let evaluation = evaluate(record.spec, in: world)
            _ = index(vd, record, evaluation)
            storedStates[vd] = VirtualDestinationState(
                status: placeholderStatus, evaluation: evaluation, outputs: [])
        }
        for vd in refs { rebuild(vd) }
        if let vd = firstUnmatchedStatus(recorded) {
            return "the status of \(vd) derived again differs from the one the snapshot recorded"
        }
        for (vd, stored) in recorded { statusChangedAt[vd] = stored.statusAt }
        for (vd, stored) in recorded {
            guard let contribution = stored.contribution else { continue }  // pending, as `rebuild` left it
            contributions[vd] = contribution
            digestAccumulator.add(contribution)
            pendingContributions.remove(vd)
        }
        return nil
    }

    /// The first VirtualDestination, in order, whose status does not hash to the one recorded or
    /// that has none recorded (nil when every one matches): what a restore and a verification check.
    private func firstUnmatchedStatus(_ recorded: [ObjectRef: RecordedState]) -> ObjectRef? {
        storedStates.keys.sorted().first { vd in recorded[vd]?.status != statusDigest(storedStates[vd]!.status) }
    }

    /// The digest of every VirtualDestination's status and its digest contribution when settled
    /// (nil when its outputs or contribution are pending): what a snapshot stores, so that a
    /// restore need not translate outputs to check its digest, and taking one translates nothing.
    func recordedStates() -> [(vd: ObjectRef, status: [UInt8], contribution: [UInt8]?, statusAt: UInt64)] {
        storedStates.keys.sorted().map { vd in
            let settled = !pendingContributions.contains(vd) && !deferredAffects(vd)
            return (
                vd, statusDigest(storedStates[vd]!.status), settled ? contributions[vd] : nil, statusChangedAt[vd] ?? 0
            )
        }
    }

    /// The first VirtualDestination whose recorded status or contribution is not this state's, or
    /// a count that differs (nil when there is none). The digest must be settled.
    func firstDifference(from recorded: [ObjectRef: RecordedState]) -> String? {
        precondition(pendingContributions.isEmpty, "settle the digest before comparing")
        guard recorded.count == storedStates.count else {
            return "it records \(recorded.count) VirtualDestination states, the replay has \(storedStates.count)"
        }
        if let vd = firstUnmatchedStatus(recorded) { return "the status of \(vd) differs from the replay's" }
        if let vd = recorded.keys.sorted().first(where: { recorded[$0]?.statusAt != statusChangedAt[$0] }) {
            return "the sequence at which the status of \(vd) last changed differs from the replay's"
        }
        for (vd, stored) in recorded.sorted(by: { $0.key < $1.key }) {
            if let contribution = stored.contribution, contribution != contributions[vd] {
                return "the recorded state of \(vd) differs from the replay's"
            }
        }
        return nil
    }

    private static let placeholderStatus = VirtualDestinationStatus(
        observedGeneration: 0, state: .pending, meshes: [], selectedDestinations: [], errors: [], warnings: [])
    private var placeholderStatus: VirtualDestinationStatus { Projection.placeholderStatus }

    /// Rebuilds one VirtualDestination's status and marks its outputs and digest contribution
    /// for rebuilding; with write failures reported, translates at once (they decide the status).
    private mutating func rebuild(_ vd: ObjectRef) {
        unindexOutputs(vd)
        pendingContributions.insert(vd)
        staleRules.remove(vd)
        guard let record = world.virtualDestinations[vd], var state = storedStates[vd] else {
            staleOutputs.remove(vd)
            return
        }
        let outcome = { (mesh: ObjectRef) in self.acceptance[mesh]?.outcome(of: vd) ?? .notCandidate }
        let before = state.status
        defer {
            if statusChangedAt[vd] == nil || storedStates[vd]?.status != before { statusChangedAt[vd] = sequence }
        }
        if world.writeFailures.isEmpty {
            state.status = buildStatus(
                vd: vd, generation: record.generation, evaluation: state.evaluation, acceptance: outcome,
                hostname: record.spec.hostname, writeErrors: [])
            state.outputs = []
            staleOutputs.insert(vd)
        } else {
            let derived = derive(
                record: record, evaluation: state.evaluation, world: world, acceptance: outcome,
                writeFailures: world.writeFailures)
            state.status = derived.status
            state.outputs = derived.outputs
            staleOutputs.remove(vd)
            for piece in state.outputs { byOutput[piece.key, default: []].insert(vd) }
        }
        storedStates[vd] = state
    }

    /// Indexes a VirtualDestination under what its evaluation read; returns its candidacy per mesh.
    private mutating func index(
        _ vd: ObjectRef, _ record: VirtualDestinationRecord, _ e: Evaluation
    ) -> [ObjectRef: MeshAcceptance.Candidate] {
        var entry = IndexEntry()
        if case .staticList(let services) = record.spec.backing { entry.services = services }
        if let service = e.federatedHostnameService { entry.services.append(service) }
        entry.nameReads = e.nameReads
        if case .localized(let selectors, _, _) = record.spec.backing {
            for selector in selectors {
                if let keys = World.indexKeys(for: selector) {
                    entry.localizedKeys += keys
                } else {
                    entry.localizedAnywhere = true
                }
            }
        }
        entry.selected = (e.selected + e.skipped).map { ($0.ref, $0.mesh) }
        entry.exported = e.exported
        entry.virtualMeshes = e.virtualMeshes
        if case .virtualMesh(let vm) = record.spec.export { entry.virtualMeshes.insert(vm) }
        if let hostname = record.spec.hostname {
            for mesh in e.exported where e.isCandidate(on: mesh) {
                entry.candidacy[mesh] = MeshAcceptance.Candidate(
                    virtualDestination: vd, hostname: hostname, lastSequence: record.lastSequence)
            }
        }
        for service in entry.services { byService[service, default: []].insert(vd) }
        for (destination, mesh) in entry.selected {
            bySelected[destination, default: []].insert(vd)
            byMesh[mesh, default: []].insert(vd)
        }
        for mesh in entry.exported {
            byExport[mesh, default: []].insert(vd)
            byMesh[mesh, default: []].insert(vd)
        }
        for vm in entry.virtualMeshes { byVirtualMesh[vm, default: []].insert(vd) }
        for key in entry.localizedKeys { localizedByKey[key, default: []].insert(vd) }
        if entry.localizedAnywhere { localizedAnywhere.insert(vd) }
        for name in entry.nameReads { byNameRead[name, default: []].insert(vd) }
        indexed[vd] = entry
        return entry.candidacy
    }

    /// Removes a VirtualDestination from the indexes; returns its former candidacy per mesh.
    private mutating func unindex(_ vd: ObjectRef) -> [ObjectRef: MeshAcceptance.Candidate] {
        guard let entry = indexed.removeValue(forKey: vd) else { return [:] }
        for key in entry.localizedKeys { localizedByKey[key]?.remove(vd) }
        if entry.localizedAnywhere { localizedAnywhere.remove(vd) }
        for name in entry.nameReads { byNameRead[name]?.remove(vd) }
        for service in entry.services { byService[service]?.remove(vd) }
        for (destination, mesh) in entry.selected {
            bySelected[destination]?.remove(vd)
            byMesh[mesh]?.remove(vd)
        }
        for mesh in entry.exported {
            byExport[mesh]?.remove(vd)
            byMesh[mesh]?.remove(vd)
        }
        for vm in entry.virtualMeshes { byVirtualMesh[vm]?.remove(vd) }
        return entry.candidacy
    }
}

/// Status and outputs of one VirtualDestination, given its evaluation and mesh outcomes.
func derive(
    record: VirtualDestinationRecord, evaluation: Evaluation, world: World,
    acceptance: (ObjectRef) -> MeshAcceptance.Outcome, writeFailures: [OutputKey: String]
) -> (status: VirtualDestinationStatus, outputs: [OutputPiece]) {
    let provisional = buildStatus(
        vd: record.spec.ref, generation: record.generation, evaluation: evaluation, acceptance: acceptance,
        hostname: record.spec.hostname,
        writeErrors: [])
    let outputs = acceptedOutputs(record: record, evaluation: evaluation, status: provisional, world: world)
    let failures = Set(outputs.compactMap { writeFailures[$0.key].map { "write error: \($0)" } }).sorted()
    if failures.isEmpty { return (provisional, outputs) }
    let status = buildStatus(
        vd: record.spec.ref, generation: record.generation, evaluation: evaluation, acceptance: acceptance,
        hostname: record.spec.hostname,
        writeErrors: failures)
    return (status, outputs)
}

/// The output pieces of a VirtualDestination on each mesh its status accepts it on (a mesh's
/// state does not depend on write failures, so a status with or without them gives the same);
/// with `only`, just the pieces of that kind.
func acceptedOutputs(
    record: VirtualDestinationRecord, evaluation: Evaluation, status: VirtualDestinationStatus, world: World,
    only kind: String? = nil
) -> [OutputPiece] {
    var outputs: [OutputPiece] = []
    for (mesh, (key, meshStatus)) in zip(evaluation.exported, status.meshes) where meshStatus.state == .accepted {
        precondition(mesh.key == key)
        outputs += translate(record.spec, evaluation: evaluation, mesh: mesh, world: world, only: kind)
    }
    return outputs
}

/// SHA-256 of a VirtualDestination's derived state in the packed encoding (canonical: members in
/// key order; three times faster to produce than canonical JSON text, which restores spent most of
/// their time on).
func contributionDigest(_ vd: ObjectRef, _ state: VirtualDestinationState) -> [UInt8] {
    let value: JSONValue = [
        "ref": vd.json, "status": state.status.json,
        "outputs": .array(
            state.outputs.map { ["key": .string($0.key.description), "mesh": .string($0.mesh), "spec": $0.spec] }),
    ]
    return Array(SHA256.hash(data: PackedValue.encode(value)))
}

/// SHA-256 of a status in the packed encoding: what a snapshot checks a restored status against.
func statusDigest(_ status: VirtualDestinationStatus) -> [UInt8] {
    Array(SHA256.hash(data: PackedValue.encode(status.json)))
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
