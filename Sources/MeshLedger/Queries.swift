import EventLog
public import MeshModel
public import Projection

/// A request a use case cannot take as given (an unknown kind, a malformed bound): the CLI prints
/// it as one error line, the HTTP API answers 400 with it.
public struct InvalidRequest: Error, Sendable, CustomStringConvertible {
    /// What is wrong, for the person who asked.
    public let message: String
    /// Creates the error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Which Istio outputs to show: all, or those of one target cluster and/or one mesh.
public struct OutputFilter: Sendable {
    /// Only objects written to this cluster.
    public var cluster: String?
    /// Only objects of this mesh, as `name.namespace.`.
    public var mesh: String?

    /// A filter; `mesh` may be given with or without the trailing dot.
    public init(cluster: String? = nil, mesh: String? = nil) {
        self.cluster = cluster
        self.mesh = mesh.map { $0.hasSuffix(".") ? $0 : $0 + "." }
    }

    /// Whether an output object passes.
    public func matches(_ object: OutputObject) -> Bool {
        (cluster == nil || object.key.cluster == cluster) && (mesh == nil || object.mesh == mesh)
    }
}

extension Store {
    /// The merged Istio outputs of a projection that pass `filter`, sorted by key.
    public func outputs(matching filter: OutputFilter, in projection: Projection) -> [OutputObject] {
        projection.outputObjects.filter(filter.matches)
    }

    /// An object as served: a VirtualDestination with its derived status from `projection`, and
    /// any object with the status fields an operator recorded on it.
    public func withDerivedStatus(_ object: JSONValue, kind: ResourceKind, from projection: Projection) -> JSONValue {
        guard case .object(var root) = object else { return object }
        var status =
            kind == .virtualDestination
            ? projection.status(of: ObjectRef(json: object["metadata"]))?.json.objectValue : nil
        // An operator's own status fields, recorded with the object, are served back beside the
        // derived ones (which always win).
        if case .object(var metadata)? = root["metadata"], var annotations = metadata["annotations"]?.objectValue,
            let recorded = annotations[Store.operatorStatusAnnotation]?.stringValue
        {
            if let fields = try? JSONText.parse(Array(recorded.utf8)).objectValue {
                var merged = fields
                for member in status ?? JSONObject() { merged[member.key] = member.value }
                status = merged
            }
            annotations[Store.operatorStatusAnnotation] = nil
            metadata["annotations"] = annotations.count == 0 ? nil : .object(annotations)
            root["metadata"] = .object(metadata)
        }
        root["status"] = status.map(JSONValue.object)
        // A VirtualDestination's resourceVersion is the later of its last write and the last
        // change of its derived status: what a watch sent at that point, whenever it is read.
        if kind == .virtualDestination, case .object(var metadata)? = root["metadata"],
            let changed = projection.statusChangedAt[ObjectRef(json: object["metadata"])],
            let written = metadata["resourceVersion"]?.stringValue.flatMap(UInt64.init), changed > written
        {
            metadata["resourceVersion"] = .string(String(changed))
            root["metadata"] = .object(metadata)
        }
        return .object(root)
    }

    /// Where an object records the status fields an operator wrote (anything under `.status` but
    /// the derived fields): an annotation of the stored object, so that writing them is an event
    /// by the writer, and the derivation never reads them.
    public static let operatorStatusAnnotation = "status.meshledger.dev/recorded"

    /// An object whose operator-status record is `recorded` (nil: none), whatever the object
    /// itself said: only a status write records operator status, so an ordinary write can neither
    /// forge nor drop one.
    public static func withOperatorStatusRecord(_ object: JSONValue, _ recorded: JSONValue?) -> JSONValue {
        guard case .object(var root) = object else { return object }
        var metadata = root["metadata"]?.objectValue ?? JSONObject()
        var annotations = metadata["annotations"]?.objectValue ?? JSONObject()
        guard annotations[operatorStatusAnnotation] != recorded else { return object }
        annotations[operatorStatusAnnotation] = recorded
        metadata["annotations"] = annotations.count == 0 ? nil : .object(annotations)
        root["metadata"] = .object(metadata)
        return .object(root)
    }

    /// The status fields MeshLedger derives for a VirtualDestination (only it writes them).
    public static let derivedStatusFields = [
        "observedGeneration", "state", "meshes", "selectedDestinations", "errors", "warnings",
    ]

