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

    func export(
        _ store: Store, _ query: LogQuery = LogQuery(), level: AuditLevel, statusChanges: Bool = false
    ) throws -> [JSONValue] {
        var events: [JSONValue] = []
        try store.auditEvents(query, level: level, statusChanges: statusChanges) { event in
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
        for event in events {
            try Self.checkShape(event)
            #expect(event["level"] == "RequestResponse")
            verbs.insert(event["verb"]?.stringValue ?? "")
            if event["impersonatedUser"] != nil { impersonated += 1 }
            #expect(event["requestObject"]?.objectValue != nil)
        }
        #expect(verbs == ["create", "update", "delete"])
        #expect(impersonated > 10)
    }

    /// One event against the type: no field it does not have, every required one, each of its
    /// JSON type, the enumerations' values, MicroTime's format.
    static func checkShape(_ event: JSONValue) throws {
        let microTime = try Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"#)
        let fields = try #require(event.objectValue)
        for key in fields.keys { #expect(Self.eventFields[key] != nil, "unknown field \(key)") }
        for (key, required) in Self.eventFields where required { #expect(fields[key] != nil, "missing \(key)") }
        #expect(event["kind"] == "Event" && event["apiVersion"] == "audit.k8s.io/v1")
        #expect(["Metadata", "Request", "RequestResponse"].contains(event["level"]?.stringValue ?? ""))
        #expect(event["stage"] == "ResponseComplete")
        let id = try #require(event["auditID"]?.stringValue)
        #expect(id.count == 36 && id.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        let verb = try #require(event["verb"]?.stringValue)
        #expect(["create", "update", "delete"].contains(verb))
        #expect(event["requestURI"]?.stringValue?.hasPrefix("/apis/") == true)
        for user in [event["user"], event["impersonatedUser"]].compactMap({ $0 }) {
            let info = try #require(user.objectValue)
            for key in info.keys { #expect(Self.userInfoFields.contains(key)) }
            #expect(user["username"]?.stringValue?.isEmpty == false)
            #expect(user["groups"].map { $0.arrayValue?.allSatisfy { $0.stringValue != nil } == true } ?? true)
        }
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

    /// Whether an audit event is a derived status change.
    static func isStatusChange(_ event: JSONValue) -> Bool { event[path: ["objectRef", "subresource"]] == "status" }

    /// `--with-status-changes`: every derived transition of a VirtualDestination (not its
    /// deletion, not a recorded status alone) follows the change that caused it, as an update of
    /// its status by MeshLedger, with the cause's audit ID, the changes and the status after;
    /// leaving them out gives the plain export.
    @Test func statusChangesFollowTheChangesThatCausedThem() throws {
        let store = try store()
        let plain = try export(store, level: .requestResponse)
        let mixed = try export(store, level: .requestResponse, statusChanges: true)
        #expect(mixed.filter { !Self.isStatusChange($0) } == plain)
        let expected = try store.statusEvents(namespace: nil).filter {
            $0.transition.derivedChanged && $0.transition.after != nil
        }
        let statuses = mixed.filter(Self.isStatusChange)
        #expect(statuses.count == expected.count && expected.count > 20)
        var lastChange: JSONValue?
        var uids: [String: String] = [:]  // a VirtualDestination's uid, from its own changes
        var index = 0
        for event in mixed {
            try Self.checkShape(event)
            let name = event[path: ["objectRef", "name"]]?.stringValue ?? ""
            let namespace = event[path: ["objectRef", "namespace"]]?.stringValue ?? ""
            guard Self.isStatusChange(event) else {
                lastChange = event
                if event[path: ["objectRef", "resource"]] == "virtualdestinations" {
                    uids["\(namespace)/\(name)"] = event[path: ["objectRef", "uid"]]?.stringValue
                }
                continue
            }
            let want = expected[index]
            index += 1
            #expect(event["verb"] == "update" && event[path: ["user", "username"]] == "system:meshledger")
            #expect(name == want.virtualDestination.name && namespace == want.virtualDestination.namespace)
            #expect(event["requestURI"]?.stringValue?.hasSuffix("/\(name)/status") == true)
            #expect(event[path: ["objectRef", "resourceVersion"]]?.stringValue == String(want.sequence))
            #expect(event[path: ["objectRef", "uid"]]?.stringValue == uids["\(namespace)/\(name)"])
            let annotations = try #require(event["annotations"])
            #expect(annotations[AuditExport.causeAuditIDAnnotation] == lastChange?["auditID"])
            #expect(annotations[AuditExport.reasonAnnotation]?.stringValue == want.reason)
            #expect(
                annotations[AuditExport.statusChangesAnnotation]?.stringValue
                    == want.transition.changes.joined(separator: "; "))
            #expect(
                annotations[AuditExport.causeAnnotation]?.stringValue?.hasPrefix("event \(want.sequence): ") == true)
            #expect(event[path: ["responseObject", "status", "state"]]?.stringValue == want.transition.after?.state)
            #expect(event["requestObject"] == event["responseObject"])
        }
        #expect(index == expected.count)
        #expect(try export(store, level: .requestResponse, statusChanges: true) == mixed)  // stable IDs
        let metadata = try export(store, level: .metadata, statusChanges: true).filter(Self.isStatusChange)
        #expect(metadata.count == statuses.count && metadata.allSatisfy { $0["requestObject"] == nil })
    }

    /// The object filters select the VirtualDestinations whose status changes are exported (any
    /// cause), the others the causing changes; a range starting late still gives each status
    /// change the uid of its VirtualDestination's life.
    @Test func statusChangeFiltersSelectObjectsAndCauses() throws {
        let store = try store()
        let all = try export(store, level: .metadata, statusChanges: true)
        let statuses = all.filter(Self.isStatusChange)
        // One VirtualDestination: its changes and all of its status changes, whatever caused them.
        let target = try #require(statuses.last?[path: ["objectRef", "name"]]?.stringValue)
        var byName = LogQuery()
        byName.kind = .virtualDestination
        byName.name = target
        let named = try export(store, byName, level: .metadata, statusChanges: true)
        let wanted = all.filter { event in
            event[path: ["objectRef", "name"]]?.stringValue == target
                && event[path: ["objectRef", "resource"]] == "virtualdestinations"
        }
        #expect(named == wanted && named.contains(where: Self.isStatusChange))
        let causes = Set(named.compactMap { $0[path: ["annotations", AuditExport.causeAuditIDAnnotation]] })
        let ownIDs = Set(named.filter { !Self.isStatusChange($0) }.compactMap { $0["auditID"] })
        #expect(!causes.isSubset(of: ownIDs), "some status changes of \(target) were caused by other objects")
        // One actor: the actor's changes and the status changes they caused.
        var alice = LogQuery()
        alice.actor = "alice"
        let hers = try export(store, alice, level: .metadata, statusChanges: true)
        let herIDs = Set(hers.filter { !Self.isStatusChange($0) }.compactMap { $0["auditID"] })
        let herStatuses = hers.filter(Self.isStatusChange)
        #expect(!herStatuses.isEmpty)
        #expect(
            herStatuses.allSatisfy { herIDs.contains($0[path: ["annotations", AuditExport.causeAuditIDAnnotation]]!) })
        #expect(
            herStatuses
                == statuses.filter { herIDs.contains($0[path: ["annotations", AuditExport.causeAuditIDAnnotation]]!) })
        // A late start: the same status changes from there on, with the same uids.
        let middle = try store.log.head().sequence / 2
        var late = LogQuery()
        late.since = .sequence(middle)
        let tail = try export(store, late, level: .metadata, statusChanges: true)
        #expect(
            tail == all.filter { UInt64($0[path: ["objectRef", "resourceVersion"]]?.stringValue ?? "") ?? 0 >= middle })
    }
}
