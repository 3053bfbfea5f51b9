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
    /// The output watches' one feed: what changed, computed once per commit for all of them.
    let feed = OutputFeed()

    static let group = "networking.istio.io"
    static let version = "v1alpha3"
    /// (kind, plural, singular)
    static let kinds = [
        ("ServiceEntry", "serviceentries", "serviceentry"), ("DestinationRule", "destinationrules", "destinationrule"),
        ("EnvoyFilter", "envoyfilters", "envoyfilter"),
    ]

    func addRoutes(to router: Router<ServerContext>) {
        let apis = router.group("/apis").add(middleware: ErrorMiddleware(kubernetes: true))
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
            let resource = KubeRegistry.outputs.first { $0.plural == plural }!
            throw KubeError.notFound(resource, name)
        }
        return kubeJSON(object)
    }

    /// A watch: ADDED for the current outputs when it starts at 0 or none (or, from an older
    /// resourceVersion, the difference since then), then ADDED, MODIFIED and DELETED as each
    /// commit changes them, at that commit's sequence. Every watch reads the one feed
    /// (`OutputFeed`): a commit's changes are found and encoded once, and a watch only filters
    /// them, so a hundred watches cost little more than one. A watch that falls further behind
    /// than the feed keeps gets 410 Expired, and its client lists again.
    func watch(
        _ kind: String, _ filter: KubeObjects.Filter, _ request: Request, _ context: ServerContext
    ) async throws -> Response {
        let committer = endpoints.committer
        let timeout = try reads.watchTimeout(request)
        let rv = try await reads.watchStart(request)
        let start = await reads.liveView()
        feed.advance(to: start.projection)
        let (sequence, current) = feed.current()
        var first: [UInt8] = []
        if let rv {
            // From a resourceVersion: the difference between then and now (no synthetic ADDED).
            let past = rv < start.sequence ? try reads.view(at: rv) : start
            var then: [OutputKey: JSONValue] = [:]
            for (key, object) in Self.keyedObjects(
                kind, namespace: filter.namespace, past.projection, sequence: sequence)
            where filter.matches(object) {
                then[key] = object
            }
            for (key, entry) in Self.matching(kind, filter, current) {
                let object = Self.served((entry.manifest, entry.digest), sequence: sequence)
                if let before = then[key] {
                    if Self.digest(before) != entry.digest { first += Self.line("MODIFIED", object) }
                } else {
                    first += Self.line("ADDED", object)
                }
            }
            for (key, object) in then.sorted(by: { $0.key < $1.key }) where current[key] == nil {
                first += Self.line("DELETED", withResourceVersion(object, sequence))
            }
        } else {
            for (_, entry) in Self.matching(kind, filter, current) {
                first += Self.line("ADDED", Self.served((entry.manifest, entry.digest), sequence: sequence))
            }
        }
        let initial = first
        let feed = self.feed
        return try await endpoints.watchResponse(context, contentType: "application/json") { writer, stream in
            if !initial.isEmpty { try await writer.write(ByteBuffer(bytes: initial)) }
            // The feed follows the writer's folds while any watch reads it; each watch wakes
            // once per commit, when the feed has its changes.
            feed.subscribe(following: committer)
            defer { feed.unsubscribe() }
            var cursor = sequence
            let began = ContinuousClock.now
            while ContinuousClock.now - began < .seconds(timeout), stream.isOpen, !committer.watchesStopped {
                guard feed.sequence > cursor else {
                    _ = await feed.advanced.wait(for: cursor + 1, timeout: .milliseconds(250))
                    continue
                }
                guard let steps = feed.steps(after: cursor) else {
                    let expired = KubeError(
                        code: 410, reason: "Expired",
                        message: "too old resource version: \(cursor): the watch fell behind")
                    try await writer.write(ByteBuffer(bytes: Self.line("ERROR", expired.status)))
                    break
                }
                var lines: [UInt8] = []
                for step in steps {
                    for change in step.candidates(filter)
                    where change.key.kind == kind && filter.matches(change.selectable) {
                        lines += change.line
                    }
                    cursor = step.through
                }
                if !lines.isEmpty { try await writer.write(ByteBuffer(bytes: lines)) }
            }
            try await writer.finish(nil)
        }
    }

    /// The feed's outputs of a kind that a watch's filter selects, by key (filtered first: each
    /// of a hundred watches of one cluster reads its own outputs, not every one).
    static func matching(
        _ kind: String, _ filter: KubeObjects.Filter, _ entries: [OutputKey: OutputFeed.Entry]
    ) -> [(key: OutputKey, entry: OutputFeed.Entry)] {
        entries.filter { $0.key.kind == kind && filter.matches($0.value.selectable) }.sorted { $0.key < $1.key }.map {
            ($0.key, $0.value)
        }
    }

    static func digest(_ object: JSONValue) -> String? {
        object[path: ["metadata", "annotations", "meshledger.dev/digest"]]?.stringValue
    }

    static func line(_ type: String, _ object: JSONValue) -> [UInt8] {
        line(type, encodedObject: JSONText.canonical(object))
    }

    /// A watch event line around an object serialized already (canonical): the same bytes as
    /// `{"object":…,"type":…}` canonical, then a newline.
    static func line(_ type: String, encodedObject: [UInt8]) -> [UInt8] {
        Array(#"{"object":"#.utf8) + encodedObject + Array(#","type":"#.utf8) + JSONText.canonical(.string(type))
            + Array("}\n".utf8)
    }
}

