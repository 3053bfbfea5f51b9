import EventLog
public import MeshModel
public import Projection

/// Why a VirtualDestination is in its state at one point of the log: its status, every error and
/// warning with where it applies, and for each the input objects behind it with their last change
/// up to that point. Built once by `Store.explain`; `meshledger explain` prints it as text and
/// `GET /v1/virtualdestinations/NS/NAME/explain` encodes it as JSON.
public struct Explanation: Sendable {
    /// Error or warning.
    public enum Severity: String, Sendable {
        case error
        case warning
    }

    /// An input object and its last change at or before the explained point (nil: never recorded).
    public struct Input: Sendable {
        /// The object.
        public var key: ObjectKey
        /// Its last event at or before the point.
        public var lastChange: Event?
    }

    /// One error or warning.
    public struct Entry: Sendable {
        /// Error or warning.
        public var severity: Severity
        /// Where it applies: `all meshes`, `top level`, `mesh NAME.NAMESPACE.`, `output KEY`.
        public var scope: String
        /// The text, as the status words it.
        public var message: String
        /// The inputs behind it, each once, in the order the rule names them.
        public var inputs: [Input]
    }

    /// The VirtualDestination.
    public var ref: ObjectRef
    /// The point explained.
    public var sequence: UInt64
    /// Its generation at that point.
    public var generation: UInt64
    /// Its hostname.
    public var hostname: String?
    /// Its derived status.
    public var status: VirtualDestinationStatus
    /// Its own last change.
    public var lastChange: Event?
    /// Errors first (all meshes, top level, per mesh, hostname conflicts, write failures), then
    /// warnings.
    public var entries: [Entry]
    /// The status its cluster's controller wrote, recorded with its last change (nil: none).
    public var recordedStatus: JSONValue? = nil
    /// How the recorded status differs from the derived one (empty: they agree, or none recorded).
    public var drift: [String] {
        recordedStatus.map { StatusSummary.differences(recorded: $0, derived: status.json) } ?? []
    }

    /// The errors.
    public var errors: [Entry] { entries.filter { $0.severity == .error } }
    /// The warnings.
    public var warnings: [Entry] { entries.filter { $0.severity == .warning } }

    /// The explanation as JSON: `sequence`, `generation`, `hostname`, `status`, `lastChange`,
    /// `errors` and `warnings` (each `{message, scope, inputs: [{kind, namespace, name, lastChange}]}`),
    /// `recordedStatus` and `drift`.
    public var json: JSONValue {
        func entry(_ entry: Entry) -> JSONValue {
            let inputs = entry.inputs.map { input -> JSONValue in
                var object: JSONObject = [
                    "kind": .string(input.key.kind.rawValue), "namespace": .string(input.key.namespace),
                    "name": .string(input.key.name),
                ]
                if let event = input.lastChange {
                    object["lastChange"] = EventJSON.value(of: event, includeObject: false)
                }
                return .object(object)
            }
            return ["message": .string(entry.message), "scope": .string(entry.scope), "inputs": .array(inputs)]
        }
        return [
            "namespace": .string(ref.namespace), "name": .string(ref.name), "sequence": .int(Int64(sequence)),
            "generation": .int(Int64(clamping: generation)), "hostname": hostname.map(JSONValue.string) ?? .null,
            "status": status.json,
            "lastChange": lastChange.map { EventJSON.value(of: $0, includeObject: false) } ?? .null,
            "errors": .array(errors.map(entry)), "warnings": .array(warnings.map(entry)),
            "recordedStatus": recordedStatus ?? .null, "drift": .array(drift.map(JSONValue.string)),
        ]
    }
}

extension Store {
    /// Explains a VirtualDestination at `sequence` of the log, from `projection` (which must be at
    /// that sequence); nil when it does not exist there.
    public func explain(_ ref: ObjectRef, in projection: Projection, at sequence: UInt64) throws -> Explanation? {
        guard let state = projection.state(of: ref), let record = projection.world.virtualDestinations[ref] else {
            return nil
        }
        let vdKey = ref.objectKey(.virtualDestination)
        let e = state.evaluation
        var issues: [(Explanation.Severity, String, Issue)] = []
        for issue in e.errors { issues.append((.error, "all meshes", issue)) }
        for issue in e.topLevelErrors { issues.append((.error, "top level", issue)) }
        for (mesh, list) in e.meshErrors.sorted(by: { $0.key.key < $1.key.key }) {
            for issue in list { issues.append((.error, "mesh \(mesh.key)", issue)) }
        }
        for mesh in e.exported {
            let outcome = projection.acceptance[mesh]?.outcome(of: ref) ?? .notCandidate
            let acceptanceIssues = outcome.issues(of: ref, hostname: record.spec.hostname)
            for issue in acceptanceIssues.errors { issues.append((.error, "mesh \(mesh.key)", issue)) }
            for issue in acceptanceIssues.warnings { issues.append((.warning, "mesh \(mesh.key)", issue)) }
        }
        for piece in state.outputs {
            guard let failure = projection.world.writeFailures[piece.key] else { continue }
            let report = projection.world.syncResultKeys.first { $0.value == piece.key }?.key
            issues.append(
                (
                    .error, "output \(piece.key)",
                    Issue("write error: \(failure)", report.map { [$0.objectKey(.syncResult)] } ?? [])
                ))
        }
        for issue in e.warnings { issues.append((.warning, "all meshes", issue)) }

        var lastChanges: [ObjectKey: Event?] = [:]
        func lastChange(_ key: ObjectKey) throws -> Event? {
            if let known = lastChanges[key] { return known }
            let found = try log.history(of: key).last(where: { $0 <= sequence }).flatMap { try log.event(at: $0) }
            lastChanges[key] = found
            return found
        }
        let entries = try issues.map { severity, scope, issue in
            var seen = Set<ObjectKey>()
            let inputs = try issue.inputs.filter { seen.insert($0).inserted }.map {
                Explanation.Input(key: $0, lastChange: try lastChange($0))
            }
            return Explanation.Entry(severity: severity, scope: scope, message: issue.message, inputs: inputs)
        }
        let last = try lastChange(vdKey)
        return Explanation(
            ref: ref, sequence: sequence, generation: record.generation, hostname: record.spec.hostname,
            status: state.status, lastChange: last, entries: entries,
            recordedStatus: last?.recordedStatus)
    }

    /// Explains a VirtualDestination at `sequence` (the head when nil), projecting the log there.
    public func explain(_ ref: ObjectRef, at sequence: UInt64? = nil) throws -> Explanation? {
        let (projection, reached, _) = try project(upTo: sequence)
        return try explain(ref, in: projection, at: reached)
    }
}
