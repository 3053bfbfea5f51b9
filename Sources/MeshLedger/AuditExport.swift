import EventLog
public import MeshModel
import Projection

/// How much of each change an audit export carries, as kube-apiserver's audit levels.
public enum AuditLevel: String, Sendable, CaseIterable {
    /// Who, what, when: user, verb, object reference, times, annotations.
    case metadata = "Metadata"
    /// And the object as the change wrote it (`requestObject`).
    case request = "Request"
    /// And the object as stored after the change (`responseObject`, with its server metadata),
    /// and the object before it (annotation `meshledger.dev/object-before`).
    case requestResponse = "RequestResponse"
}

/// The log as Kubernetes audit events (`audit.k8s.io/v1` `Event`, one per change, stage
/// `ResponseComplete`), so that the tools auditors use for kube-apiserver's audit log read
/// MeshLedger's history too (decision 0020). What Kubernetes' type has no field for travels in
/// `annotations` under `meshledger.dev/`.
public enum AuditExport {
    /// The audit annotation keys.
    public static let sourceAnnotation = "meshledger.dev/source"
    public static let fieldManagerAnnotation = "meshledger.dev/field-manager"
    public static let clusterAnnotation = "meshledger.dev/origin-cluster"
    public static let generationAnnotation = "meshledger.dev/generation"
    public static let checksumAnnotation = "meshledger.dev/checksum"
    public static let beforeAnnotation = "meshledger.dev/object-before"
    public static let causeAnnotation = "meshledger.dev/cause"
    public static let causeAuditIDAnnotation = "meshledger.dev/cause-audit-id"
    public static let statusChangesAnnotation = "meshledger.dev/status-changes"
    public static let reasonAnnotation = "meshledger.dev/reason"

    /// The identity a derived status change is exported as: MeshLedger's own.
    public static let statusUser = "system:meshledger"

    /// A stable audit ID for an event: UUID-shaped, from its sequence and checksum (the same
    /// event gives the same ID in every export and on every replica).
    public static func auditID(_ event: Event) -> String {
        Store.uuidShaped("audit/\(event.sequence)/\(event.checksum.hex)")
    }

    /// The request URI a Kubernetes client would have sent for the change.
    static func requestURI(_ key: ObjectKey, verb: String) -> String {
        let base = "/apis/\(key.kind.group)/\(key.kind.version)/namespaces/\(key.namespace)/\(key.kind.plural)"
        return verb == "create" ? base : base + "/" + key.name
    }

    /// The `objectRef` of a change of `key` at `sequence` (its resourceVersion), on `subresource`
    /// when given, with the uid of the object's life when known.
    static func objectRef(_ key: ObjectKey, sequence: UInt64, uid: String?, subresource: String? = nil) -> JSONValue {
        var reference: JSONObject = [
            "resource": .string(key.kind.plural), "namespace": .string(key.namespace), "name": .string(key.name),
            "apiGroup": .string(key.kind.group), "apiVersion": .string(key.kind.version),
            "resourceVersion": .string(String(sequence)),
        ]
        if let subresource { reference["subresource"] = .string(subresource) }
        if let uid { reference["uid"] = .string(uid) }
        return .object(reference)
    }

    /// The fields every exported Event has: at stage `ResponseComplete`, received and completed
    /// at the change's recorded `time`.
    static func event(
        level: AuditLevel, auditID: String, verb: String, requestURI: String, user: JSONValue, objectRef: JSONValue,
        code: Int64, time: Timestamp, annotations: JSONObject
    ) -> JSONObject {
        [
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": .string(level.rawValue),
            "auditID": .string(auditID), "stage": "ResponseComplete", "requestURI": .string(requestURI),
            "verb": .string(verb), "user": user, "objectRef": objectRef,
            "responseStatus": ["metadata": [:], "code": .int(code)],
            "requestReceivedTimestamp": .string(time.description), "stageTimestamp": .string(time.description),
            "annotations": .object(annotations),
        ]
    }

