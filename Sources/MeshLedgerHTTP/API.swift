import EventLog
import Foundation
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore
import Projection
import Prometheus

/// The /v1 endpoints.
struct API: Sendable {
    let store: Store
    let committer: Committer
    let metrics: Metrics
    let configuration: ServerConfiguration

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in
            json(["status": "ok", "head": .int(Int64(try store.log.head().sequence))])
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.registry.emitToString())))
        }
        router.post("/v1/events") { request, context in try await append(request, context) }
        router.post("/v1/feedback") { request, context in try await feedback(request, context) }
        router.get("/v1/outputs") { request, _ in try await outputs(request) }
        router.get("/v1/log") { request, _ in try log(request) }
        router.get("/v1/watch") { request, _ in try await watch(request) }
        for kind in ResourceKind.allCases {
            router.get("/v1/\(kind.plural)") { request, _ in try await list(kind, request) }
            router.get("/v1/\(kind.plural)/:namespace/:name") { request, context in
                try await get(kind, request, context)
            }
        }
        router.get("/v1/virtualdestinations/:namespace/:name/history") { request, context in
            try history(request, context)
        }
        router.get("/v1/virtualdestinations/:namespace/:name/explain") { request, context in
            try await explain(request, context)
        }
    }

    // MARK: - Helpers

    func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init)
    }

    func sequence(_ request: Request, _ name: String) throws -> UInt64? {
        guard let text = query(request, name) else { return nil }
        switch LogBound.parse(text) {
        case let bound?: return try store.sequence(at: bound)
        case nil:
            throw APIError(
                status: .badRequest, message: "\(name)=\(text): expected a sequence or an RFC 3339 time",
                code: "BadRequest")
        }
    }

    func refuseWritesIfReadOnly() throws {
        if configuration.readOnly {
            throw APIError(status: .forbidden, message: "the server is read-only", code: "Forbidden")
        }
    }

    func body(_ request: Request) async throws -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch {
            throw APIError(
                status: .contentTooLarge, message: "request body over \(configuration.maxBodyBytes) bytes",
                code: "TooLarge")
        }
    }

    /// The projection at `?at=` (the live one when absent).
    func projection(_ request: Request) async throws -> (Projection, UInt64) {
        if let at = try sequence(request, "at") {
            let (projection, reached, _) = try store.project(upTo: at)
            return (projection, reached)
        }
        let projection = await committer.current()
        return (projection, projection.sequence)
    }

    // MARK: - Writes

    /// POST /v1/events?op=apply|delete|discover|resync|ingest[&actor=][&expectHead=][&cluster=]
    func append(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try refuseWritesIfReadOnly()
        let op = query(request, "op") ?? "apply"
        let actor = query(request, "actor") ?? (op == "discover" || op == "resync" ? "discovery" : "api")
        let expectedHead = try query(request, "expectHead").map { text -> UInt64 in
            guard let value = UInt64(text) else {
                throw APIError(status: .badRequest, message: "expectHead=\(text) is not a sequence", code: "BadRequest")
            }
            return value
        }
        let bytes = try await body(request)
        var changes: [Change] = []
        var resync: Resync?
        switch op {
        case "apply", "discover", "resync":
            let manifests = try ManifestReader.manifests(bytes, name: "request body")
            let wanted: EventSource = op == "apply" ? .user : .discovery
            var seen = Set<ObjectKey>()
            for manifest in manifests {
                guard manifest.key.kind.source == wanted else {
                    throw APIError(
                        status: .badRequest, message: "\(manifest.key) cannot be sent with op=\(op)", code: "BadRequest"
                    )
                }
                guard seen.insert(manifest.key).inserted else {
                    throw APIError(
                        status: .badRequest, message: "\(manifest.key) appears twice in the batch", code: "BadRequest")
                }
                changes.append(
                    Change(.upsert(manifest), source: wanted, actor: actor, expectedVersion: manifest.resourceVersion))
            }
            if op == "resync" {
                guard let cluster = query(request, "cluster") else {
                    throw APIError(status: .badRequest, message: "op=resync needs cluster=", code: "BadRequest")
                }
                resync = Resync(cluster: cluster, kinds: [.destination, .mesh], actor: actor)
            }
        case "delete":
            for manifest in try ManifestReader.manifests(bytes, name: "request body") {
                changes.append(
                    Change(
                        .delete(manifest.key, manifest), source: manifest.key.kind.source, actor: actor,
                        expectedVersion: manifest.resourceVersion))
            }
        case "ingest":
            for event in try ManifestReader.watchEvents(bytes, name: "request body") {
                guard let manifest = event.manifest else { continue }
                let source = manifest.key.kind.source
                if event.type == .deleted {
                    changes.append(
                        Change(.delete(manifest.key, manifest), source: source, actor: actor, ignoreNotFound: true))
                } else {
                    changes.append(Change(.upsert(manifest), source: source, actor: actor))
                }
            }
        default:
            throw APIError(
                status: .badRequest, message: "op=\(op): expected apply, delete, discover, resync or ingest",
                code: "BadRequest")
        }
        let result = try await committer.submit(Batch(changes, expectedHead: expectedHead, resync: resync)).get()
        return json(Self.appendJSON(result))
    }

    static func appendJSON(_ result: AppendResult) -> JSONValue {
        let outcomes = result.outcomes.map { key, outcome, sequence -> JSONValue in
            [
                "kind": .string(key.kind.rawValue), "namespace": .string(key.namespace), "name": .string(key.name),
                "outcome": .string(outcome.rawValue), "sequence": sequence.map { .int(Int64($0)) } ?? .null,
            ]
        }
        var object: JSONObject = ["outcomes": .array(outcomes), "head": .int(Int64(result.head))]
        if let range = result.range {
            object["range"] = ["from": .int(Int64(range.lowerBound)), "to": .int(Int64(range.upperBound))]
        }
        return .object(object)
    }

    /// POST /v1/feedback {result: applied|failed, cluster, kind, namespace, name, digest?, error?, actor?}
    func feedback(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        try refuseWritesIfReadOnly()
        let value: JSONValue
        do {
            value = try JSONText.parse(try await body(request))
        } catch let error as JSONText.SyntaxError {
            throw APIError(status: .badRequest, message: "invalid JSON: \(error)", code: "BadRequest")
        }
        guard let result = value["result"]?.stringValue, ["applied", "failed"].contains(result),
            let cluster = value["cluster"]?.stringValue, let kind = value["kind"]?.stringValue,
            let namespace = value["namespace"]?.stringValue, let name = value["name"]?.stringValue
        else {
            throw APIError(
                status: .badRequest, message: "expected {result: applied|failed, cluster, kind, namespace, name}",
                code: "BadRequest")
        }
        if result == "failed" && value["error"]?.stringValue == nil {
            throw APIError(status: .badRequest, message: "a failed result needs error", code: "BadRequest")
        }
        let output = OutputKey(cluster: cluster, kind: kind, namespace: namespace, name: name)
        let appended = try store.report(
            applied: result == "applied", output: output, digest: value["digest"]?.stringValue,
            error: value["error"]?.stringValue, actor: value["actor"]?.stringValue ?? "controller")
        await committer.foldNewEvents()
        return json(Self.appendJSON(appended))
    }

    // MARK: - Reads

    /// GET /v1/<kinds>?namespace=&at=
    func list(_ kind: ResourceKind, _ request: Request) async throws -> Response {
        let (projection, sequence) = try await projection(request)
        let at = query(request, "at") == nil ? nil : sequence
        let namespace = query(request, "namespace")
        var items = try store.storedObjects(kind, namespace: namespace, at: at)
        if kind == .virtualDestination { items = items.map { withStatus($0, projection) } }
        return json(["apiVersion": "v1", "kind": "List", "sequence": .int(Int64(sequence)), "items": .array(items)])
    }

    /// GET /v1/<kinds>/{namespace}/{name}?at=
    func get(_ kind: ResourceKind, _ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let namespace = try context.parameters.require("namespace")
        let name = try context.parameters.require("name")
        let (projection, sequence) = try await projection(request)
        let at = query(request, "at") == nil ? nil : sequence
        guard var object = try store.storedObject(ObjectKey(kind: kind, namespace: namespace, name: name), at: at)
        else {
            throw APIError(
                status: .notFound, message: "\(kind.singular) \(namespace)/\(name) not found", code: "NotFound")
        }
        if kind == .virtualDestination { object = withStatus(object, projection) }
        return json(object)
    }

    func withStatus(_ object: JSONValue, _ projection: Projection) -> JSONValue {
        guard case .object(var root) = object else { return object }
        root["status"] = projection.states[ObjectRef(json: object["metadata"])]?.status.json
        return .object(root)
    }

    /// GET /v1/outputs?cluster=&mesh=&at=
    func outputs(_ request: Request) async throws -> Response {
        let (projection, sequence) = try await projection(request)
        let cluster = query(request, "cluster")
        let mesh = query(request, "mesh").map { $0.hasSuffix(".") ? $0 : $0 + "." }
        let objects = mergeOutputs(projection.states.flatMap { ref, state in state.outputs.map { (ref, $0) } })
            .filter { (cluster == nil || $0.key.cluster == cluster) && (mesh == nil || $0.mesh == mesh) }
        return json([
            "apiVersion": "v1", "kind": "List", "sequence": .int(Int64(sequence)),
            "items": .array(
                objects.map { object in
                    guard case .object(var manifest) = object.manifest else { return object.manifest }
                    manifest["digest"] = .string(object.digest)
                    return .object(manifest)
                }),
        ])
    }

    /// GET /v1/log?kind=&name=&namespace=&cluster=&actor=&source=&since=&until= (JSON lines)
    func log(_ request: Request) throws -> Response {
        var logQuery = LogQuery()
        if let kind = query(request, "kind") {
            guard let parsed = ResourceKind(resourceName: kind) else {
                throw APIError(status: .badRequest, message: "unknown kind \(kind)", code: "BadRequest")
            }
            logQuery.kind = parsed
        }
        logQuery.name = query(request, "name")
        logQuery.namespace = query(request, "namespace")
        logQuery.cluster = query(request, "cluster")
        logQuery.actor = query(request, "actor")
        logQuery.source = query(request, "source").flatMap(EventSource.init(rawValue:))
        for name in ["since", "until"] {
            guard let text = query(request, name) else { continue }
            guard let bound = LogBound.parse(text) else {
                throw APIError(
                    status: .badRequest, message: "\(name)=\(text) is not a sequence, time or duration",
                    code: "BadRequest")
            }
            if name == "since" { logQuery.since = bound } else { logQuery.until = bound }
        }
        var bytes: [UInt8] = []
        try store.query(logQuery) { event in
            bytes += JSONText.canonical(EventJSON.value(of: event))
            bytes.append(UInt8(ascii: "\n"))
            return true
        }
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// GET /v1/virtualdestinations/{namespace}/{name}/history?since=&until=
    func history(_ request: Request, _ context: BasicRequestContext) throws -> Response {
        let ref = ObjectRef(
            name: try context.parameters.require("name"), namespace: try context.parameters.require("namespace"))
        let transitions = try store.history(
            of: ref, since: try sequence(request, "since") ?? 1, until: try sequence(request, "until"))
        return json(.array(transitions.map(\.json)))
    }

    /// GET /v1/virtualdestinations/{namespace}/{name}/explain?at=
    func explain(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let ref = ObjectRef(
            name: try context.parameters.require("name"), namespace: try context.parameters.require("namespace"))
        let (projection, sequence) = try await projection(request)
        guard let state = projection.states[ref] else {
            throw APIError(
                status: .notFound, message: "virtualdestination \(ref.namespace)/\(ref.name) not found",
                code: "NotFound")
        }
        func describe(_ issue: Issue, _ scope: String) throws -> JSONValue {
            let inputs = try issue.inputs.map { key -> JSONValue in
                var entry: JSONObject = [
                    "kind": .string(key.kind.rawValue), "namespace": .string(key.namespace), "name": .string(key.name),
                ]
                if let last = try store.log.history(of: key).last(where: { $0 <= sequence }),
                    let event = try store.log.event(at: last)
                {
                    entry["lastChange"] = EventJSON.value(of: event, includeObject: false)
                }
                return .object(entry)
            }
            return ["message": .string(issue.message), "scope": .string(scope), "inputs": .array(inputs)]
        }
        let e = state.evaluation
        var errors =
            try e.errors.map { try describe($0, "all meshes") } + e.topLevelErrors.map { try describe($0, "top level") }
        for (mesh, list) in e.meshErrors.sorted(by: { $0.key.key < $1.key.key }) {
            errors += try list.map { try describe($0, mesh.key) }
        }
        return json([
            "sequence": .int(Int64(sequence)), "status": state.status.json, "errors": .array(errors),
            "warnings": .array(try e.warnings.map { try describe($0, "all meshes") }),
        ])
    }

    /// GET /v1/watch?from=SEQ[&timeoutSeconds=][&bookmarkSeconds=]: every event after `from`, in
    /// order, as JSON lines with the status changes it caused, and bookmarks.
    func watch(_ request: Request) async throws -> Response {
        let from = try sequence(request, "from") ?? (try store.log.head().sequence)
        let oldest = await committer.oldestWatchable()
        if from + 1 < oldest {
            throw APIError(
                status: .gone,
                message:
                    "watch from \(from) is older than the retention window (oldest start \(oldest - 1)); list again",
                code: "Expired")
        }
        let timeout = min(
            query(request, "timeoutSeconds").flatMap(Double.init) ?? .infinity, configuration.maxWatchSeconds)
        guard await committer.openWatch(limit: configuration.maxWatchers) else {
            throw APIError(
                status: .tooManyRequests,
                message: "\(configuration.maxWatchers) watch streams are open already; retry later",
                code: "TooManyWatches")
        }
        let bookmarkEvery = query(request, "bookmarkSeconds").flatMap(Double.init) ?? configuration.bookmarkSeconds
        let store = self.store
        let committer = self.committer
        let metrics = self.metrics
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                metrics.watchers.increment()
                defer {
                    metrics.watchers.decrement()
                    Task { await committer.closeWatch() }
                }
                let started = ContinuousClock.now
                var lastBookmark = ContinuousClock.now
                var cursor = from
                while true {
                    await committer.foldNewEvents()
                    let head = try store.log.head().sequence
                    if head > cursor {
                        var lines: [UInt8] = []
                        var events: [Event] = []
                        try store.log.scan((cursor + 1)...min(head, cursor + 1000)) { event in
                            events.append(event)
                            return true
                        }
                        for event in events {
                            var line: JSONObject = [
                                "type": "EVENT", "sequence": .int(Int64(event.sequence)),
                                "event": EventJSON.value(of: event),
                            ]
                            if let changes = await committer.statusChanges(at: event.sequence) {
                                line["statusChanges"] = .array(
                                    changes.map {
                                        [
                                            "namespace": .string($0.virtualDestination.namespace),
                                            "name": .string($0.virtualDestination.name), "status": $0.status ?? .null,
                                        ]
                                    })
                            }
                            lines += JSONText.canonical(.object(line))
                            lines.append(UInt8(ascii: "\n"))
                            cursor = event.sequence
                        }
                        try await writer.write(ByteBuffer(bytes: lines))
                        continue
                    }
                    let now = ContinuousClock.now
                    if now - lastBookmark >= .seconds(bookmarkEvery) {
                        var line = JSONText.canonical(["type": "BOOKMARK", "sequence": .int(Int64(cursor))])
                        line.append(UInt8(ascii: "\n"))
                        try await writer.write(ByteBuffer(bytes: line))
                        lastBookmark = now
                    }
                    if now - started >= .seconds(timeout) {
                        var line = JSONText.canonical(["type": "BOOKMARK", "sequence": .int(Int64(cursor))])
                        line.append(UInt8(ascii: "\n"))
                        try await writer.write(ByteBuffer(bytes: line))
                        break
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await writer.finish(nil)
            })
    }
}
