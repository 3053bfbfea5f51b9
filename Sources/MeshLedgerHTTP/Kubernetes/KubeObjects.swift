import EventLog
import Foundation
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore
import Projection
import Prometheus

/// Reads of the Kubernetes API: list (at the head, or exactly at any resourceVersion of the log),
/// get, watch, as JSON or as a server-side printed Table.
struct KubeObjects: Sendable {
    let endpoints: Endpoints
    /// The watch events of recent log events, per watched kind, derived once for every watcher.
    let recentWatchEvents: [ResourceKind: RecentBySequence<[WatchEvent]>]

    init(endpoints: Endpoints) {
        self.endpoints = endpoints
        let capacity = min(4096, endpoints.configuration.watchRetention)
        recentWatchEvents = Dictionary(
            uniqueKeysWithValues: ResourceKind.allCases.map { ($0, RecentBySequence(capacity: capacity)) })
    }

    /// One watch event: its type, its object, and its line when it is sent as JSON.
    struct WatchEvent: Sendable {
        let type: String
        let object: JSONValue
        let line: [UInt8]

        init(_ type: String, _ object: JSONValue) {
            self.type = type
            self.object = object
            var bytes = JSONText.canonical(["type": .string(type), "object": object])
            bytes.append(UInt8(ascii: "\n"))
            line = bytes
        }
    }

    /// A point of the log to read at, and what is needed to serve objects there.
    struct View {
        let sequence: UInt64
        let projection: Projection
        let live: Bool
    }

    /// The live view: the committer's projection at the head.
    func liveView() async -> View {
        let projection = await endpoints.committer.current()
        return View(sequence: projection.sequence, projection: projection, live: true)
    }

    /// The view exactly at `sequence` (time travel: any point of the log).
    func view(at sequence: UInt64) throws -> View {
        let (projection, reached, _) = try endpoints.store.project(upTo: sequence)
        return View(sequence: reached, projection: projection, live: false)
    }

    /// The objects of a kind as served at a view: with derived status and, for VirtualDestinations,
    /// a resourceVersion that moves when the derived status does (`Store.withDerivedStatus`).
    func objects(_ kind: ResourceKind, namespace: String?, in view: View) throws -> [JSONValue] {
        try endpoints.store.objects(
            kind, namespace: namespace, at: view.live ? nil : view.sequence, statuses: view.projection)
    }

    /// One object as served, or nil.
    func object(_ key: ObjectKey, in view: View) throws -> JSONValue? {
        try endpoints.store.object(key, at: view.live ? nil : view.sequence, statuses: view.projection)
    }

    // MARK: - Parameters

    func query(_ request: Request, _ name: String) -> String? { endpoints.query(request, name) }