/// The one feed of the output watches: the outputs as last rendered (each one's manifest and
/// digest, rendered again only when it changed), and for the last commits what changed, each
/// change encoded once for every watch. Advanced by one task while any watch reads it.
final class OutputFeed: Sendable {
    /// One output as rendered.
    struct Entry: Sendable {
        let object: OutputObject
        let manifest: JSONValue
        let digest: String
        /// The spec, serialized once for every line that carries it.
        let spec: [UInt8]
        /// What the watches' selectors read (the served object's name, namespace and labels are
        /// the manifest's).
        let selectable: KubeObjects.Selectable

        init(object: OutputObject) {
            self.object = object
            (manifest, digest, spec) = object.rendered
            selectable = KubeObjects.Selectable(manifest)
        }
    }

    /// One change, as a watch event line.
    final class Change: Sendable {
        let key: OutputKey
        let object: JSONValue
        let line: [UInt8]
        /// What the watches' selectors read, read once.
        let selectable: KubeObjects.Selectable

        init(_ type: String, _ key: OutputKey, _ entry: Entry, sequence: UInt64) {
            self.key = key
            object = KubeOutputs.served((entry.manifest, entry.digest), sequence: sequence)
            // The spec serialized once, for the digest and for this line.
            line = KubeOutputs.line(
                type, encodedObject: JSONText.canonical(object, member: "spec", encoded: entry.spec))
            selectable = entry.selectable
        }
    }

    /// What changed from one rendering (`after`) to the next (`through`): added and modified, then
    /// deleted, each by key.
    struct Step: Sendable {
        let after: UInt64
        let through: UInt64
        let changes: [Change]
        /// The changes by label and value: a watch that requires a label's value (one cluster's
        /// agent) reads only those changes, not every one.
        let byLabel: [String: [String: [Change]]]

        init(after: UInt64, through: UInt64, changes: [Change]) {
            self.after = after
            self.through = through
            self.changes = changes
            var byLabel: [String: [String: [Change]]] = [:]
            for change in changes {
                for (label, value) in change.selectable.labels {
                    byLabel[label, default: [:]][value, default: []].append(change)
                }
            }
            self.byLabel = byLabel
        }

        /// The changes a filter can select: those with a label value it requires, else all.
        func candidates(_ filter: KubeObjects.Filter) -> [Change] {
            for requirement in filter.labels?.requirements ?? [] {
                if case .equals(let label, let value) = requirement { return byLabel[label]?[value] ?? [] }
            }
            return changes
        }
    }

    private struct State {
        var sequence: UInt64 = 0
        var started = false
        var entries: [OutputKey: Entry] = [:]
        /// Each VirtualDestination's pieces as last rendered.
        var outputs: [ObjectRef: [OutputPiece]] = [:]
        var steps: [Step] = []
        /// How many watches read the feed, and whether a task follows the writer for them.
        var subscribers = 0
        var following = false
    }

