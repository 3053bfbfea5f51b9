public import MeshModel

/// The reference: after every event, recompute everything from the current inputs (and the
/// per-mesh acceptance carried from the previous event, which history decides). Slow and simple;
/// tests cross-check `Projection` against it.
public struct ReferenceProjection: Sendable {
    /// The inputs.
    public private(set) var world = World()
    /// The last sequence folded.
    public private(set) var sequence: UInt64 = 0
    /// Per VirtualDestination: status, evaluation, outputs.
    public private(set) var states: [ObjectRef: VirtualDestinationState] = [:]
    /// Per mesh acceptance.
    public private(set) var acceptance: [ObjectRef: MeshAcceptance] = [:]

    /// An empty reference projection.
    public init() {}

    /// Folds one event by recomputing the whole derived state.
    public mutating func apply(_ event: Event) {
        sequence = event.sequence
        world.apply(
            kind: event.key.kind, ref: ObjectRef(name: event.key.name, namespace: event.key.namespace),
            object: event.change == .upsert ? event.object : nil, generation: event.generation, sequence: event.sequence
        )
        var evaluations: [ObjectRef: Evaluation] = [:]
        for (ref, record) in world.virtualDestinations { evaluations[ref] = evaluate(record.spec, in: world) }
        var meshes = Set(acceptance.keys)
        for evaluation in evaluations.values { meshes.formUnion(evaluation.exported) }
        var next: [ObjectRef: MeshAcceptance] = [:]
        for mesh in meshes.sortedByKey() {
            let candidates = evaluations.compactMap { ref, evaluation -> MeshAcceptance.Candidate? in
                guard evaluation.isCandidate(on: mesh), let record = world.virtualDestinations[ref],
                    let hostname = record.spec.hostname
                else { return nil }
                return MeshAcceptance.Candidate(
                    virtualDestination: ref, hostname: hostname, lastSequence: record.lastSequence)
            }
            let resolved = (acceptance[mesh] ?? MeshAcceptance()).resolved(candidates: candidates, at: sequence)
            if !resolved.accepted.isEmpty || !resolved.blocked.isEmpty { next[mesh] = resolved }
        }
        acceptance = next
        states = [:]
        for (ref, record) in world.virtualDestinations {
            let evaluation = evaluations[ref]!
            let derived = derive(
                record: record, evaluation: evaluation, world: world,
                acceptance: { next[$0]?.outcome(of: ref) ?? .notCandidate }, writeFailures: world.writeFailures)
            states[ref] = VirtualDestinationState(
                status: derived.status, evaluation: evaluation, outputs: derived.outputs)
        }
    }
}

/// Canonical bytes of a whole derived state (statuses and merged outputs), for byte-for-byte
/// comparison of two projections or two replays.
public func canonicalState(_ states: [ObjectRef: VirtualDestinationState]) -> [UInt8] {
    var statuses = JSONObject()
    for (ref, state) in states { statuses[ref.key] = state.status.json }
    let outputs = mergedOutputs(of: states)
    let value: JSONValue = ["statuses": .object(statuses), "outputs": .array(outputs.map(\.manifest))]
    return JSONText.canonical(value)
}
