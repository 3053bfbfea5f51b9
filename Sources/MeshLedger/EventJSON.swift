import EventLog
public import MeshModel

/// The JSON shape of an event in `log -o jsonl` (and, later, the HTTP API).
public enum EventJSON {
    /// The event as a JSON object: envelope fields and, unless `includeObject` is false, the object.
    public static func value(of event: Event, includeObject: Bool = true) -> JSONValue {
        var object = JSONObject()
        object["sequence"] = .int(Int64(event.sequence))
        object["recordedAt"] = .string(event.recordedAt.description)
        object["source"] = .string(event.source.rawValue)
        object["actor"] = .string(event.actor)
        // The client that changed the object last, as its API server recorded it (a recorded
        // object's originating actor).
        if let manager = event.fieldManager { object["fieldManager"] = .string(manager) }
        if !event.groups.isEmpty { object["groups"] = .array(event.groups.map(JSONValue.string)) }
        object["originCluster"] = event.originCluster.map(JSONValue.string) ?? .null
        object["kind"] = .string(event.key.kind.rawValue)
        object["namespace"] = .string(event.key.namespace)
        object["name"] = .string(event.key.name)
        object["change"] = .string(event.change.rawValue)
        if event.key.kind.hasGeneration { object["generation"] = .int(Int64(clamping: event.generation)) }
        object["checksum"] = .string(event.checksum.hex)
        if includeObject { object["object"] = event.object }
        return .object(object)
    }
}

extension Event {
    /// The client behind the change: the one the write named (`manager`: the Kubernetes API
    /// records its field manager with the event), else, for an object recorded from an API server,
    /// the field manager that changed it last (`metadata.managedFields`): `kubectl-edit`,
    /// `kubectl-client-side-apply`, a controller's name.
    public var fieldManager: String? {
        manager ?? (change == .upsert ? Manifest.lastFieldManager(of: object) : nil)
    }

    /// The actor as `log` and `history` show it: with the field manager, when there is one.
    public var actorDescription: String { fieldManager.map { "\(actor) via \($0)" } ?? actor }
}