    /// Woken when the feed advances.
    let advanced = SequenceWaiters(reached: 0)

    /// The sequence of the last rendering.
    var sequence: UInt64 { state.withLock { $0.sequence } }

    /// Subscribes a watch: while any is subscribed, one task follows the writer's folds and
    /// advances the feed once per commit (then wakes the watches). Pair with `unsubscribe()`.
    func subscribe(following committer: Committer) {
        let start = state.withLock { state -> Bool in
            state.subscribers += 1
            guard !state.following else { return false }
            state.following = true
            return true
        }
        if start { Task { await self.follow(committer) } }
    }

    func unsubscribe() { state.withLock { $0.subscribers -= 1 } }

    private func follow(_ committer: Committer) async {
        while true {
            let done = state.withLock { state -> Bool in
                guard state.subscribers == 0 || committer.watchesStopped else { return false }
                state.following = false
                return true
            }
            if done { return }
            if committer.foldedSequence > sequence {
                advance(to: await committer.current())
            } else {
                // Folded by the writer, or by this wait's timeout for other processes' appends.
                await committer.waitForEvents(after: sequence, timeout: .milliseconds(250))
            }
        }
    }

    /// How many steps are kept for watches that are behind.
    static let capacity = 256

    private let state = Mutex(State())

    /// Renders `projection`'s outputs if it is newer than the last rendering, and records what
    /// changed since. Incremental: the VirtualDestinations whose outputs changed are found by
    /// comparing each one's pieces with the last rendering's (unchanged ones share storage, so the
    /// comparison is immediate), and only the keys they produce or produced are merged, rendered
    /// and encoded again. Read a settled projection (`Committer.current()`).
    func advance(to projection: Projection) {
        state.withLock { state in
            guard !state.started || projection.sequence > state.sequence else { return }
            let states = projection.states
            var touched: Set<OutputKey> = []
            for (vd, current) in states {
                let before = state.outputs[vd] ?? []
                if before == current.outputs { continue }
                // The keys whose piece changed, came or went.
                var old: [OutputKey: OutputPiece] = [:]
                for piece in before { old[piece.key] = piece }
                for piece in current.outputs where old.removeValue(forKey: piece.key) != piece {
                    touched.insert(piece.key)
                }
                touched.formUnion(old.keys)
                state.outputs[vd] = current.outputs
            }
            for vd in state.outputs.keys where states[vd] == nil {
                for piece in state.outputs.removeValue(forKey: vd) ?? [] { touched.insert(piece.key) }
            }
            let sequence = projection.sequence
            var changes: [Change] = []
            var deletions: [Change] = []
            let objects = projection.outputObjects(touched)
            for key in touched.sorted() {
                let before = state.entries[key]
                guard let object = objects[key] else {
                    guard let before else { continue }
                    state.entries[key] = nil
                    guard state.started else { continue }
                    deletions.append(Change("DELETED", key, before, sequence: sequence))
                    continue
                }
                if let before, before.object == object { continue }
                let entry = Entry(object: object)
                state.entries[key] = entry
                guard state.started, before?.digest != entry.digest else { continue }
                changes.append(Change(before == nil ? "ADDED" : "MODIFIED", key, entry, sequence: sequence))
            }
            if state.started {
                state.steps.append(Step(after: state.sequence, through: sequence, changes: changes + deletions))
                if state.steps.count > Self.capacity { state.steps.removeFirst(state.steps.count - Self.capacity) }
            }
            state.sequence = sequence
            state.started = true
        }
        advanced.advance(to: projection.sequence)
    }

    /// The last rendering: its sequence and outputs.
    func current() -> (sequence: UInt64, entries: [OutputKey: Entry]) {
        state.withLock { ($0.sequence, $0.entries) }
    }

    /// The steps after `cursor`, in order; nil when the feed no longer has the first of them.
    func steps(after cursor: UInt64) -> [Step]? {
        state.withLock { state in
            if cursor >= state.sequence { return [] }
            guard let first = state.steps.firstIndex(where: { $0.through > cursor }),
                state.steps[first].after <= cursor
            else { return nil }
            return Array(state.steps[first...])
        }
    }
}