    /// `user` and `impersonatedUser`: a change made by impersonation records the impersonator as
    /// a group (`Event.impersonatorGroupPrefix`); Kubernetes' audit names the impersonator as the
    /// user and the identity acted as as `impersonatedUser`.
    static func users(_ event: Event) -> (user: JSONValue, impersonated: JSONValue?) {
        let groups = event.groups.filter { !$0.hasPrefix(Event.impersonatorGroupPrefix) }
        let identity: JSONValue = [
            "username": .string(event.actor), "groups": .array(groups.map(JSONValue.string)),
        ]
        guard let marker = event.groups.first(where: { $0.hasPrefix(Event.impersonatorGroupPrefix) }) else {
            return (identity, nil)
        }
        return (["username": .string(String(marker.dropFirst(Event.impersonatorGroupPrefix.count)))], identity)
    }
}

extension Store {
    /// The events a query selects as audit events, oldest first, until `body` returns false.
    /// `including` leaves out the objects a caller may not read.
    ///
    /// With `statusChanges`, each derived status transition of a VirtualDestination follows the
    /// event that caused it, as an update of its `status` subresource by MeshLedger's own
    /// identity with the cause in annotations (decision 0020): the query's object filters
    /// (kind, name, namespace) select the VirtualDestinations, its other filters (actor, group,
    /// source, cluster) the causing events. This folds the query's range of the log.
    public func auditEvents(
        _ query: LogQuery, level: AuditLevel, statusChanges: Bool = false,
        including: (ObjectKey) -> Bool = { _ in true }, _ body: (JSONValue) throws -> Bool
    ) throws {
        var lives = AuditLives(log: log)
        guard statusChanges else {
            try self.query(query) { event in
                guard including(event.key) else { return true }
                return try body(auditEvent(event, level: level, lives: &lives))
            }
            return
        }
        let (head, _) = try log.head()
        guard let range = try query.sequenceRange(in: log, head: head) else { return }
        var causes = query
        (causes.kind, causes.name, causes.namespace) = (nil, nil, nil)
        let selects = { (vd: ObjectRef) in
            (query.kind == nil || query.kind == .virtualDestination) && (query.name == nil || query.name == vd.name)
                && (query.namespace == nil || query.namespace == vd.namespace)
        }
        try foldTransitions(of: selects, since: range.lowerBound, until: range.upperBound) {
            event, transitions, projection in
            if query.matches(event) && including(event.key) {
                guard try body(auditEvent(event, level: level, lives: &lives)) else { return false }
            }
            guard causes.matches(event) else { return true }
            for selected in transitions where selected.transition.derivedChanged && selected.transition.after != nil {
                let vd = selected.virtualDestination
                let key = ObjectKey(kind: .virtualDestination, namespace: vd.namespace, name: vd.name)
                guard including(key) else { continue }
                let status = projection.state(of: vd)?.status.json
                let audit = try statusAuditEvent(
                    selected.transition, key: key, status: status, level: level, lives: &lives)
                guard try body(audit) else { return false }
            }
            return true
        }
    }

    /// A derived status transition as an audit event: an update of the VirtualDestination's
    /// `status` by MeshLedger's identity, at the causing event's sequence and time.
    func statusAuditEvent(
        _ transition: StatusTransition, key: ObjectKey, status: JSONValue?, level: AuditLevel,
        lives: inout AuditLives
    ) throws -> JSONValue {
        let cause = transition.cause
        let uid = try lives.created(key, at: cause.sequence).map { Store.uid(of: key, createdAt: $0) }
        let annotations: JSONObject = [
            AuditExport.causeAnnotation: .string(transition.causeDescription),
            AuditExport.causeAuditIDAnnotation: .string(AuditExport.auditID(cause)),
            AuditExport.statusChangesAnnotation: .string(transition.changes.joined(separator: "; ")),
            AuditExport.reasonAnnotation: .string(transition.reason),
        ]
        var audit = AuditExport.event(
            level: level,
            auditID: Store.uuidShaped("status/\(key.namespace)/\(key.name)/\(cause.sequence)/\(cause.checksum.hex)"),
            verb: "update", requestURI: AuditExport.requestURI(key, verb: "update") + "/status",
            user: ["username": .string(AuditExport.statusUser)],
            objectRef: AuditExport.objectRef(key, sequence: cause.sequence, uid: uid, subresource: "status"),
            code: 200, time: cause.recordedAt, annotations: annotations)
        if level != .metadata, let status {
            var metadata: JSONObject = ["name": .string(key.name), "namespace": .string(key.namespace)]
            if let uid { metadata["uid"] = .string(uid) }
            let object: JSONValue = [
                "apiVersion": .string(key.kind.apiVersion), "kind": .string(key.kind.rawValue),
                "metadata": .object(metadata), "status": status,
            ]
            audit["requestObject"] = object
            if level == .requestResponse { audit["responseObject"] = object }
        }
        return .object(audit)
    }

