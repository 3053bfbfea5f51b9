import EventLog
public import MeshModel

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
    /// `including` leaves out the changes a caller may not read.
    public func auditEvents(
        _ query: LogQuery, level: AuditLevel, including: (Event) -> Bool = { _ in true },
        _ body: (JSONValue) throws -> Bool
    ) throws {
        var lives = AuditLives(log: log)
        try self.query(query) { event in
            guard including(event) else { return true }
            return try body(auditEvent(event, level: level, lives: &lives))
        }
    }

    /// One event as an audit event; `lives` keeps each object's history for the verb (create for
    /// the first change of a life) and the object's uid.
    func auditEvent(_ event: Event, level: AuditLevel, lives: inout AuditLives) throws -> JSONValue {
        let (previous, created) = try lives.around(event)
        let verb = event.change == .delete ? "delete" : (previous == nil ? "create" : "update")
        let (user, impersonated) = AuditExport.users(event)
        var objectRef: JSONObject = [
            "resource": .string(event.key.kind.plural), "namespace": .string(event.key.namespace),
            "name": .string(event.key.name), "apiGroup": .string(event.key.kind.group),
            "apiVersion": .string(event.key.kind.version), "resourceVersion": .string(String(event.sequence)),
        ]
        if let created { objectRef["uid"] = .string(Store.uid(of: event.key, createdAt: created)) }
        var annotations: JSONObject = [AuditExport.sourceAnnotation: .string(event.source.rawValue)]
        annotations[AuditExport.checksumAnnotation] = .string(event.checksum.hex)
        if let manager = event.fieldManager { annotations[AuditExport.fieldManagerAnnotation] = .string(manager) }
        if let cluster = event.originCluster { annotations[AuditExport.clusterAnnotation] = .string(cluster) }
        if event.key.kind.hasGeneration {
            annotations[AuditExport.generationAnnotation] = .string(String(event.generation))
        }
        let time = JSONValue.string(event.recordedAt.description)
        var audit: JSONObject = [
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": .string(level.rawValue),
            "auditID": .string(AuditExport.auditID(event)), "stage": "ResponseComplete",
            "requestURI": .string(AuditExport.requestURI(event.key, verb: verb)), "verb": .string(verb),
            "user": user, "objectRef": .object(objectRef),
            "responseStatus": ["metadata": [:], "code": .int(verb == "create" ? 201 : 200)],
            "requestReceivedTimestamp": time, "stageTimestamp": time,
        ]
        if let impersonated { audit["impersonatedUser"] = impersonated }
        if level != .metadata { audit["requestObject"] = event.object }
        if level == .requestResponse {
            if event.change == .upsert, let created, let creation = try log.event(at: created) {
                audit["responseObject"] = Store.withServerMetadata(event, created: creation)
            }
            if let previous, let before = try log.event(at: previous), before.change == .upsert {
                annotations[AuditExport.beforeAnnotation] = .string(JSONText.string(before.object))
            }
        }
        audit["annotations"] = .object(annotations)
        return .object(audit)
    }
}

/// Each object's history as an export reads it: the change before an event (nil: the event
/// begins a life) and the sequence that created the event's life, worked out once per object
/// from its history (headers only).
struct AuditLives {
    let log: EventLog
    private var lives: [ObjectKey: [UInt64: (previous: UInt64?, created: UInt64)]] = [:]

    init(log: EventLog) { self.log = log }

    mutating func around(_ event: Event) throws -> (previous: UInt64?, created: UInt64?) {
        if lives[event.key] == nil {
            let history = try log.history(of: event.key)
            let headers = try log.events(at: history, objects: EventLog.headersOnly)
            var byEvent: [UInt64: (previous: UInt64?, created: UInt64)] = [:]
            var previous: UInt64?
            var created: UInt64 = 0
            for header in headers {
                guard let header else { continue }
                if previous == nil { created = header.sequence }
                byEvent[header.sequence] = (previous, created)
                previous = header.change == .delete ? nil : header.sequence
            }
            lives[event.key] = byEvent
        }
        guard let life = lives[event.key]?[event.sequence] else { return (nil, nil) }
        return (life.previous, life.created)
    }
}