    /// A stored object with the operator's status fields of `status` recorded (all of `status`
    /// but the derived fields; none: the record is removed).
    public static func recordingOperatorStatus(_ stored: JSONValue, _ status: JSONValue?) -> JSONValue {
        var fields = status?.objectValue ?? JSONObject()
        for field in derivedStatusFields { fields[field] = nil }
        guard case .object(var root) = stored else { return stored }
        var metadata = root["metadata"]?.objectValue ?? JSONObject()
        var annotations = metadata["annotations"]?.objectValue ?? JSONObject()
        annotations[operatorStatusAnnotation] = fields.count == 0 ? nil : .string(JSONText.string(.object(fields)))
        metadata["annotations"] = annotations.count == 0 ? nil : .object(annotations)
        root["metadata"] = .object(metadata)
        return .object(root)
    }

    /// Objects as `get` and the list endpoints show them: as stored, with server metadata, and
    /// VirtualDestinations with their derived status from `projection` (which must be at the
    /// same point, `sequence` or the head).
    public func objects(
        _ kind: ResourceKind, namespace: String? = nil, at sequence: UInt64? = nil, statuses projection: Projection
    ) throws -> [JSONValue] {
        try storedObjects(kind, namespace: namespace, at: sequence).map {
            withDerivedStatus($0, kind: kind, from: projection)
        }
    }

    /// One object as `get` shows it (see `objects`), or nil when it does not exist at that point.
    public func object(
        _ key: ObjectKey, at sequence: UInt64? = nil, statuses projection: Projection
    ) throws
        -> JSONValue?
    {
        try storedObject(key, at: sequence).map { withDerivedStatus($0, kind: key.kind, from: projection) }
    }
}

extension ResourceKind {
    /// The kind a user names as kubectl spells it (`virtualdestination`, `virtualdestinations`,
    /// `vd`, ...), or an error that lists the kinds there are.
    public static func named(_ name: String) throws -> ResourceKind {
        guard let kind = ResourceKind(resourceName: name) else {
            let known = ResourceKind.allCases.map(\.plural).joined(separator: ", ")
            throw InvalidRequest("the server doesn't have a resource type \"\(name)\" (MeshLedger has \(known))")
        }
        return kind
    }
}

extension LogQuery {
    /// The filter names a log query takes, as `meshledger log` flags and `/v1/log` parameters.
    public static let filterNames = [
        "kind", "name", "namespace", "cluster", "actor", "group", "source", "since", "until",
    ]

    /// The one parser of log-query filters, for every front end: `filters` maps the names of
    /// `filterNames` to their text (absent or nil: no filter). `since` and `until` take a
    /// sequence, an RFC 3339 time or a duration back from `now`.
    public init(filters: [String: String?], now: Timestamp = .now()) throws {
        self.init()
        func value(_ name: String) -> String? { filters[name] ?? nil }
        if let kind = value("kind") {
            guard let parsed = ResourceKind(resourceName: kind) else {
                throw InvalidRequest("unknown kind \"\(kind)\"")
            }
            self.kind = parsed
        }
        if let source = value("source") {
            guard let parsed = EventSource(rawValue: source) else {
                throw InvalidRequest("unknown source \"\(source)\" (discovery, user or controller)")
            }
            self.source = parsed
        }
        name = value("name")
        namespace = value("namespace")
        cluster = value("cluster")
        actor = value("actor")
        group = value("group")
        for bound in ["since", "until"] {
            guard let text = value(bound) else { continue }
            guard let parsed = LogBound.parse(text, now: now) else {
                throw InvalidRequest(
                    "\(bound) \(text): expected a sequence number, an RFC 3339 time or a duration like 15m")
            }
            if bound == "since" { since = parsed } else { until = parsed }
        }
    }
}

extension Store {
    /// The sequence a point of history names (`--at`, `?at=`): a sequence, or an RFC 3339 time
    /// (the last event recorded at or before it). `name` is how the caller spelled the parameter,
    /// for the error.
    public func sequence(atPoint text: String, named name: String) throws -> UInt64 {
        guard let bound = LogBound.parse(text) else {
            throw InvalidRequest("\(name) \(text): expected a sequence number or an RFC 3339 time")
        }
        return try sequence(at: bound)
    }
}

extension Manifest {
    /// The manifest without an operator-status record: a user's write cannot make one (see
    /// `Store.withOperatorStatusRecord`).
    public var withoutOperatorStatusRecord: Manifest {
        guard object[path: ["metadata", "annotations", Store.operatorStatusAnnotation]] != nil else { return self }
        return Manifest(recorded: Store.withOperatorStatusRecord(object, nil), key: key)
    }
}
