public import MeshModel

/// Snapshots of the projection: everything needed to continue folding from sequence N without
/// the events before it (docs/domain.md section 5).
///
/// A snapshot holds the inputs that exist at N (each as the sequence of the event that last
/// changed it, whose object is the input as applied, and its generation),
/// the creation order of VirtualMeshes and TrafficPolicies, the per-mesh acceptance (which
/// history decides) and the last Destination seen per service. Evaluations, statuses and indexes
/// are recomputed from those on restore: they are a function of them. Per VirtualDestination it
/// also records the digest of its status, which the restored status must match, and, when its
/// outputs were settled, its digest contribution, so that a restore does not translate every
/// output to check the state digest: outputs are translated when they are asked for, and the
/// contributions not recorded when the digest is (decision 0006, addenda "format 3" and
/// "format 5"). The bytes are a packed JSON value (the event codec's value encoding). A restore
/// reads each input's object from its event in the log (decision 0006, addendum "format 4"): a
/// snapshot holds no object.
extension Projection {
    /// The snapshot format this version writes. Format 2: the state digest hashes packed
    /// encodings (format 1 hashed canonical JSON text). Format 3: each VirtualDestination's status
    /// digest and digest contribution are recorded. Format 4: inputs are named by the event that
    /// last changed them instead of holding their objects. Format 5: a contribution may be absent
    /// (outputs not settled when it was taken), and the snapshot's digest is the sum of those
    /// recorded. Format 6: output names are unique (decision 0014), long names hashed as Gloo
    /// hashes them, and new warnings and errors (decision 0015), so older states differ. Format 7:
    /// each VirtualDestination's state records the sequence at which its status last changed
    /// (`statusChangedAt`), which older snapshots cannot tell. A change to what translation produces
    /// must bump it (a test pins the digest of a fixed scenario) and raise the lower bound of
    /// `readableSnapshotFormats`.
    public static let snapshotFormat: UInt8 = 7

    /// The snapshot formats this version restores; any other is skipped (format 7 records what
    /// older ones lack, so they are replaced by replay).
    public static let readableSnapshotFormats: ClosedRange<UInt8> = 7...7

    /// What a snapshot records of one VirtualDestination: the digest of its status, its digest
    /// contribution when its outputs were settled, and the sequence its status last changed at.
    typealias RecordedState = (status: [UInt8], contribution: [UInt8]?, statusAt: UInt64)

    /// Why a snapshot was not used.
    public struct SnapshotError: Error, Sendable, CustomStringConvertible {
        /// What is wrong.
        public let problem: String
        public var description: String { problem }
    }

    /// A snapshot of the current state: its payload and the digest it claims, the sum of the
    /// contributions it records. Only settled contributions are recorded (no output is translated
    /// here): after `settleDigest()` every one is, and the digest is the state digest.
    public func snapshot() -> (payload: [UInt8], digest: Digest) {
        func ref(_ r: ObjectRef) -> JSONValue { r.json }
        let inputs = world.inputs.sorted { $0.key < $1.key }.map { key, entry -> JSONValue in
            [
                "kind": .string(key.kind.rawValue), "namespace": .string(key.namespace), "name": .string(key.name),
                "generation": .int(Int64(clamping: entry.generation)), "sequence": .int(Int64(entry.sequence)),
            ]
        }
        var createdAt: [JSONValue] = []
        for (r, vm) in world.virtualMeshes.sorted(by: { $0.key < $1.key }) {
            createdAt.append(["kind": "VirtualMesh", "ref": ref(r), "at": .int(Int64(vm.createdAt))])
        }
        for (r, tp) in world.trafficPolicies.sorted(by: { $0.key < $1.key }) {
            createdAt.append(["kind": "TrafficPolicy", "ref": ref(r), "at": .int(Int64(tp.createdAt))])
        }
        let former = world.formerDestinations.sorted { $0.key < $1.key }.map { service, destination -> JSONValue in
            ["service": service.json, "destination": ref(destination)]
        }
        let meshes = acceptance.sorted { $0.key.key < $1.key.key }.map { mesh, state -> JSONValue in
            [
                "mesh": ref(mesh),
                "accepted": .array(
                    state.accepted.map {
                        [
                            "vd": ref($0.virtualDestination), "at": .int(Int64($0.acceptedAt)),
                            "hostname": .string($0.hostname),
                        ]
                    }),
                "blocked": .array(
                    state.blocked.sorted { $0.key < $1.key }.map { ["vd": ref($0.key), "by": ref($0.value)] }),
            ]
        }
        let recorded = recordedStates()
        var sum = DigestAccumulator()
        let states = recorded.map { vd, status, contribution, statusAt -> JSONValue in
            var entry: JSONObject = [
                "vd": ref(vd), "status": .string(Digest(bytes: status).hex),
                "statusAt": .int(Int64(clamping: statusAt)),
            ]
            if let contribution {
                entry["contribution"] = .string(Digest(bytes: contribution).hex)
                sum.add(contribution)
            }
            return .object(entry)
        }
        let value: JSONValue = [
            "sequence": .int(Int64(sequence)), "inputs": .array(inputs), "createdAt": .array(createdAt),
            "formerDestinations": .array(former), "acceptance": .array(meshes), "states": .array(states),
        ]
        return (PackedValue.encode(value), sum.digest)
    }

