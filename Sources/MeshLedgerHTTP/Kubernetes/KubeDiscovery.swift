import EventLog
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore

/// Discovery, as kubectl, client-go, the Python client and kopf read it: `/version`, `/api`,
/// `/api/v1`, `/apis` and `/apis/G/V`, legacy shapes and aggregated discovery (v2) when the
/// client asks for it with the matching Accept, all made from `KubeRegistry`'s declarations.
struct KubeDiscovery: Sendable {
    let endpoints: Endpoints

    static let aggregatedV2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

    func addRoutes(to router: Router<ServerContext>) {
        router.get("/version") { _, _ in
            kubeJSON([
                "major": "1", "minor": "32", "gitVersion": "v1.32.0-meshledger", "gitCommit": "",
                "gitTreeState": "clean",
                "buildDate": "2026-11-28T00:00:00Z", "goVersion": "", "compiler": "swift", "platform": "linux/amd64",
            ])
        }
        let api = router.group("/api").add(middleware: ErrorMiddleware(kubernetes: true))
        api.get { request, _ in
            if wantsAggregated(request) { return kubeJSON(aggregated(core: true), contentType: Self.aggregatedV2) }
            return kubeJSON(["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []])
        }
        api.get("v1") { _, _ in kubeJSON(KubeRegistry.resourceList(group: "", version: "v1")) }
        api.get("v1/namespaces") { request, context in
            if endpoints.flag(request, "watch") {
                return try await watchNamespaces(request, context)
            }
            let created = try creationTimestamps()
            let items = try namespaces().map { namespace($0, created: created[$0]) }
            return kubeJSON([
                "kind": "NamespaceList", "apiVersion": "v1",
                "metadata": ["resourceVersion": .string(String(try endpoints.store.log.head().sequence))],
                "items": .array(items),
            ])
        }
        api.get("v1/namespaces/:namespace") { _, context in
            let name = try context.parameters.require("namespace")
            guard try namespaces().contains(name) else {
                throw KubeError(
                    code: 404, reason: "NotFound", message: "namespaces \"\(name)\" not found",
                    details: ["name": .string(name), "kind": "namespaces"])
            }
            return kubeJSON(namespace(name, created: try creationTimestamps(only: name)[name]))
        }
        let apis = router.group("/apis").add(middleware: ErrorMiddleware(kubernetes: true))
        apis.get { request, _ in
            if wantsAggregated(request) { return kubeJSON(aggregated(core: false), contentType: Self.aggregatedV2) }
            return kubeJSON(KubeRegistry.groupList())
        }
        for (group, version) in KubeRegistry.groups {
            apis.get("\(group)/\(version)") { _, _ in
                kubeJSON(KubeRegistry.resourceList(group: group, version: version))
            }
        }
    }

    /// Whether the client asked for aggregated discovery v2 (the content type decides how
    /// client-go parses the answer, so v2beta1-only clients get the legacy shape).
    func wantsAggregated(_ request: Request) -> Bool {
        (request.headers[.accept] ?? "").contains("g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    }

    func aggregated(core: Bool) -> JSONValue { KubeRegistry.aggregated(core: core) }

    /// The namespaces seen in the log (any object, live or deleted), sorted.
    func namespaces() throws -> [String] {
        Set(try endpoints.store.log.objectStates().map(\.key.namespace)).sorted()
    }

    /// When each namespace (of `only`, or all) came to be: the time of the first event that
    /// named it, as its creationTimestamp.
    func creationTimestamps(only: String? = nil) throws -> [String: String] {
        var first: [String: UInt64] = [:]
        for state in try endpoints.store.log.objectStates() where only == nil || state.key.namespace == only {
            guard let sequence = try endpoints.store.log.history(of: state.key).first else { continue }
            first[state.key.namespace] = min(first[state.key.namespace] ?? .max, sequence)
        }
        return try first.compactMapValues { sequence in
            try endpoints.store.log.event(at: sequence).map { RFC3339.formatSeconds($0.recordedAt) }
        }
    }

    func namespace(_ name: String, resourceVersion: UInt64? = nil, created: String? = nil) -> JSONValue {
        var metadata: JSONObject = ["name": .string(name)]
        if let created { metadata["creationTimestamp"] = .string(created) }
        if let resourceVersion { metadata["resourceVersion"] = .string(String(resourceVersion)) }
        return [
            "kind": "Namespace", "apiVersion": "v1", "metadata": .object(metadata),
            "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"],
        ]
    }

    /// A watch of the namespaces (every one the log has seen; none is ever deleted): ADDED for each
    /// when it starts at no resourceVersion or 0, then ADDED for each namespace a later event
    /// names first, at that event's sequence; bookmarks on request; `timeoutSeconds` as every watch.
    func watchNamespaces(_ request: Request, _ context: ServerContext) async throws -> Response {
        let objects = KubeObjects(endpoints: endpoints)
        try objects.validateListOptions(request, watch: true)
        let start = try await objects.watchStart(request)
        let timeout = try objects.watchTimeout(request)
        let bookmarks = objects.flag(request, "allowWatchBookmarks")
        let store = endpoints.store
        let committer = endpoints.committer
        let head = committer.foldedSequence
        let oldest = await committer.oldestWatchable()
        if let start, start + 1 < oldest {
            // As every watch: a start older than the retention window is an ERROR 410 in the stream,
            // and clients list again.
            let expired = KubeError(
                code: 410, reason: "Expired", message: "too old resource version: \(start) (\(oldest - 1))")
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: KubeObjects.WatchEvent("ERROR", expired.status).line)))
        }
        var known = Set(try namespaces())
        if let start, start < head {
            // From a resourceVersion: the namespaces first named after it are still to come (one
            // named after it but also before, by any object's history, is known already).
            var touched = Set<String>()
            try store.log.scan((start + 1)...head) { event in
                touched.insert(event.key.namespace)
                return true
            }
            let states = try store.log.objectStates()
            for namespace in touched {
                let before = try states.contains { state in
                    try state.key.namespace == namespace && (store.log.history(of: state.key).first ?? .max) <= start
                }
                if !before { known.remove(namespace) }
            }
        }
        let initial = start == nil ? known.sorted() : []
        let created = start == nil ? try creationTimestamps() : [:]
        let configuration = endpoints.configuration
        let alreadyKnown = known
        return try await endpoints.watchResponse(context, contentType: "application/json") { writer, stream in
            var known = alreadyKnown
            var cursor = start ?? head
            var lines: [UInt8] = []
            for name in initial {
                lines +=
                    KubeObjects.WatchEvent("ADDED", namespace(name, resourceVersion: head, created: created[name])).line
            }
            if !lines.isEmpty { try await writer.write(ByteBuffer(bytes: lines)) }
            let began = ContinuousClock.now
            var lastBookmark = began
            while ContinuousClock.now - began < .seconds(timeout), stream.isOpen {
                let folded = committer.foldedSequence
                if folded > cursor {
                    var added: [UInt8] = []
                    try store.log.scan((cursor + 1)...folded) { event in
                        if known.insert(event.key.namespace).inserted {
                            added +=
                                KubeObjects.WatchEvent(
                                    "ADDED",
                                    namespace(
                                        event.key.namespace, resourceVersion: event.sequence,
                                        created: RFC3339.formatSeconds(event.recordedAt))
                                ).line
                        }
                        return true
                    }
                    cursor = folded
                    if !added.isEmpty { try await writer.write(ByteBuffer(bytes: added)) }
                    continue
                }
                if bookmarks && ContinuousClock.now - lastBookmark >= .seconds(configuration.bookmarkSeconds) {
                    let bookmark: JSONValue = [
                        "kind": "Namespace", "apiVersion": "v1",
                        "metadata": ["resourceVersion": .string(String(cursor))],
                    ]
                    try await writer.write(ByteBuffer(bytes: KubeObjects.WatchEvent("BOOKMARK", bookmark).line))
                    lastBookmark = ContinuousClock.now
                }
                await committer.waitForEvents(
                    after: cursor, timeout: .seconds(max(0.01, min(0.25, configuration.bookmarkSeconds))))
            }
            try await writer.finish(nil)
        }
    }
}
