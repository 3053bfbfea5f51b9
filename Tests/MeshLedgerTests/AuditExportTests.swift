import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

/// `audit export`: the log as `audit.k8s.io/v1` Events.
@Suite struct AuditExportTests {
    /// The JSON fields of k8s.io/apiserver's `pkg/apis/audit/v1` `Event` (types.go), with
    /// whether each is required (no `omitempty`), and of its `ObjectReference` and of
    /// `authentication/v1` `UserInfo`.
    static let eventFields: [String: Bool] = [
        "kind": true, "apiVersion": true, "level": true, "auditID": true, "stage": true, "requestURI": true,
        "verb": true, "user": true, "impersonatedUser": false, "sourceIPs": false, "userAgent": false,
        "objectRef": false, "responseStatus": false, "requestObject": false, "responseObject": false,
        "requestReceivedTimestamp": true, "stageTimestamp": true, "annotations": false,
    ]
    static let objectReferenceFields: Set<String> = [
        "resource", "namespace", "name", "uid", "apiGroup", "apiVersion", "resourceVersion", "subresource",
    ]
    static let userInfoFields: Set<String> = ["username", "uid", "groups", "extra"]

    /// A store of a chaos stream, its user changes with groups, some by impersonation.
    func store() throws -> Store {
        let store = try temporaryStore()
        var stream = ChaosStream(seed: 21, clusters: 3)
        var random = SplitMix64(seed: 21)
        for _ in 0..<150 {
            var changes = try stream.next()
            for index in changes.indices where changes[index].source == .user {
                switch random.next() % 3 {
                case 0: changes[index].groups = ["admins"]
                case 1: changes[index].groups = ["auditors", Event.impersonatorGroupPrefix + "root-operator"]
                default: break
                }
            }
            _ = try store.log.append(Batch(changes), clock: fixedClock())
        }
        return store
    }

    func export(_ store: Store, _ query: LogQuery = LogQuery(), level: AuditLevel) throws -> [JSONValue] {
        var events: [JSONValue] = []
        try store.auditEvents(query, level: level) { event in
            events.append(event)
            return true
        }
        return events
    }

