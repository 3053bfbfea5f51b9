import EventLog
import Foundation
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore
import Projection
import Prometheus
import Synchronization

/// The derived Istio outputs as read-only Kubernetes resources (`networking.istio.io/v1alpha3`
/// ServiceEntry, DestinationRule, EnvoyFilter): list, get and watch, selectable by target cluster
/// (`labelSelector=cluster.multicluster.solo.io=cluster-1`), so a per-cluster agent or a GitOps
/// tool can consume them with an ordinary Kubernetes client. Writes are refused (405).
struct KubeOutputs: Sendable {
    let endpoints: Endpoints
    let reads: KubeObjects
    /// Every output as served at recent sequences, by kind and key: merged and rendered once per
    /// commit for all the watches (each then only filters and compares digests).
    let rendered = RecentBySequence<[String: [OutputKey: ServedOutput]]>(capacity: 4)
    /// Each output's manifest and digest as last rendered: an output that did not change since
    /// is not rendered and hashed again.
    let manifests = ManifestCache()

    static let group = "networking.istio.io"
    static let version = "v1alpha3"
    /// (kind, plural, singular)
    static let kinds = [
        ("ServiceEntry", "serviceentries", "serviceentry"), ("DestinationRule", "destinationrules", "destinationrule"),
        ("EnvoyFilter", "envoyfilters", "envoyfilter"),
    ]

    func addRoutes(to router: Router<ServerContext>) {
        let apis = router.group("/apis").add(middleware: KubeErrorMiddleware())
        for (kind, plural, _) in Self.kinds {
            let base = "\(Self.group)/\(Self.version)"
            apis.get(RouterPath("\(base)/\(plural)")) { request, context in
                try await list(kind, namespace: nil, request, context)
            }
            apis.get(RouterPath("\(base)/namespaces/:namespace/\(plural)")) { request, context in
                try await list(kind, namespace: try context.parameters.require("namespace"), request, context)
            }
            apis.get(RouterPath("\(base)/namespaces/:namespace/\(plural)/:name")) { request, context in
                try await get(
                    kind, plural, namespace: try context.parameters.require("namespace"),
                    name: try context.parameters.require("name"))
            }
            for method in [HTTPRequest.Method.post, .put, .patch, .delete] {
                let refusal: @Sendable (Request, ServerContext) async throws -> Response = { _, _ in
                    throw KubeError(
                        code: 405, reason: "MethodNotAllowed",
                        message: "\(plural).\(Self.group) are derived by MeshLedger from the log and are read-only")
                }
                apis.on(RouterPath("\(base)/namespaces/:namespace/\(plural)"), method: method, use: refusal)
                apis.on(RouterPath("\(base)/namespaces/:namespace/\(plural)/:name"), method: method, use: refusal)
            }
        }
    }

    /// The outputs of a kind at a view, each with its digest as resourceVersion-independent
    /// identity and the view's sequence as resourceVersion.
    static func objects(_ kind: String, namespace: String?, _ projection: Projection, sequence: UInt64) -> [JSONValue] {
        keyedObjects(kind, namespace: namespace, projection, sequence: sequence).map(\.object)
    }

    /// `objects` with each output's key.
    static func keyedObjects(
        _ kind: String, namespace: String?, _ projection: Projection, sequence: UInt64
    ) -> [(key: OutputKey, object: JSONValue)] {
        projection.outputObjects.filter { $0.key.kind == kind && (namespace == nil || $0.key.namespace == namespace) }
            .map { ($0.key, served($0, sequence: sequence)) }
    }

    static func served(_ object: OutputObject, sequence: UInt64) -> JSONValue {
        served(object.manifestAndDigest, sequence: sequence)
    }

    static func served(_ rendered: (manifest: JSONValue, digest: String), sequence: UInt64) -> JSONValue {
        let (manifest, digest) = rendered
        guard case .object(var root) = manifest, case .object(var metadata)? = root["metadata"] else {
            return manifest
        }
        metadata["resourceVersion"] = .string(String(sequence))
        var annotations = metadata["annotations"]?.objectValue ?? JSONObject()
        annotations["meshledger.dev/digest"] = .string(digest)
        metadata["annotations"] = .object(annotations)
        root["metadata"] = .object(metadata)
        return .object(root)
    }

    func list(_ kind: String, namespace: String?, _ request: Request, _ context: ServerContext) async throws -> Response
    {
        let watching = reads.flag(request, "watch")
        try reads.validateListOptions(request, watch: watching)
        let filter = try reads.filter(request, namespace: namespace)
        if watching { return try await watch(kind, filter, request, context) }
        let view: KubeObjects.View
        if reads.query(request, "resourceVersionMatch") == "Exact", let n = try reads.exactPosition(request) {
            view = try reads.view(at: n)
        } else {
            view = await reads.liveView()
        }
        let items = Self.objects(kind, namespace: namespace, view.projection, sequence: view.sequence).filter(
            filter.matches)
        return kubeJSON([
            "apiVersion": .string("\(Self.group)/\(Self.version)"), "kind": .string("\(kind)List"),
            "metadata": ["resourceVersion": .string(String(view.sequence))], "items": .array(items),
        ])
    }

