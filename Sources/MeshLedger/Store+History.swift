import EventLog
public import MeshModel
public import Projection

import struct Crypto.SHA256

/// What `history` compares between events: a VirtualDestination's derived status in short.
public struct StatusView: Sendable, Hashable {
    /// The overall state.
    public var state: String
    /// Per mesh key: state and acceptance order.
    public var meshes: [String: String]
    /// Selected services (`name.namespace.cluster`), in order.
    public var selected: [String]
    /// Top-level and per-mesh errors, deduplicated, in order.
    public var errors: [String]
    /// Warnings.
    public var warnings: [String]
    /// SHA-256 (hex, 16 characters) of its outputs.
    public var outputsDigest: String
    /// The generation it observed.
    public var observedGeneration: UInt64

    /// The view of a VirtualDestination's derived state.
    public init(_ state: VirtualDestinationState) {
        let status = state.status
        self.state = status.state.rawValue
        var meshes: [String: String] = [:]
        var errors: [String] = status.errors
        for (key, entry) in status.meshes {
            meshes[key] = entry.state.rawValue + (entry.acceptanceOrder.map { " (order \($0))" } ?? "")
            for error in entry.errors where !errors.contains(error) { errors.append(error) }
        }
        self.meshes = meshes
        self.selected = status.selectedDestinations.map { "\($0.service)" }
        self.errors = errors
        self.warnings = status.warnings
        let outputs = JSONValue.array(
            state.outputs.sorted { $0.key < $1.key }.map { ["key": .string($0.key.description), "spec": $0.spec] })
        self.outputsDigest = String(Digest(bytes: Array(SHA256.hash(data: JSONText.canonical(outputs)))).hex.prefix(16))
        self.observedGeneration = status.observedGeneration
    }

    /// As JSON.
    public var json: JSONValue {
        var meshObject = JSONObject()
        for (key, value) in meshes { meshObject[key] = .string(value) }
        return [
            "state": .string(state), "meshes": .object(meshObject), "selected": .array(selected.map(JSONValue.string)),
            "errors": .array(errors.map(JSONValue.string)), "warnings": .array(warnings.map(JSONValue.string)),
            "outputsDigest": .string(outputsDigest), "observedGeneration": .int(Int64(observedGeneration)),
        ]
    }

    /// What changed from `old` (nil: did not exist) to `new` (nil: deleted), one line each.
    public static func changes(from old: StatusView?, to new: StatusView?) -> [String] {
        switch (old, new) {
        case (nil, nil): return []
        case (nil, let new?): return ["created: \(new.state)"]
        case (_?, nil): return ["deleted"]
        case (let old?, let new?):
            var lines: [String] = []
            if old.state != new.state { lines.append("state: \(old.state) → \(new.state)") }
            if old.observedGeneration != new.observedGeneration {
                lines.append("observedGeneration: \(old.observedGeneration) → \(new.observedGeneration)")
            }
            for key in Set(old.meshes.keys).union(new.meshes.keys).sorted() where old.meshes[key] != new.meshes[key] {
                lines.append(
                    "mesh \(key): \(old.meshes[key] ?? "(not exported)") → \(new.meshes[key] ?? "(not exported)")")
            }
            for removed in old.selected where !new.selected.contains(removed) { lines.append("selected −\(removed)") }
            for added in new.selected where !old.selected.contains(added) { lines.append("selected +\(added)") }
            if old.selected != new.selected && Set(old.selected) == Set(new.selected) {
                lines.append("selected order: \(new.selected.joined(separator: ", "))")
            }
            for error in old.errors where !new.errors.contains(error) { lines.append("error resolved: \(error)") }
            for error in new.errors where !old.errors.contains(error) { lines.append("error: \(error)") }
            for warning in old.warnings where !new.warnings.contains(warning) {
                lines.append("warning resolved: \(warning)")
            }
            for warning in new.warnings where !old.warnings.contains(warning) { lines.append("warning: \(warning)") }
            if old.outputsDigest != new.outputsDigest {
                lines.append("outputs: \(old.outputsDigest) → \(new.outputsDigest)")
            }
            return lines
        }
    }
}