    /// One event as an audit event; `lives` keeps each object's history for the verb (create for
    /// the first change of a life) and the object's uid.
    func auditEvent(_ event: Event, level: AuditLevel, lives: inout AuditLives) throws -> JSONValue {
        let (previous, created) = try lives.around(event)
        let verb = event.change == .delete ? "delete" : (previous == nil ? "create" : "update")
        let (user, impersonated) = AuditExport.users(event)
        var annotations: JSONObject = [AuditExport.sourceAnnotation: .string(event.source.rawValue)]
        annotations[AuditExport.checksumAnnotation] = .string(event.checksum.hex)
        if let manager = event.fieldManager { annotations[AuditExport.fieldManagerAnnotation] = .string(manager) }
        if let cluster = event.originCluster { annotations[AuditExport.clusterAnnotation] = .string(cluster) }
        if event.key.kind.hasGeneration {
            annotations[AuditExport.generationAnnotation] = .string(String(event.generation))
        }
        if level == .requestResponse, let previous, let before = try log.event(at: previous), before.change == .upsert {
            annotations[AuditExport.beforeAnnotation] = .string(JSONText.string(before.object))
        }
        var audit = AuditExport.event(
            level: level, auditID: AuditExport.auditID(event), verb: verb,
            requestURI: AuditExport.requestURI(event.key, verb: verb), user: user,
            objectRef: AuditExport.objectRef(
                event.key, sequence: event.sequence, uid: created.map { Store.uid(of: event.key, createdAt: $0) }),
            code: verb == "create" ? 201 : 200, time: event.recordedAt, annotations: annotations)
        if let impersonated { audit["impersonatedUser"] = impersonated }
        if level != .metadata { audit["requestObject"] = event.object }
        if level == .requestResponse, event.change == .upsert, let created, let creation = try log.event(at: created) {
            audit["responseObject"] = Store.withServerMetadata(event, created: creation)
        }
        return .object(audit)
    }
}

/// Each object's history as an export reads it: the change before an event (nil: the event
/// begins a life) and the sequence that created the event's life, worked out once per object
/// from its history (headers only).
struct AuditLives {
    /// One change of an object (in sequence order): its sequence, the change before it in the same life, the
    /// sequence that began the life, and whether it ended it.
    private struct Step {
        var sequence: UInt64
        var previous: UInt64?
        var created: UInt64
        var deletes: Bool
    }

    let log: EventLog
    private var lives: [ObjectKey: [Step]] = [:]

    init(log: EventLog) { self.log = log }

    /// The change before `event` in its object's life (nil: it begins one) and the sequence
    /// that created the life.
    mutating func around(_ event: Event) throws -> (previous: UInt64?, created: UInt64?) {
        let steps = try self.steps(event.key)
        let index = steps.partitionPoint { $0.sequence >= event.sequence }
        guard index < steps.count, steps[index].sequence == event.sequence else { return (nil, nil) }
        return (steps[index].previous, steps[index].created)
    }

    /// The sequence that created the life of `key` that is current at `sequence`, or nil when
    /// the object does not exist then.
    mutating func created(_ key: ObjectKey, at sequence: UInt64) throws -> UInt64? {
        let steps = try self.steps(key)
        // The last change at or before `sequence`.
        let index = steps.partitionPoint { $0.sequence > sequence } - 1
        guard index >= 0, !steps[index].deletes else { return nil }
        return steps[index].created
    }

    private mutating func steps(_ key: ObjectKey) throws -> [Step] {
        if let steps = lives[key] { return steps }
        let headers = try log.events(at: try log.history(of: key), objects: EventLog.headersOnly)
        var steps: [Step] = []
        var previous: UInt64?
        var created: UInt64 = 0
        for case let header? in headers {
            if previous == nil { created = header.sequence }
            steps.append(
                Step(sequence: header.sequence, previous: previous, created: created, deletes: header.change == .delete)
            )
            previous = header.change == .delete ? nil : header.sequence
        }
        lives[key] = steps
        return steps
    }
}