    /// Restores a projection from a snapshot payload: every restored status must match the one
    /// recorded, and the recorded contributions must sum to `expectedDigest`; the contributions
    /// not recorded are computed when a digest is asked for. `events` gives the
    /// events at the sequences asked for, in that order (nil where the log has none): each
    /// input's object is read from the event that last changed it, which must be a change of that
    /// object to that generation.
    public static func restore(
        payload: [UInt8], expectedDigest: Digest, events: ([UInt64]) throws -> [Event?]
    ) throws -> Projection {
        let value: JSONValue
        do {
            value = try PackedValue.decode(payload)
        } catch {
            throw SnapshotError(problem: "payload does not decode: \(error)")
        }
        guard let sequence = value["sequence"]?.intValue, sequence >= 0, let inputs = value["inputs"]?.arrayValue else {
            throw SnapshotError(problem: "payload lacks sequence or inputs")
        }
        let sequences = try inputs.map { input in
            guard let at = input["sequence"]?.intValue, at > 0 else {
                throw SnapshotError(problem: "malformed input entry")
            }
            return UInt64(at)
        }
        let changes = try events(sequences)
        guard changes.count == inputs.count else { throw SnapshotError(problem: "the log gave too few events") }
        var world = World()
        for (input, (at, change)) in zip(inputs, zip(sequences, changes)) {
            guard let kindName = input["kind"]?.stringValue, let kind = ResourceKind(rawValue: kindName),
                let name = input["name"]?.stringValue, let namespace = input["namespace"]?.stringValue,
                let generation = input["generation"]?.intValue, generation >= 0
            else { throw SnapshotError(problem: "malformed input entry") }
            let key = ObjectKey(kind: kind, namespace: namespace, name: name)
            guard let change, change.key == key, change.change == .upsert, change.generation == UInt64(generation)
            else {
                throw SnapshotError(
                    problem: "input \(key) names event \(at), which is not its change to generation \(generation)")
            }
            world.apply(
                kind: kind, ref: ObjectRef(name: name, namespace: namespace), object: change.object,
                generation: UInt64(generation), sequence: at)
        }
        for entry in value["createdAt"]?.arrayValue ?? [] {
            let r = ObjectRef(json: entry["ref"])
            let at = UInt64(clamping: entry["at"]?.intValue ?? 0)
            if entry["kind"] == "VirtualMesh" { world.virtualMeshes[r]?.createdAt = at }
            if entry["kind"] == "TrafficPolicy" { world.trafficPolicies[r]?.createdAt = at }
        }
        world.recomputeMeshOwners()
        world.formerDestinations = [:]
        for entry in value["formerDestinations"]?.arrayValue ?? [] {
            world.formerDestinations[ClusterObjectRef(json: entry["service"])] = ObjectRef(json: entry["destination"])
        }
        var acceptance: [ObjectRef: MeshAcceptance] = [:]
        for entry in value["acceptance"]?.arrayValue ?? [] {
            let accepted = (entry["accepted"]?.arrayValue ?? []).map {
                MeshAcceptance.Entry(
                    virtualDestination: ObjectRef(json: $0["vd"]),
                    acceptedAt: UInt64(clamping: $0["at"]?.intValue ?? 0),
                    hostname: $0["hostname"]?.stringValue ?? "")
            }
            var blocked: [ObjectRef: ObjectRef] = [:]
            for b in entry["blocked"]?.arrayValue ?? [] { blocked[ObjectRef(json: b["vd"])] = ObjectRef(json: b["by"]) }
            acceptance[ObjectRef(json: entry["mesh"])] = MeshAcceptance(accepted: accepted, blocked: blocked)
        }
        let recorded = try recordedStates(in: value)
        var projection = Projection()
        if let problem = projection.rebuildAll(
            world: world, acceptance: acceptance, sequence: UInt64(sequence), recorded: recorded)
        {
            throw SnapshotError(problem: problem)
        }
        try check(recorded, sumTo: expectedDigest)
        return projection
    }