/// A transition of one of the VirtualDestinations a fold selected: which, the sequence that
/// created its life (0 when before the fold began), and the transition.
public struct SelectedTransition: Sendable {
    /// The VirtualDestination.
    public var virtualDestination: ObjectRef
    /// The sequence that created its life, or 0 when that was before the fold's first sequence.
    public var createdAt: UInt64
    /// The transition.
    public var transition: StatusTransition
}

/// One transition of a VirtualDestination's derived status, with the event that caused it.
public struct StatusTransition: Sendable {
    /// The event whose fold changed the status (it may have touched another object).
    public var cause: Event
    /// Before (nil: did not exist).
    public var before: StatusView?
    /// After (nil: deleted).
    public var after: StatusView?
    /// What changed, one line each (the recorded status's changes prefixed `recorded`).
    public var changes: [String]
    /// The status the cluster's controller wrote, recorded with the VirtualDestination, after
    /// the event (nil: none recorded).
    public var recorded: JSONValue? = nil

    /// The causing event in a few words: `event 42: upsert Destination gloo-mesh/reviews by
    /// agent-cluster-1`.
    public var causeDescription: String {
        "event \(cause.sequence): \(cause.change.rawValue) \(cause.key.kind.rawValue) "
            + "\(cause.key.namespace)/\(cause.key.name) by \(cause.actorDescription)"
    }

    /// Whether the derived status changed (not only the status the cluster's controller wrote).
    public var derivedChanged: Bool { before != after }

    /// As JSON: the cause's envelope, before, after, the changes and the recorded status.
    public var json: JSONValue {
        [
            "cause": EventJSON.value(of: cause, includeObject: false), "before": before?.json ?? .null,
            "after": after?.json ?? .null, "changes": .array(changes.map(JSONValue.string)),
            "recorded": recorded ?? .null,
        ]
    }
}

extension StatusSummary {
    /// How a recorded status changed, one line each, prefixed `recorded`.
    static func recordedChanges(from old: StatusSummary?, to new: StatusSummary?) -> [String] {
        switch (old, new) {
        case (nil, nil): return []
        case (nil, let new?): return ["recorded status: \(new.state)"]
        case (_?, nil): return ["recorded status: none"]
        case (let old?, let new?):
            var lines: [String] = []
            if old.state != new.state { lines.append("recorded state: \(old.state) → \(new.state)") }
            for key in Set(old.meshes.keys).union(new.meshes.keys).sorted() where old.meshes[key] != new.meshes[key] {
                lines.append(
                    "recorded mesh \(key): \(old.meshes[key] ?? "(not exported)") → \(new.meshes[key] ?? "(not exported)")"
                )
            }
            for removed in old.selected where !new.selected.contains(removed) {
                lines.append("recorded selected −\(removed)")
            }
            for added in new.selected where !old.selected.contains(added) {
                lines.append("recorded selected +\(added)")
            }
            for error in old.errors where !new.errors.contains(error) {
                lines.append("recorded error resolved: \(error)")
            }
            for error in new.errors where !old.errors.contains(error) { lines.append("recorded error: \(error)") }
            return lines
        }
    }
}

extension Store {
    /// Every transition of a VirtualDestination's derived status between two sequences
    /// (inclusive), each with its causing event, and every change of the status its cluster's
    /// controller wrote, where one is recorded (`ingest`, `record`). Starts from the newest
    /// snapshot before `since`.
    public func history(
        of vd: ObjectRef, since: UInt64 = 1, until: UInt64? = nil, progress: ((UInt64, UInt64) -> Void)? = nil
    ) throws -> [StatusTransition] {
        try transitions(of: { $0 == vd }, since: since, until: until, progress: progress).map(\.transition)
    }

    /// The transitions of every VirtualDestination `selects` chooses, in one pass over the log
    /// (`history` of each), in the order they happened; each with the sequence that created the
    /// VirtualDestination's current life (0 when that was before `since`).
    public func transitions(
        of selects: (ObjectRef) -> Bool, since: UInt64 = 1, until: UInt64? = nil,
        progress: ((UInt64, UInt64) -> Void)? = nil
    ) throws -> [SelectedTransition] {
        var result: [SelectedTransition] = []
        try foldTransitions(of: selects, since: since, until: until, progress: progress) { _, transitions, _ in
            result += transitions
            return true
        }
        return result
    }

