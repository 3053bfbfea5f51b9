public import EventLog
public import MeshModel
public import Projection

extension Store {
    /// The projection folded over the log up to `sequence` (the head when nil), and the sequence
    /// it reached.
    public func project(upTo sequence: UInt64? = nil) throws -> (projection: Projection, sequence: UInt64) {
        let (head, _) = try log.head()
        let target = min(sequence ?? head, head)
        var projection = Projection()
        if target > 0 {
            try log.scan(1...target) { event in
                projection.apply(event)
                return true
            }
        }
        return (projection, target)
    }

    /// A stored object as `get` shows it: the object as last applied, with `metadata.generation`
    /// (user kinds) and `metadata.resourceVersion` (the sequence of its last change), or nil if it
    /// does not exist at `sequence`.
    public func storedObject(_ key: ObjectKey, at sequence: UInt64? = nil) throws -> JSONValue? {
        var last: Event?
        for s in try log.history(of: key) where sequence.map({ s <= $0 }) ?? true {
            last = try log.event(at: s)
        }
        guard let event = last, event.change == .upsert else { return nil }
        return Store.withServerMetadata(event)
    }

    /// Every object of a kind that exists at `sequence` (default: now), sorted by namespace and name.
    public func storedObjects(
        _ kind: ResourceKind, namespace: String? = nil, at sequence: UInt64? = nil
    ) throws -> [JSONValue] {
        var latest: [ObjectKey: Event] = [:]
        if let sequence {
            guard sequence > 0 else { return [] }
            try log.scan(1...sequence) { event in
                if event.key.kind == kind { latest[event.key] = event }
                return true
            }
        } else {
            for state in try log.objectStates() where state.key.kind == kind && state.exists {
                if let event = try log.event(at: state.lastSequence) { latest[state.key] = event }
            }
        }
        return latest.values
            .filter { $0.change == .upsert && (namespace == nil || $0.key.namespace == namespace) }
            .sorted { $0.key < $1.key }
            .map(Store.withServerMetadata)
    }

    /// The object of an event with the metadata a server would add.
    static func withServerMetadata(_ event: Event) -> JSONValue {
        guard case .object(var root) = event.object, case .object(var metadata)? = root["metadata"] else {
            return event.object
        }
        metadata["resourceVersion"] = .string(String(event.sequence))
        if event.key.kind.hasGeneration { metadata["generation"] = .int(Int64(event.generation)) }
        root["metadata"] = .object(metadata)
        root["status"] = nil
        return .object(root)
    }

    /// `report applied|failed`: records a controller's sync result for one output object as a
    /// `SyncResult` event (DOMAIN.md 4.6).
    public func report(
        applied: Bool, output: OutputKey, digest: String?, error: String?, actor: String,
        clock: @Sendable () -> Timestamp = Timestamp.now
    ) throws -> AppendResult {
        var spec: JSONObject = [
            "cluster": .string(output.cluster), "kind": .string(output.kind), "namespace": .string(output.namespace),
            "name": .string(output.name), "result": .string(applied ? "applied" : "failed"),
        ]
        if let digest { spec["digest"] = .string(digest) }
        if let error { spec["error"] = .string(error) }
        let name = sanitizeName("\(output.cluster).\(output.kind).\(output.name)")
        let object: JSONValue = [
            "apiVersion": .string(ResourceKind.syncResult.apiVersion), "kind": "SyncResult",
            "metadata": ["name": .string(name), "namespace": .string(output.namespace)], "spec": .object(spec),
        ]
        let manifest: Manifest
        do {
            manifest = try Manifest(object: object)
        } catch {
            throw LogError(.invalidBatch, "cannot record the report: \(error)")
        }
        return try log.append(Batch([Change(.upsert(manifest), source: .controller, actor: actor)]), clock: clock)
    }
}