    func get(_ kind: String, _ plural: String, namespace: String, name: String) async throws -> Response {
        let view = await reads.liveView()
        guard
            let object = Self.objects(kind, namespace: namespace, view.projection, sequence: view.sequence).first(
                where: {
                    $0[path: ["metadata", "name"]]?.stringValue == name
                })
        else {
            throw KubeError(
                code: 404, reason: "NotFound", message: "\(plural).\(Self.group) \"\(name)\" not found",
                details: ["name": .string(name), "group": .string(Self.group), "kind": .string(plural)])
        }
        return kubeJSON(object)
    }

    /// A watch: ADDED for the current outputs when it starts at 0 or none (or, from an older
    /// resourceVersion, the difference since then), then ADDED, MODIFIED and DELETED as each
    /// commit changes them, at that commit's sequence.
    func watch(
        _ kind: String, _ filter: KubeObjects.Filter, _ request: Request, _ context: ServerContext
    ) async throws -> Response {
        let committer = endpoints.committer
        let timeout = try reads.watchTimeout(request)
        let rv = try await reads.watchStart(request)
        let start = await reads.liveView()
        var known: [OutputKey: ServedOutput] = [:]
        if let rv {
            // From a resourceVersion: what was there then is known (no synthetic ADDED).
            let past = rv < start.sequence ? try reads.view(at: rv) : start
            for (key, object) in Self.keyedObjects(
                kind, namespace: filter.namespace, past.projection, sequence: past.sequence)
            where filter.matches(object) {
                known[key] = ServedOutput(object: object, digest: Self.digest(object))
            }
        }
        let initialKnown = known
        return try await endpoints.watchResponse(context, contentType: "application/json") { writer, stream in
            var known = initialKnown
            var cursor: UInt64 = 0
            let began = ContinuousClock.now
            while ContinuousClock.now - began < .seconds(timeout), stream.isOpen {
                // Folded by the writer (or by `waitForEvents`, for other processes' appends).
                let head = committer.foldedSequence
                if head > cursor {
                    let projection = await committer.current()
                    // Rendered from the projection alone: no event is read.
                    let served = try await rendered.values(
                        from: projection.sequence, through: projection.sequence,
                        load: { range in Dictionary(uniqueKeysWithValues: range.map { ($0, ()) }) }
                    ) { manifests.servedByKind(projection) }
                    var now: [OutputKey: ServedOutput] = [:]
                    for (key, output) in served.first?[kind] ?? [:] where filter.matches(output.object) {
                        now[key] = output
                    }
                    // Only what changed is sorted (by key): added and modified, then deleted.
                    var changed: [(key: OutputKey, type: String, object: JSONValue)] = []
                    for (key, output) in now {
                        guard let before = known[key] else {
                            changed.append((key, "ADDED", output.object))
                            continue
                        }
                        if before.digest != output.digest { changed.append((key, "MODIFIED", output.object)) }
                    }
                    var deleted: [(key: OutputKey, type: String, object: JSONValue)] = []
                    for (key, output) in known where now[key] == nil {
                        deleted.append((key, "DELETED", Self.withVersion(output.object, projection.sequence)))
                    }
                    var lines: [UInt8] = []
                    for change in changed.sorted(by: { $0.key < $1.key }) + deleted.sorted(by: { $0.key < $1.key }) {
                        lines += Self.line(change.type, change.object)
                    }
                    if !lines.isEmpty { try await writer.write(ByteBuffer(bytes: lines)) }
                    known = now
                    cursor = projection.sequence
                    continue
                }
                await committer.waitForEvents(after: cursor, timeout: .milliseconds(250))
            }
            try await writer.finish(nil)
        }
    }

    static func digest(_ object: JSONValue) -> String? {
        object[path: ["metadata", "annotations", "meshledger.dev/digest"]]?.stringValue
    }

    static func withVersion(_ object: JSONValue, _ sequence: UInt64) -> JSONValue {
        guard case .object(var root) = object, case .object(var metadata)? = root["metadata"] else { return object }
        metadata["resourceVersion"] = .string(String(sequence))
        root["metadata"] = .object(metadata)
        return .object(root)
    }

    static func line(_ type: String, _ object: JSONValue) -> [UInt8] {
        var bytes = JSONText.canonical(["type": .string(type), "object": object])
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}

/// The manifest and digest of each output as the output watches last rendered it.
final class ManifestCache: Sendable {
    private let rendered = Mutex<[OutputKey: (object: OutputObject, manifest: JSONValue, digest: String)]>([:])

    /// Every output of a projection as served at its sequence, by kind and key; outputs equal to
    /// the ones rendered last keep their manifest and digest.
    func servedByKind(_ projection: Projection) -> [String: [OutputKey: ServedOutput]] {
        let previous = rendered.withLock { $0 }
        var current: [OutputKey: (object: OutputObject, manifest: JSONValue, digest: String)] = [:]
        var byKind: [String: [OutputKey: ServedOutput]] = [:]
        for object in projection.outputObjects {
            let entry: (object: OutputObject, manifest: JSONValue, digest: String)
            if let cached = previous[object.key], cached.object == object {
                entry = cached
            } else {
                let (manifest, digest) = object.manifestAndDigest
                entry = (object, manifest, digest)
            }
            current[object.key] = entry
            let served = KubeOutputs.served((entry.manifest, entry.digest), sequence: projection.sequence)
            byKind[object.key.kind, default: [:]][object.key] = ServedOutput(
                object: served, digest: entry.digest)
        }
        rendered.withLock { $0 = current }
        return byKind
    }
}

/// An output as a watch serves it, with its digest (what tells a modification).
struct ServedOutput: Sendable {
    let object: JSONValue
    let digest: String?
}