    /// Folds the log from `since` to `until` (the head when nil), from the newest snapshot
    /// before `since`, and hands `body` each event with the transitions it caused of the
    /// VirtualDestinations `selects` chooses (often none) and the projection after it, until
    /// `body` returns false.
    public func foldTransitions(
        of selects: (ObjectRef) -> Bool, since: UInt64 = 1, until: UInt64? = nil,
        progress: ((UInt64, UInt64) -> Void)? = nil,
        _ body: (Event, [SelectedTransition], borrowing Projection) throws -> Bool
    ) throws {
        let (head, _) = try log.head()
        let last = min(until ?? head, head)
        let first = max(since, 1)
        guard first <= last else { return }
        var (projection, _, _) = try project(upTo: first - 1)
        var previous: [ObjectRef: StatusView] = [:]
        var recorded: [ObjectRef: JSONValue] = [:]
        var createdAt: [ObjectRef: UInt64] = [:]
        for vd in projection.world.virtualDestinations.keys where selects(vd) {
            previous[vd] = projection.state(of: vd).map(StatusView.init)
            if first > 1 { recorded[vd] = try recordedStatus(of: vd, at: first - 1) }
            createdAt[vd] = 0
        }
        try log.scan(first...last) { event in
            let ref = ObjectRef(name: event.key.name, namespace: event.key.namespace)
            let own = event.key.kind == .virtualDestination && selects(ref)
            if own && event.change == .upsert && projection.world.virtualDestinations[ref] == nil {
                createdAt[ref] = event.sequence
            }
            projection.apply(event)
            // Only what the event rebuilt can differ (and only that needs translating).
            var touched = projection.lastChanged.filter(selects)
            if own { touched.insert(ref) }
            var caused: [SelectedTransition] = []
            for vd in touched.sorted() {
                let before = previous[vd]
                let current = projection.state(of: vd).map(StatusView.init)
                var recordedLines: [String] = []
                if own && vd == ref {
                    let now = event.recordedStatus
                    recordedLines = StatusSummary.recordedChanges(
                        from: recorded[vd].map(StatusSummary.init), to: now.map(StatusSummary.init))
                    recorded[vd] = now
                }
                guard current != before || !recordedLines.isEmpty else { continue }
                caused.append(
                    SelectedTransition(
                        virtualDestination: vd, createdAt: createdAt[vd] ?? 0,
                        transition: StatusTransition(
                            cause: event, before: before, after: current,
                            changes: StatusView.changes(from: before, to: current) + recordedLines,
                            recorded: recorded[vd])))
                previous[vd] = current
            }
            if event.sequence % 1024 == 0 { try Task.checkCancellation() }
            if event.sequence % 4096 == 0 {
                progress?(event.sequence - first + 1, last - first + 1)
            }
            return try body(event, caused, projection)
        }
    }

    /// The text `diff` compares at one point: statuses (YAML) and outputs (YAML), optionally
    /// limited to a cluster and to one VirtualDestination.
    public func diffText(at sequence: UInt64, cluster: String?, virtualDestination: ObjectRef?) throws -> String {
        var (projection, _, _) = try project(upTo: sequence)
        projection.settleOutputs()  // read twice below: translate the pending outputs once
        var statuses = JSONObject()
        for (ref, state) in projection.states where virtualDestination == nil || ref == virtualDestination {
            statuses["\(ref.namespace)/\(ref.name)"] = state.status.json
        }
        let outputs = projection.outputObjects
            .filter { cluster == nil || $0.key.cluster == cluster }
            .filter { virtualDestination == nil || $0.parents.contains(virtualDestination!) }
        var text = "# statuses\n" + YAMLText.emit(.object(statuses))
        text += "# outputs\n" + YAMLText.emitDocuments(outputs.map(\.manifest))
        return text
    }
}
