import EventLog
import Hummingbird
import MeshLedger
import MeshModel

/// Events from history (`Store.statusEvents`): every transition of a VirtualDestination's
/// derived status as a `v1` Event and an `events.k8s.io/v1` Event, read-only: list and get,
/// selected by namespace and by field (`involvedObject.name`, `involvedObject.kind`, `reason`,
/// `type`, ... as kube-apiserver's field labels for Events), at the head or exactly at any
/// resourceVersion (`resourceVersionMatch=Exact`). What `kubectl describe vd` and `kubectl events`
/// read. Events that clients write are not kept (decision 0018).
struct KubeEvents: Sendable {
    let endpoints: Endpoints
    let reads: KubeObjects

    static let kinds: [(group: String, version: String)] = [("", "v1"), ("events.k8s.io", "v1")]

    /// kube-apiserver's field labels for Events (both versions; `regarding.*` is the
    /// events.k8s.io spelling of `involvedObject.*`).
    static let fieldLabels =
        ["metadata.name", "metadata.namespace", "reason", "reportingComponent", "source", "type"]
        + ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"].flatMap {
            ["involvedObject.\($0)", "regarding.\($0)"]
        }

    func addRoutes(to router: Router<ServerContext>) {
        for resource in KubeRegistry.resources where resource.kind == "Event" {
            let root = router.group(RouterPath(resource.rootPath)).add(middleware: ErrorMiddleware(kubernetes: true))
            let core = resource.group.isEmpty
            root.get(RouterPath(resource.plural)) { request, _ in try list(core: core, namespace: nil, request) }
            root.get(RouterPath("namespaces/:namespace/\(resource.plural)")) { request, context in
                try list(core: core, namespace: try context.parameters.require("namespace"), request)
            }
            root.get(RouterPath("namespaces/:namespace/\(resource.plural)/:name")) { request, context in
                let namespace = try context.parameters.require("namespace")
                let name = try context.parameters.require("name")
                // `NAME.SEQUENCE`: the VirtualDestination's transitions up to the head.
                let vd = name.split(separator: ".").dropLast().joined(separator: ".")
                guard
                    let event = try endpoints.store.statusEvents(namespace: namespace, name: vd).first(where: {
                        $0.name == name
                    })
                else { throw KubeError.notFound(resource, name) }
                return kubeJSON(Self.render(event, core: core))
            }
        }
    }

    func list(core: Bool, namespace: String?, _ request: Request) throws -> Response {
        try reads.validateListOptions(request, watch: false)
        if reads.flag(request, "watch") {
            throw KubeError(
                code: 405, reason: "MethodNotAllowed",
                message: "the server does not allow this method on the requested resource (watch events)")
        }
        var fields: FieldSelector?
        if let text = reads.query(request, "fieldSelector"), !text.isEmpty {
            do {
                fields = try FieldSelector(text, fields: Self.fieldLabels)
            } catch {
                throw KubeError.badRequest(error.message)
            }
        }
        var labels: LabelSelector?
        if let text = reads.query(request, "labelSelector"), !text.isEmpty {
            do {
                labels = try LabelSelector(text)
            } catch {
                throw KubeError.badRequest(error.message)
            }
        }
        let head = try endpoints.store.log.head().sequence
        let exact = reads.query(request, "resourceVersionMatch") == "Exact"
        let at = exact ? try reads.exactPosition(request, head: head) : nil
        // A selector that names one VirtualDestination reads its transitions only.
        let name = fields?.pinned("involvedObject.name") ?? fields?.pinned("regarding.name")
        let events = try endpoints.store.statusEvents(namespace: namespace, name: name, until: at ?? head)
        let items = events.map { Self.render($0, core: core) }.filter { item in
            (fields?.matches { Self.field(item, $0, core: core) } ?? true) && (labels?.matches([:]) ?? true)
        }
        let list: JSONValue = [
            "kind": "EventList", "apiVersion": core ? "v1" : "events.k8s.io/v1",
            "metadata": ["resourceVersion": .string(String(at ?? head))], "items": .array(items),
        ]
        if reads.wantsTable(request) {
            return kubeJSON(
                KubeObjects.table(
                    [
                        ("Type", 0, "Normal or Warning"), ("Reason", 0, "Why the status changed"),
                        ("Object", 0, "The VirtualDestination"), ("Message", 0, "What changed, and the log event"),
                    ], items, metadata: list["metadata"]?.objectValue ?? JSONObject(),
                    includeObject: reads.query(request, "includeObject")
                ) { item in
                    [
                        item["type"]?.stringValue ?? "", item["reason"]?.stringValue ?? "",
                        "virtualdestination/"
                            + (item[path: [core ? "involvedObject" : "regarding", "name"]]?.stringValue ?? ""),
                        item[core ? "message" : "note"]?.stringValue ?? "",
                    ]
                })
        }
        return kubeJSON(list)
    }

    /// A field label's value in an Event of either version.
    static func field(_ item: JSONValue, _ label: String, core: Bool) -> String {
        let involved = core ? "involvedObject" : "regarding"
        let parts = label.split(separator: ".").map(String.init)
        switch parts.first {
        case "involvedObject", "regarding": return item[path: [involved] + parts.dropFirst()]?.stringValue ?? ""
        case "source":
            return (core ? item[path: ["source", "component"]] : item[path: ["deprecatedSource", "component"]])?
                .stringValue ?? ""
        default: return item[path: parts]?.stringValue ?? ""
        }
    }

    /// A status event as a `v1` Event, or an `events.k8s.io/v1` one.
    static func render(_ event: StatusEvent, core: Bool) -> JSONValue {
        let kind = ResourceKind.virtualDestination
        let time = RFC3339.formatSeconds(event.time)
        let micro = RFC3339.format(event.time)
        let involved: JSONValue = [
            "apiVersion": .string(kind.apiVersion), "kind": .string(kind.rawValue),
            "namespace": .string(event.virtualDestination.namespace), "name": .string(event.virtualDestination.name),
            "uid": .string(event.uid),
        ]
        let metadata: JSONValue = [
            "name": .string(event.name), "namespace": .string(event.virtualDestination.namespace),
            "uid": .string(event.eventUID),
            "resourceVersion": .string(String(event.sequence)), "creationTimestamp": .string(time),
        ]
        if core {
            return [
                "apiVersion": "v1", "kind": "Event", "metadata": metadata, "involvedObject": involved,
                "reason": .string(event.reason), "message": .string(event.message), "type": .string(event.type),
                "source": ["component": "meshledger"], "firstTimestamp": .string(time), "lastTimestamp": .string(time),
                "count": 1, "eventTime": .null, "reportingComponent": "meshledger", "reportingInstance": "",
            ]
        }
        return [
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": metadata, "regarding": involved,
            "reason": .string(event.reason), "note": .string(event.message), "type": .string(event.type),
            "action": "Derive", "eventTime": .string(micro), "reportingController": "meshledger",
            "reportingInstance": "meshledger", "deprecatedSource": ["component": "meshledger"],
            "deprecatedFirstTimestamp": .string(time), "deprecatedLastTimestamp": .string(time),
            "deprecatedCount": 1,
        ]
    }
}