    /// Why a snapshot does not record this projection's state (nil when it does): its
    /// contributions must sum to `digest`, and it must record as many VirtualDestinations as this
    /// state has, each status and each recorded contribution equal to this state's. What
    /// `replay --verify-snapshots` checks against the replay at the snapshot's sequence: what a
    /// restore trusts. Settles the digest first.
    public mutating func disagreement(withSnapshot payload: [UInt8], digest: Digest) -> String? {
        settleDigest()
        do {
            let recorded = try Projection.recordedStates(in: try PackedValue.decode(payload))
            try Projection.check(recorded, sumTo: digest)
            return firstDifference(from: recorded)
        } catch {
            return "\(error)"
        }
    }

    /// The recorded status digest and contribution (nil when not recorded) per VirtualDestination.
    private static func recordedStates(
        in value: JSONValue
    ) throws -> [ObjectRef: RecordedState] {
        var recorded: [ObjectRef: RecordedState] = [:]
        for entry in value["states"]?.arrayValue ?? [] {
            guard let status = entry["status"]?.stringValue.flatMap(Digest.init(hex:)),
                let statusAt = entry["statusAt"]?.intValue, statusAt > 0
            else {
                throw SnapshotError(problem: "malformed state entry")
            }
            var contribution: [UInt8]?
            if let text = entry["contribution"] {
                guard let digest = text.stringValue.flatMap(Digest.init(hex:)) else {
                    throw SnapshotError(problem: "malformed state entry")
                }
                contribution = digest.bytes
            }
            recorded[ObjectRef(json: entry["vd"])] = (status.bytes, contribution, UInt64(statusAt))
        }
        return recorded
    }

    /// How many of a snapshot's VirtualDestination states record their contribution, of how many
    /// (nil when the payload does not decode): all of them when the snapshot's digest is the state
    /// digest.
    public static func recordedContributions(in payload: [UInt8]) -> (recorded: Int, of: Int)? {
        guard let recorded = try? recordedStates(in: PackedValue.decode(payload)) else { return nil }
        return (recorded.values.count { $0.contribution != nil }, recorded.count)
    }

    /// Throws unless the recorded contributions sum to `digest`.
    private static func check(
        _ recorded: [ObjectRef: RecordedState], sumTo digest: Digest
    ) throws {
        var sum = DigestAccumulator()
        for contribution in recorded.values.compactMap(\.contribution) { sum.add(contribution) }
        guard sum.digest == digest else {
            throw SnapshotError(
                problem:
                    "the recorded contributions sum to \(sum.digest.hex.prefix(16)), which does not match the snapshot's digest"
            )
        }
    }
}