    /// Checked field by field against the type: no field it does not have, every required one,
    /// each of its JSON type, the enumerations' values, MicroTime's format.
    @Test func everyEventHasTheFieldsOfTheAuditEventType() throws {
        let store = try store()
        let events = try export(store, level: .requestResponse)
        #expect(events.count > 100)
        var verbs: Set<String> = []
        var impersonated = 0
        let microTime = try Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"#)
        for event in events {
            let fields = try #require(event.objectValue)
            for key in fields.keys { #expect(Self.eventFields[key] != nil, "unknown field \(key)") }
            for (key, required) in Self.eventFields where required { #expect(fields[key] != nil, "missing \(key)") }
            #expect(event["kind"] == "Event" && event["apiVersion"] == "audit.k8s.io/v1")
            #expect(event["level"] == "RequestResponse" && event["stage"] == "ResponseComplete")
            let id = try #require(event["auditID"]?.stringValue)
            #expect(id.count == 36 && id.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
            let verb = try #require(event["verb"]?.stringValue)
            verbs.insert(verb)
            #expect(["create", "update", "delete"].contains(verb))
            #expect(event["requestURI"]?.stringValue?.hasPrefix("/apis/") == true)
            for user in [event["user"], event["impersonatedUser"]].compactMap({ $0 }) {
                let info = try #require(user.objectValue)
                for key in info.keys { #expect(Self.userInfoFields.contains(key)) }
                #expect(user["username"]?.stringValue?.isEmpty == false)
                #expect(user["groups"].map { $0.arrayValue?.allSatisfy { $0.stringValue != nil } == true } ?? true)
            }
            if event["impersonatedUser"] != nil { impersonated += 1 }
            let reference = try #require(event["objectRef"]?.objectValue)
            for member in reference {
                #expect(
                    Self.objectReferenceFields.contains(member.key) && member.value.stringValue != nil,
                    "objectRef.\(member.key)")
            }
            #expect(event[path: ["responseStatus", "code"]]?.intValue == (verb == "create" ? 201 : 200))
            for key in ["requestReceivedTimestamp", "stageTimestamp"] {
                #expect(try microTime.wholeMatch(in: event[key]?.stringValue ?? "") != nil)
            }
            for member in event["annotations"]?.objectValue ?? JSONObject() { #expect(member.value.stringValue != nil) }
            #expect(event["requestObject"]?.objectValue != nil)
        }
        #expect(verbs == ["create", "update", "delete"])
        #expect(impersonated > 10)
    }

    /// The change as `log -o jsonl` shows it, read back from an audit event (Request level).
    static func logEntry(fromAudit audit: JSONValue) throws -> JSONValue {
        let annotations = audit["annotations"]?.objectValue ?? JSONObject()
        let user = audit["impersonatedUser"] ?? audit["user"]!
        var groups = user["groups"]?.arrayValue ?? []
        if audit["impersonatedUser"] != nil, let by = audit[path: ["user", "username"]]?.stringValue {
            groups.append(.string(Event.impersonatorGroupPrefix + by))
        }
        let resource = try #require(audit[path: ["objectRef", "resource"]]?.stringValue)
        let kind = try #require(ResourceKind.allCases.first { $0.plural == resource })
        var entry: JSONObject = [:]
        entry["sequence"] = .int(Int64(audit[path: ["objectRef", "resourceVersion"]]?.stringValue ?? "") ?? -1)
        entry["recordedAt"] = audit["stageTimestamp"]
        entry["source"] = annotations[AuditExport.sourceAnnotation]
        entry["actor"] = user["username"]
        if let manager = annotations[AuditExport.fieldManagerAnnotation] { entry["fieldManager"] = manager }
        if !groups.isEmpty { entry["groups"] = .array(groups) }
        entry["originCluster"] = annotations[AuditExport.clusterAnnotation] ?? .null
        entry["kind"] = .string(kind.rawValue)
        entry["namespace"] = audit[path: ["objectRef", "namespace"]]
        entry["name"] = audit[path: ["objectRef", "name"]]
        entry["change"] = audit["verb"] == "delete" ? "delete" : "upsert"
        if let generation = annotations[AuditExport.generationAnnotation]?.stringValue {
            entry["generation"] = .int(Int64(generation) ?? -1)
        }
        entry["checksum"] = annotations[AuditExport.checksumAnnotation]
        entry["object"] = audit["requestObject"]
        return .object(entry)
    }

    /// An export read back gives exactly what `log -o jsonl` gives, for every change and for a
    /// filtered query.
    @Test func anExportReadBackReproducesTheLog() throws {
        let store = try store()
        var alice = LogQuery()
        alice.actor = "alice"
        for query in [LogQuery(), alice] {
            var logged: [JSONValue] = []
            try store.query(query) { event in
                logged.append(EventJSON.value(of: event))
                return true
            }
            let exported = try export(store, query, level: .request)
            #expect(exported.count == logged.count && !logged.isEmpty)
            for (audit, entry) in zip(exported, logged) { #expect(try Self.logEntry(fromAudit: audit) == entry) }
        }
    }

    /// Metadata carries no object; RequestResponse the stored object and, for an update, the one
    /// before; a create begins a life (a new uid after a delete), an update keeps it.
    @Test func levelsAndVerbsFollowTheObjectsLives() throws {
        let store = try temporaryStore()
        func vd(_ port: Int) throws -> Manifest {
            try Manifest(
                object: JSONText.parse(
                    Array(
                        #"{"apiVersion":"networking.enterprise.mesh.gloo.solo.io/v1alpha1","kind":"VirtualDestination","metadata":{"name":"v","namespace":"ns"},"spec":{"hostname":"v.global","port":{"number":\#(port),"protocol":"HTTP"}}}"#
                            .utf8)))
        }
        let key = try vd(1).key
        for change in [
            Change(.upsert(try vd(1)), source: .user, actor: "alice"),
            Change(.upsert(try vd(2)), source: .user, actor: "bob"),
            Change(.delete(key, nil), source: .user, actor: "alice"),
            Change(.upsert(try vd(3)), source: .user, actor: "alice"),
        ] {
            _ = try store.log.append(Batch([change]), clock: fixedClock())
        }
        let metadata = try export(store, level: .metadata)
        #expect(metadata.map { $0["verb"]?.stringValue ?? "" } == ["create", "update", "delete", "create"])
        #expect(metadata.allSatisfy { $0["requestObject"] == nil && $0["responseObject"] == nil })
        let uids = metadata.map { $0[path: ["objectRef", "uid"]]?.stringValue ?? "" }
        #expect(uids[0] == uids[1] && uids[1] == uids[2] && uids[3] != uids[0] && !uids[3].isEmpty)
        let full = try export(store, level: .requestResponse)
        let update = full[1]
        #expect(update[path: ["responseObject", "metadata", "resourceVersion"]] == "2")
        #expect(update[path: ["responseObject", "metadata", "uid"]]?.stringValue == uids[1])
        let before = try #require(update[path: ["annotations", AuditExport.beforeAnnotation]]?.stringValue)
        #expect(try JSONText.parse(Array(before.utf8))[path: ["spec", "port", "number"]] == 1)
        #expect(full[0][path: ["annotations", AuditExport.beforeAnnotation]] == nil)
        #expect(Set(full.map { $0["auditID"]?.stringValue ?? "" }).count == 4)
        #expect(try export(store, level: .requestResponse) == full)  // stable IDs
    }
}