    /// kube-apiserver's checks of ListOptions (`ValidateListOptions`): 422 Invalid naming each
    /// field, before anything is read.
    func validateListOptions(_ request: Request, watch: Bool) throws {
        var errors: [KubeError.OptionError] = []
        let rv = query(request, "resourceVersion") ?? ""
        let match = query(request, "resourceVersionMatch") ?? ""
        if watch {
            if !match.isEmpty {
                errors.append(.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch"))
            }
            if flag(request, "sendInitialEvents") {
                errors.append(
                    .forbidden(
                        "sendInitialEvents",
                        "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"))
            }
        } else {
            if !match.isEmpty {
                if rv.isEmpty {
                    errors.append(
                        .forbidden(
                            "resourceVersionMatch",
                            "resourceVersionMatch is forbidden unless resourceVersion is provided"))
                }
                if !(query(request, "continue") ?? "").isEmpty {
                    errors.append(
                        .forbidden(
                            "resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"))
                }
                if match != "Exact" && match != "NotOlderThan" {
                    errors.append(.notSupported("resourceVersionMatch", "\"\(match)\"", ["Exact", "NotOlderThan", ""]))
                }
                if match == "Exact" && rv == "0" {
                    errors.append(
                        .forbidden(
                            "resourceVersionMatch",
                            "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
                }
            }
            if query(request, "sendInitialEvents") != nil {
                errors.append(.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
            }
        }
        if let invalid = KubeError.invalidOptions("ListOptions", errors) { throw invalid }
    }

    /// The resourceVersion a list reads at (nil: none or 0): a sequence no later than `head` (the
    /// log's head when nil), else 504 at once.
    func exactPosition(_ request: Request, head: UInt64? = nil) throws -> UInt64? {
        guard let rv = query(request, "resourceVersion"), !rv.isEmpty, rv != "0" else { return nil }
        guard let n = UInt64(rv) else { throw KubeError.badRequest("invalid resourceVersion \"\(rv)\"") }
        let head = try head ?? endpoints.store.log.head().sequence
        if n > head { throw PositionAhead(requested: n, head: head) }
        return n
    }

    /// The watch timeout kube-apiserver takes from `timeoutSeconds` (an integer; none, 0 or less:
    /// the server's longest), at most `--max-watch-seconds`.
    func watchTimeout(_ request: Request) throws -> Double {
        let longest = endpoints.configuration.maxWatchSeconds
        guard let given = try endpoints.integer(request, "timeoutSeconds"), given > 0 else { return longest }
        return min(Double(given), longest)
    }

    /// The resourceVersion a watch starts after (nil: none or 0, the current state first); beyond
    /// the head, 504 after waiting as kube-apiserver does.
    func watchStart(_ request: Request) async throws -> UInt64? {
        guard let rv = try await endpoints.position(request, "resourceVersion"), rv > 0 else { return nil }
        return rv
    }

    func flag(_ request: Request, _ name: String) -> Bool { endpoints.flag(request, name) }

    func wantsTable(_ request: Request) -> Bool { (request.headers[.accept] ?? "").contains("as=Table") }

    struct Filter {
        var namespace: String?
        var labels: LabelSelector?
        var fields: FieldSelector?

        /// Whether nothing is filtered.
        var isEmpty: Bool { namespace == nil && labels == nil && fields == nil }

        func matches(_ object: JSONValue) -> Bool {
            isEmpty || matches(Selectable(object))
        }

        func matches(_ object: Selectable) -> Bool {
            if let want = self.namespace, want != object.namespace { return false }
            if let fields, !fields.matches(name: object.name, namespace: object.namespace) { return false }
            if let labels, !labels.matches(object.labels) { return false }
            return true
        }
    }

    /// What a selector reads of an object, read once: a feed that many watches filter keeps it
    /// with each change, so that no watch reads the object again.
    struct Selectable: Sendable {
        let name: String
        let namespace: String
        let labels: [String: String]

        init(_ object: JSONValue) {
            name = object[path: ["metadata", "name"]]?.stringValue ?? ""
            namespace = object[path: ["metadata", "namespace"]]?.stringValue ?? ""
            var labels: [String: String] = [:]
            for member in object[path: ["metadata", "labels"]]?.objectValue ?? JSONObject() {
                labels[member.key] = member.value.stringValue
            }
            self.labels = labels
        }
    }

    func filter(_ request: Request, namespace: String?) throws -> Filter {
        var filter = Filter(namespace: namespace)
        if let text = query(request, "labelSelector"), !text.isEmpty {
            do {
                filter.labels = try LabelSelector(text)
            } catch {
                throw KubeError.badRequest(error.message)
            }
        }
        if let text = query(request, "fieldSelector"), !text.isEmpty {
            do {
                filter.fields = try FieldSelector(text)
            } catch {
                throw KubeError.badRequest(error.message)
            }
        }
        return filter
    }

    // MARK: - List and get

    /// GET /apis/G/V[/namespaces/NS]/P: a list, or a watch with `watch=true`.
    func list(
        _ kind: ResourceKind, namespace: String?, _ request: Request, _ context: ServerContext
    ) async throws -> Response {
        let watching = flag(request, "watch")
        try validateListOptions(request, watch: watching)
        let filter = try filter(request, namespace: namespace)
        if watching { return try await watch(kind, filter, request, context) }
        let head = try endpoints.store.log.head().sequence
        let rv = query(request, "resourceVersion").flatMap { $0.isEmpty ? nil : $0 }
        let match = query(request, "resourceVersionMatch").flatMap { $0.isEmpty ? nil : $0 }
        let limit = try endpoints.integer(request, "limit").flatMap { $0 > 0 ? Int(clamping: $0) : nil }
        let token = query(request, "continue").flatMap { $0.isEmpty ? nil : $0 }
        if token != nil && rv != nil && rv != "0" {
            throw KubeError.badRequest("specifying resource version is not allowed when using continue")
        }
        var exact: UInt64?
        var after: String?
        if let token {
            guard let decoded = Data(base64Encoded: token).map({ String(decoding: $0, as: UTF8.self) }),
                let slash = decoded.firstIndex(of: "/"), let sequence = UInt64(decoded[..<slash]), sequence <= head
            else { throw KubeError.badRequest("continue key is not valid") }
            exact = sequence
            after = String(decoded[decoded.index(after: slash)...])
        } else if let n = try exactPosition(request, head: head) {
            if match == "Exact" || (match == nil && limit != nil) { exact = n }
        }
        let view: View
        if let exact { view = try self.view(at: exact) } else { view = await liveView() }
        var items = try objects(kind, namespace: namespace, in: view).filter(filter.matches)
        if let after {
            items = items.filter { Self.sortKey($0) > after }
        }
        var metadata: JSONObject = ["resourceVersion": .string(String(view.sequence))]
        if let limit, items.count > limit {
            metadata["remainingItemCount"] = .int(Int64(items.count - limit))
            items = Array(items.prefix(limit))
            metadata["continue"] = .string(
                Data("\(view.sequence)/\(Self.sortKey(items.last!))".utf8).base64EncodedString())
        }
        if wantsTable(request) {
            return kubeJSON(
                table(kind, items, view, metadata: metadata, includeObject: query(request, "includeObject")))
        }
        return kubeJSON([
            "apiVersion": .string(kind.apiVersion), "kind": .string("\(kind.rawValue)List"),
            "metadata": .object(metadata), "items": .array(items),
        ])
    }

    static func sortKey(_ object: JSONValue) -> String {
        "\(object[path: ["metadata", "namespace"]]?.stringValue ?? "")/\(object[path: ["metadata", "name"]]?.stringValue ?? "")"
    }

    /// GET /apis/G/V/namespaces/NS/P/NAME (and its /status).
    func get(_ kind: ResourceKind, namespace: String, name: String, _ request: Request) async throws -> Response {
        let view = await liveView()
        guard let object = try object(ObjectKey(kind: kind, namespace: namespace, name: name), in: view) else {
            throw KubeError.notFound(kind, name)
        }
        if wantsTable(request) {
            return kubeJSON(
                table(
                    kind, [object], view, metadata: ["resourceVersion": .string(String(view.sequence))],
                    includeObject: query(request, "includeObject")))
        }
        return kubeJSON(object)
    }

    // MARK: - Table

    /// Server-side printing: Name, the kind's columns (`ObjectTable`, wide ones at priority 1),
    /// Age; each row with the object's metadata (or the whole object, or none).
    func table(
        _ kind: ResourceKind, _ items: [JSONValue], _ view: View, metadata: JSONObject, includeObject: String?,
        headers: Bool = true
    ) -> JSONValue {
        Self.table(
            ObjectTable.columns(kind).map { ($0.name, $0.priority, $0.description) }, items, metadata: metadata,
            includeObject: includeObject, headers: headers
        ) { ObjectTable.cells($0, kind, projection: view.projection) }
    }

    /// A Table of any resource: Name, `columns` (name, priority, description), Age.
    static func table(
        _ columns: [(name: String, priority: Int, description: String)], _ items: [JSONValue], metadata: JSONObject,
        includeObject: String?, headers: Bool = true, cells: (JSONValue) -> [String]
    ) -> JSONValue {
        var result: JSONObject = ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": .object(metadata)]
        if headers { result["columnDefinitions"] = columnDefinitions(columns) }
        result["rows"] = .array(items.map { row($0, cells($0), includeObject: includeObject) })
        return .object(result)
    }

    static func columnDefinitions(_ kind: ResourceKind) -> JSONValue {
        columnDefinitions(ObjectTable.columns(kind).map { ($0.name, $0.priority, $0.description) })
    }

    static func columnDefinitions(_ kindColumns: [(name: String, priority: Int, description: String)]) -> JSONValue {
        var columns: [JSONValue] = [
            [
                "name": "Name", "type": "string", "format": "name", "priority": 0,
                "description": "Name must be unique within a namespace.",
            ]
        ]
        for column in kindColumns {
            columns.append([
                "name": .string(column.name), "type": "string", "format": "", "priority": .int(Int64(column.priority)),
                "description": .string(column.description),
            ])
        }
        columns.append([
            "name": "Age", "type": "date", "format": "", "priority": 0,
            "description":
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ])
        return .array(columns)
    }

    static func row(_ object: JSONValue, _ kindCells: [String], includeObject: String?) -> JSONValue {
        let name = object[path: ["metadata", "name"]]?.stringValue ?? ""
        let created = object[path: ["metadata", "creationTimestamp"]]?.stringValue.flatMap(RFC3339.parse)
        let age = created.map { Self.humanAge(seconds: (Timestamp.now().microseconds - $0.microseconds) / 1_000_000) }
        let cells: [JSONValue] =
            [.string(name)] + kindCells.map(JSONValue.string) + [age.map(JSONValue.string) ?? .null]
        var row: JSONObject = ["cells": .array(cells)]
        switch includeObject {
        case "None": break
        case "Object": row["object"] = object
        default:
            row["object"] = [
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": object["metadata"] ?? .object(JSONObject()),
            ]
        }
        return .object(row)
    }

    /// An age as kubectl prints it: `45s`, `3m12s`, `25m`, `5h3m`, `20h`, `3d4h`, `12d`, `2y40d`.
    static func humanAge(seconds: Int64) -> String {
        let s = max(seconds, 0)
        if s < 120 { return "\(s)s" }
        let m = s / 60
        if m < 10 { return s % 60 == 0 ? "\(m)m" : "\(m)m\(s % 60)s" }
        if m < 180 { return "\(m)m" }
        let h = m / 60
        if h < 8 { return m % 60 == 0 ? "\(h)h" : "\(h)h\(m % 60)m" }
        if h < 48 { return "\(h)h" }
        let d = h / 24
        if d < 8 { return h % 24 == 0 ? "\(d)d" : "\(d)d\(h % 24)h" }
        if d < 730 { return "\(d)d" }
        return "\(d / 365)y\(d % 365)d"
    }

    // MARK: - Watch

    /// A watch: synthetic ADDED for the current state when it starts at 0 or at no
    /// resourceVersion, else every change after the given one; an ERROR 410 in the stream when
    /// that is older than the retention window. VirtualDestination watchers also get MODIFIED
    /// when a change elsewhere changes a derived status.
    func watch(
        _ kind: ResourceKind, _ filter: Filter, _ request: Request, _ context: ServerContext
    ) async throws -> Response {
        let store = endpoints.store
        let committer = endpoints.committer
        let configuration = endpoints.configuration
        let rv = try await watchStart(request)
        let bookmarks = flag(request, "allowWatchBookmarks")
        let table = wantsTable(request)
        let includeObject = query(request, "includeObject")
        let timeout = try watchTimeout(request)
        let oldest = await committer.oldestWatchable()
        let start = await liveView()
        let initial = rv == nil ? try objects(kind, namespace: filter.namespace, in: start).filter(filter.matches) : []
        // With a label or field selector, an object can start or stop matching: the watcher keeps
        // what it was last sent of each matching object (as kube-apiserver's cacher compares the
        // previous and the current object).
        var matching: [String: JSONValue]?
        // (Not for a start older than the retention window: the stream answers 410 at once.)
        if filter.labels != nil || filter.fields != nil, rv.map({ $0 + 1 >= oldest }) ?? true {
            var current = initial
            if let rv {
                let then = rv < start.sequence ? try view(at: rv) : start
                current = try objects(kind, namespace: filter.namespace, in: then).filter(filter.matches)
            }
            matching = Dictionary(current.map { (Self.sortKey($0), $0) }, uniquingKeysWith: { $1 })
        }
        let initiallyMatching = matching
        let objects = self
        return try await endpoints.watchResponse(context, contentType: "application/json") { writer, stream in
            var headersSent = false
            var matching = initiallyMatching
            func line(_ type: String, _ object: JSONValue, _ view: View) -> [UInt8] {
                var payload = object
                if table && type != "BOOKMARK" && type != "ERROR" {
                    payload = objects.table(
                        kind, [object], view,
                        metadata: ["resourceVersion": object[path: ["metadata", "resourceVersion"]] ?? "0"],
                        includeObject: includeObject, headers: !headersSent)
                    headersSent = true
                }
                var bytes = JSONText.canonical(["type": .string(type), "object": payload])
                bytes.append(UInt8(ascii: "\n"))
                return bytes
            }
            if let rv, rv + 1 < oldest {
                let error = KubeError(
                    code: 410, reason: "Expired", message: "too old resource version: \(rv) (\(oldest - 1))")
                try await writer.write(ByteBuffer(bytes: line("ERROR", error.status, start)))
                try await writer.finish(nil)
                return
            }
            var cursor = rv ?? start.sequence
            var initialLines: [UInt8] = []
            for object in initial { initialLines += line("ADDED", object, start) }
            if !initialLines.isEmpty { try await writer.write(ByteBuffer(bytes: initialLines)) }
            let began = ContinuousClock.now
            var lastBookmark = ContinuousClock.now
            while ContinuousClock.now - began < .seconds(timeout), stream.isOpen {
                // Folded by the writer (or by `waitForEvents`, for other processes' appends).
                let head = committer.foldedSequence
                if head > cursor {
                    let last = min(head, cursor + 500)
                    var view: KubeObjects.View?
                    let perEvent = try await objects.recentWatchEvents[kind]!.values(
                        from: cursor + 1, through: last, log: store.log
                    ) { event in
                        if view == nil { view = await objects.liveView() }
                        return try await objects.watchEvents(event, kind, view!)
                    }
                    var lines: [UInt8] = []
                    let tableView = table ? await objects.liveView() : start
                    for watchEvent in perEvent.joined() {
                        guard let sent = Self.selected(watchEvent, filter, &matching) else { continue }
                        lines += table ? line(sent.type, sent.object, tableView) : sent.line
                    }
                    cursor = last
                    if !lines.isEmpty { try await writer.write(ByteBuffer(bytes: lines)) }
                    continue
                }
                if bookmarks && ContinuousClock.now - lastBookmark >= .seconds(configuration.bookmarkSeconds) {
                    let bookmark: JSONValue = [
                        "kind": .string(kind.rawValue), "apiVersion": .string(kind.apiVersion),
                        "metadata": ["resourceVersion": .string(String(cursor))],
                    ]
                    try await writer.write(ByteBuffer(bytes: line("BOOKMARK", bookmark, start)))
                    lastBookmark = ContinuousClock.now
                }
                await committer.waitForEvents(
                    after: cursor, timeout: .seconds(max(0.01, min(0.25, configuration.bookmarkSeconds))))
            }
            try await writer.finish(nil)
        }
    }

    /// What a watcher with `filter` is sent of a watch event: the event itself when the filter has
    /// no selector (or it matches); with a selector, as kube-apiserver decides from the previous and
    /// the current object (`matching`, the objects last sent that match): ADDED when an object starts
    /// matching, DELETED with the last object sent (at the event's resourceVersion) when it stops,
    /// nothing when it matched neither before nor now.
    static func selected(_ event: WatchEvent, _ filter: Filter, _ matching: inout [String: JSONValue]?) -> WatchEvent? {
        let matches = event.type != "DELETED" && filter.matches(event.object)
        guard var known = matching else { return filter.matches(event.object) ? event : nil }
        let key = sortKey(event.object)
        let previous = known[key]
        defer { matching = known }
        switch (previous, matches) {
        case (nil, false):
            return nil
        case (nil, true):
            known[key] = event.object
            return event.type == "ADDED" ? event : WatchEvent("ADDED", event.object)
        case (_?, true):
            known[key] = event.object
            return event
        case (let last?, false):
            known[key] = nil
            if event.type == "DELETED" && filter.matches(event.object) { return event }
            guard case .object(var root) = last, case .object(var metadata)? = root["metadata"] else { return nil }
            metadata["resourceVersion"] = event.object[path: ["metadata", "resourceVersion"]]
            root["metadata"] = .object(metadata)
            return WatchEvent("DELETED", .object(root))
        }
    }

    /// The watch events one log event makes for watchers of `kind` (before their filters).
    func watchEvents(_ event: Event, _ kind: ResourceKind, _ view: View) async throws -> [WatchEvent] {
        var derived: [WatchEvent] = []
        let changes = await endpoints.committer.statusChanges(at: event.sequence) ?? []
        if event.key.kind == kind {
            if event.change == .delete {
                guard case .object = event.object else { return [] }
                // The last state as served: an operator's status fields, and a VirtualDestination's
                // last derived status (which wins, as when it was served); at the delete's sequence.
                let ref = ObjectRef(name: event.key.name, namespace: event.key.namespace)
                var served = withResourceVersion(
                    endpoints.store.withDerivedStatus(event.object, kind: kind, from: view.projection), event.sequence)
                if kind == .virtualDestination,
                    case .object(var last)? = changes.first(where: {
                        $0.virtualDestination == ref
                    })?.status, case .object(var object) = served
                {
                    for member in object["status"]?.objectValue ?? JSONObject() where last[member.key] == nil {
                        last[member.key] = member.value
                    }
                    object["status"] = .object(last)
                    served = .object(object)
                }
                derived.append(WatchEvent("DELETED", served))
            } else if let stored = try endpoints.store.object(event.key, at: event.sequence, statuses: view.projection),
                case .object(var root) = withResourceVersion(stored, event.sequence)  // as at this event
            {
                let ref = ObjectRef(name: event.key.name, namespace: event.key.namespace)
                if kind == .virtualDestination, let change = changes.first(where: { $0.virtualDestination == ref }) {
                    root["status"] = change.status
                }
                derived.append(WatchEvent(try isCreation(event) ? "ADDED" : "MODIFIED", .object(root)))
            }
        }
        // A change elsewhere that changed a VirtualDestination's derived status.
        if kind == .virtualDestination {
            for change in changes where change.status != nil {
                let key = ObjectKey(
                    kind: .virtualDestination, namespace: change.virtualDestination.namespace,
                    name: change.virtualDestination.name)
                if event.key == key { continue }
                guard let stored = try endpoints.store.object(key, at: event.sequence, statuses: view.projection),
                    case .object(var root) = withResourceVersion(stored, event.sequence)
                else { continue }
                root["status"] = change.status
                derived.append(WatchEvent("MODIFIED", .object(root)))
            }
        }
        return derived
    }

    /// Whether an upsert created its object (nothing before it, or a delete).
    func isCreation(_ event: Event) throws -> Bool {
        guard let previous = try endpoints.store.log.history(of: event.key).last(where: { $0 < event.sequence }) else {
            return true
        }
        return try endpoints.store.log.event(at: previous)?.change == .delete
    }
}
