import EventLog
public import MeshModel
import Projection

/// What `drift` compares between the status a live cluster's controller wrote (recorded with a
/// VirtualDestination by `ingest` or `record`) and the status MeshLedger derives: the overall
/// state, the state on each mesh, the errors (top level and per mesh) and the selected
/// destinations. Errors and destinations are compared as sets: two controllers may list them in
/// another order. Acceptance orders, warnings and observedGeneration are not compared.
public struct StatusSummary: Sendable, Hashable {
    /// The overall state.
    public var state: String
    /// The state on each mesh, by mesh key.
    public var meshes: [String: String]
    /// Top-level and per-mesh errors, sorted, each once.
    public var errors: [String]
    /// The selected destinations' refs (`name.namespace.cluster`), sorted.
    public var selected: [String]

    /// The summary of a status object shaped as the CRD's `status`.
    public init(_ status: JSONValue) {
        state = status["state"]?.stringValue ?? ""
        var meshes: [String: String] = [:]
        var errors = Set(status["errors"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        for member in status["meshes"]?.objectValue ?? JSONObject() {
            meshes[member.key] = member.value["state"]?.stringValue ?? ""
            errors.formUnion(member.value["errors"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        self.meshes = meshes
        self.errors = errors.sorted()
        selected = (status["selectedDestinations"]?.arrayValue ?? []).map { entry in
            let ref = entry["ref"] ?? .null
            return [ref["name"], ref["namespace"], ref["clusterName"]].compactMap { $0?.stringValue }
                .joined(separator: ".")
        }
        .sorted()
    }

    /// What differs between a recorded and a derived status (objects shaped as the CRD's
    /// `status`), one line each (none: they agree).
    public static func differences(recorded: JSONValue, derived: JSONValue) -> [String] {
        differences(recorded: StatusSummary(recorded), derived: StatusSummary(derived))
    }

    /// What differs between a recorded and a derived summary, one line each (none: they agree).
    public static func differences(recorded: StatusSummary, derived: StatusSummary) -> [String] {
        var lines: [String] = []
        if recorded.state != derived.state {
            lines.append("state: recorded \(recorded.state), derived \(derived.state)")
        }
        for key in Set(recorded.meshes.keys).union(derived.meshes.keys).sorted()
        where recorded.meshes[key] != derived.meshes[key] {
            lines.append(
                "mesh \(key): recorded \(recorded.meshes[key] ?? "(not exported)"), derived \(derived.meshes[key] ?? "(not exported)")"
            )
        }
        for error in recorded.errors where !derived.errors.contains(error) {
            lines.append("error only recorded: \(error)")
        }
        for error in derived.errors where !recorded.errors.contains(error) {
            lines.append("error only derived: \(error)")
        }
        for service in recorded.selected where !derived.selected.contains(service) {
            lines.append("selected only recorded: \(service)")
        }
        for service in derived.selected where !recorded.selected.contains(service) {
            lines.append("selected only derived: \(service)")
        }
        return lines
    }
}

/// A VirtualDestination whose recorded status disagrees with its derived one.
public struct Drift: Sendable {
    /// The VirtualDestination.
    public var virtualDestination: ObjectRef
    /// The sequence since which they disagree (without interruption up to the point asked).
    public var since: UInt64
    /// What differs, one line each.
    public var differences: [String]
    /// The status recorded from the cluster.
    public var recorded: JSONValue
    /// The status derived by the rules.
    public var derived: JSONValue

    /// As JSON: `namespace`, `name`, `since`, `differences`, `recorded`, `derived`.
    public var json: JSONValue {
        [
            "namespace": .string(virtualDestination.namespace), "name": .string(virtualDestination.name),
            "since": .int(Int64(since)), "differences": .array(differences.map(JSONValue.string)),
            "recorded": recorded, "derived": derived,
        ]
    }
}

extension Store {
    /// The status a VirtualDestination's own controller wrote, as recorded with its last change
    /// at or before `sequence` (nil: none recorded, or the object does not exist).
    public func recordedStatus(of vd: ObjectRef, at sequence: UInt64? = nil) throws -> JSONValue? {
        let key = ObjectKey(kind: .virtualDestination, namespace: vd.namespace, name: vd.name)
        let point = sequence ?? UInt64.max
        guard let last = try log.history(of: key).last(where: { $0 <= point }) else { return nil }
        return try log.event(at: last)?.recordedStatus
    }

    /// Every VirtualDestination whose recorded status (see `recordedStatus`) differs from its
    /// derived status at `sequence` (default: the head), sorted by namespace and name, each with
    /// the sequence since when. Replays the log from its start: a disagreement's start may lie
    /// before any snapshot.
    public func drift(at sequence: UInt64? = nil) throws -> [Drift] {
        let head = try log.head().sequence
        let last = min(sequence ?? head, head)
        var (projection, _, _) = try project(upTo: 0)
        var recorded: [ObjectRef: JSONValue] = [:]
        var since: [ObjectRef: UInt64] = [:]
        func check(_ ref: ObjectRef, at sequence: UInt64) {
            guard let observed = recorded[ref], let derived = projection.state(of: ref)?.status.json,
                StatusSummary(observed) != StatusSummary(derived)
            else {
                since[ref] = nil
                return
            }
            if since[ref] == nil { since[ref] = sequence }
        }
        if last > 0 {
            try log.scan(1...last) { event in
                projection.apply(event)
                var touched = projection.lastChanged
                if event.key.kind == .virtualDestination {
                    let ref = ObjectRef(name: event.key.name, namespace: event.key.namespace)
                    recorded[ref] = event.recordedStatus
                    touched.insert(ref)
                }
                for ref in touched where recorded[ref] != nil || since[ref] != nil { check(ref, at: event.sequence) }
                return true
            }
        }
        return since.keys.sorted().compactMap { ref in
            guard let start = since[ref], let observed = recorded[ref],
                let derived = projection.state(of: ref)?.status.json
            else { return nil }
            return Drift(
                virtualDestination: ref, since: start,
                differences: StatusSummary.differences(recorded: observed, derived: derived),
                recorded: observed, derived: derived)
        }
    }
}

extension Event {
    /// The status a VirtualDestination's own controller wrote, as this event recorded it with the
    /// object (`ingest`, `record`); nil for a delete, another kind, or an object without one.
    public var recordedStatus: JSONValue? {
        change == .upsert && key.kind == .virtualDestination ? object["status"] : nil
    }
}
