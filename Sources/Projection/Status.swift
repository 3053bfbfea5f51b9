public import MeshModel

/// ApprovalState (docs/domain.md 4.4).
public enum ApprovalState: String, Sendable, Hashable {
    case pending = "PENDING"
    case accepted = "ACCEPTED"
    case invalid = "INVALID"
    case failed = "FAILED"
}

/// ApprovalStatus: the status of a VirtualDestination on one mesh.
public struct ApprovalStatus: Sendable, Hashable {
    /// The index among the VirtualDestinations accepted on the mesh (nil when not accepted).
    public var acceptanceOrder: Int?
    /// ACCEPTED or INVALID.
    public var state: ApprovalState
    /// Why not accepted.
    public var errors: [String]
    /// Warnings (this project's addition).
    public var warnings: [String]
}

/// VirtualDestinationStatus, shaped as the CRD's `status` schema (plus `warnings`).
public struct VirtualDestinationStatus: Sendable, Hashable {
    /// The generation of the VirtualDestination last processed.
    public var observedGeneration: UInt64
    /// The overall state.
    public var state: ApprovalState
    /// Per exported mesh, by mesh key (`name.namespace.`).
    public var meshes: [(key: String, status: ApprovalStatus)]
    /// The selected backing Destinations: the Destination object's ref and its service.
    public var selectedDestinations: [(ref: ClusterObjectRef, service: ClusterObjectRef)]
    /// Top-level errors.
    public var errors: [String]
    /// Top-level warnings.
    public var warnings: [String]

    public static func == (a: VirtualDestinationStatus, b: VirtualDestinationStatus) -> Bool {
        a.json == b.json
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(json) }

    /// The status as JSON, canonical: meshes sorted by key, empty lists left out.
    public var json: JSONValue {
        var object = JSONObject()
        object["observedGeneration"] = .int(Int64(clamping: observedGeneration))
        object["state"] = .string(state.rawValue)
        if !meshes.isEmpty {
            var meshObject = JSONObject()
            for (key, status) in meshes {
                var entry = JSONObject()
                if let order = status.acceptanceOrder { entry["acceptanceOrder"] = .int(Int64(order)) }
                entry["state"] = .string(status.state.rawValue)
                if !status.errors.isEmpty { entry["errors"] = .array(status.errors.map(JSONValue.string)) }
                if !status.warnings.isEmpty { entry["warnings"] = .array(status.warnings.map(JSONValue.string)) }
                meshObject[key] = .object(entry)
            }
            object["meshes"] = .object(meshObject)
        }
        if !selectedDestinations.isEmpty {
            object["selectedDestinations"] = .array(
                selectedDestinations.map { ["ref": $0.ref.json, "destination": ["kubeService": $0.service.json]] })
        }
        if !errors.isEmpty { object["errors"] = .array(errors.map(JSONValue.string)) }
        if !warnings.isEmpty { object["warnings"] = .array(warnings.map(JSONValue.string)) }
        return .object(object)
    }
}

/// Builds a VirtualDestination's status from its evaluation, the acceptance on each exported mesh
/// and controller feedback.
func buildStatus(
    vd: ObjectRef, generation: UInt64, evaluation e: Evaluation, acceptance: (ObjectRef) -> MeshAcceptance.Outcome,
    hostname: String?, writeErrors: [String]
) -> VirtualDestinationStatus {
    var meshes: [(key: String, status: ApprovalStatus)] = []
    var allAccepted = true
    for mesh in e.exported {
        let outcome = acceptance(mesh)
        let issues = outcome.issues(of: vd, hostname: hostname)
        let errors = (e.errors + (e.meshErrors[mesh] ?? []) + issues.errors).map(\.message)
        var order: Int?
        if case .accepted(let index, _) = outcome { order = index }
        let accepted = order != nil && errors.isEmpty
        if !accepted { allAccepted = false }
        meshes.append(
            (
                mesh.key,
                ApprovalStatus(
                    acceptanceOrder: order, state: accepted ? .accepted : .invalid, errors: errors,
                    warnings: (e.warnings + issues.warnings).map(\.message))
            ))
    }
    let topErrors = (e.errors + e.topLevelErrors).map(\.message)
    var state: ApprovalState = allAccepted && topErrors.isEmpty && !meshes.isEmpty ? .accepted : .invalid
    if !writeErrors.isEmpty { state = .failed }
    return VirtualDestinationStatus(
        observedGeneration: generation, state: state, meshes: meshes,
        selectedDestinations: e.selected.map { ($0.objectRef, $0.service) }, errors: topErrors + writeErrors,
        warnings: e.warnings.map(\.message))
}
