public import EventLog
public import MeshModel
public import Projection

/// The write use cases: each turns its input into one atomic batch and does all of the batch's
/// validation (kinds against the source, an object named twice, a resync's cluster,
/// preconditions), so that the CLI, the HTTP API and any later front end write exactly the same
/// batches. A refused batch throws `LogError(.invalidBatch)` before anything is appended.
///
/// Appending is the writer's job: `Store.append` in a command, the server's committer in `serve`.
extension Batch {
    /// `apply`: creates or updates user objects (VirtualMesh, TrafficPolicy, VirtualDestination).
    /// A `metadata.resourceVersion` in a manifest is a precondition (as with `kubectl replace`);
    /// `expectedHead` makes the whole batch conditional on the log's head. A `status` in a
    /// manifest is not the user's and is not stored (a status is derived, or recorded by `ingest`).
    public static func apply(_ manifests: [Manifest], actor: String, expectedHead: UInt64? = nil) throws -> Batch {
        try refuseDuplicates(manifests.map(\.key))
        for manifest in manifests where manifest.key.kind.source != .user {
            throw LogError(
                .invalidBatch,
                "\(manifest.key) is reported by discovery agents, not applied by users; use `meshledger discover`")
        }
        let changes = manifests.map {
            Change(
                .upsert($0.withoutStatus.withoutOperatorStatusRecord), source: .user, actor: actor,
                expectedVersion: $0.resourceVersion
            ).honoringFinalizers
        }
        return Batch(changes, expectedHead: expectedHead)
    }

    /// One object to delete: its key, and the manifest when the delete names a file (its
    /// `metadata.resourceVersion` is then a precondition).
    public struct DeleteTarget: Sendable {
        /// The object.
        public var key: ObjectKey
        /// The manifest it was named by, if any.
        public var manifest: Manifest?
        /// The resourceVersion the object must be at (default: the manifest's, if any).
        public var expectedVersion: UInt64?

        /// Names an object by key, or by its manifest.
        public init(_ key: ObjectKey, manifest: Manifest? = nil, expectedVersion: UInt64? = nil) {
            self.key = key
            self.manifest = manifest
            self.expectedVersion = expectedVersion ?? manifest?.resourceVersion
        }

        /// Names the object of a manifest.
        public init(_ manifest: Manifest) { self.init(manifest.key, manifest: manifest) }
    }

    /// `delete`: deletes objects of any kind, each with the source of its kind. A missing object
    /// fails the batch unless `ignoreNotFound`.
    public static func delete(
        _ targets: [DeleteTarget], actor: String, ignoreNotFound: Bool = false, expectedHead: UInt64? = nil
    ) throws -> Batch {
        try refuseDuplicates(targets.map(\.key))
        let changes = targets.map { target in
            Change(
                .delete(target.key, target.manifest), source: target.key.kind.source, actor: actor,
                expectedVersion: target.expectedVersion, ignoreNotFound: ignoreNotFound
            ).honoringFinalizers
        }
        return Batch(changes, expectedHead: expectedHead)
    }

    /// `discover`: what a discovery agent reports (Destination, Mesh). With `resyncCluster` the
    /// manifests are everything that cluster has now: its discovered objects the batch does not
    /// name are deleted in the same batch. Discovered objects carry their own cluster's
    /// resourceVersions, so those are not preconditions here.
    public static func discover(
        _ manifests: [Manifest], agent: String, resyncCluster: String? = nil, expectedHead: UInt64? = nil
    ) throws -> Batch {
        try refuseDuplicates(manifests.map(\.key))
        for manifest in manifests where manifest.key.kind.source != .discovery {
            throw LogError(.invalidBatch, "\(manifest.key) is a user object; use `meshledger apply`")
        }
        if let cluster = resyncCluster, cluster.isEmpty {
            throw LogError(.invalidBatch, "a resync needs the cluster it resyncs")
        }
        let changes = manifests.map { Change(.upsert($0), source: .discovery, actor: agent) }
        let resync = resyncCluster.map {
            Resync(cluster: $0, namespace: nil, kinds: [.destination, .mesh], actor: agent)
        }
        return Batch(changes, expectedHead: expectedHead, resync: resync)
    }

    /// `ingest` (and `record`): a Kubernetes watch-event stream from a live API server. ADDED and
    /// MODIFIED upsert, DELETED deletes (an object already gone is skipped), BOOKMARK is ignored;
    /// each event's source follows its kind. A stream may change one object several times, in
    /// order. What the API server set is kept as it said it: the object's `metadata.generation`
    /// (so `observedGeneration` matches the cluster's), its `managedFields` (who changed it), and
    /// a VirtualDestination's `status`, the status its real controller wrote, as an observation.
    public static func ingest(_ events: [ManifestReader.WatchEvent], actor: String) -> Batch {
        var changes: [Change] = []
        for event in events {
            guard let manifest = event.manifest else { continue }
            switch event.type {
            case .added, .modified: changes.append(recorded(manifest, actor: actor))
            case .deleted:
                changes.append(
                    Change(
                        .delete(manifest.key, manifest), source: manifest.key.kind.source, actor: actor,
                        ignoreNotFound: true))
            case .bookmark: continue
            }
        }
        return Batch(changes)
    }

    /// A relist of one kind from a live API server (an informer's resync): every listed object
    /// upserted as `ingest` records it, and every object of the kind (in `namespace`, when the
    /// list was one namespace's) that the list does not name deleted, in the same batch. Objects
    /// are recorded in the order their server created them, as far as a list tells it (see
    /// `inCreationOrder`): acceptance on a mesh goes to the earlier VirtualDestination.
    public static func relist(
        _ kind: ResourceKind, _ manifests: [Manifest], namespace: String? = nil, actor: String
    ) throws -> Batch {
        try refuseDuplicates(manifests.map(\.key))
        for manifest in manifests where manifest.key.kind != kind {
            throw LogError(.invalidBatch, "\(manifest.key) is not a \(kind.rawValue); a relist takes one kind")
        }
        if let namespace, let stray = manifests.first(where: { $0.key.namespace != namespace }) {
            throw LogError(.invalidBatch, "\(stray.key) is not in namespace \(namespace), the namespace relisted")
        }
        return Batch(
            inCreationOrder(manifests).map { recorded($0, actor: actor) },
            resync: Resync(cluster: nil, namespace: namespace, kinds: [kind], actor: actor))
    }

    /// Manifests in the order their API server created them, as far as a list tells it: by
    /// `metadata.creationTimestamp` (to the second), then by resourceVersion (the last change:
    /// the creation, for an object never changed since), then by key. A list's own order is by name.
    public static func inCreationOrder(_ manifests: [Manifest]) -> [Manifest] {
        func order(_ m: Manifest) -> (String, UInt64) {
            (m.object[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "", m.resourceVersion ?? 0)
        }
        return manifests.sorted {
            let (a, b) = (order($0), order($1))
            return a != b ? a < b : $0.key < $1.key
        }
    }

    /// The upsert of an object recorded from its API server (see `ingest`).
    private static func recorded(_ manifest: Manifest, actor: String) -> Change {
        var change = Change(.upsert(manifest), source: manifest.key.kind.source, actor: actor)
        change.sourceGeneration = manifest.givenGeneration
        return change
    }

    /// A write of one whole object through an API server (the Kubernetes API): a user kind as
    /// `apply` writes it, a discovery kind as `discover` does, by the writer's identity.
    /// `expectedVersion` is the precondition: 0 when the object must not exist (create), its
    /// resourceVersion for an update, nil for none.
    public static func put(_ manifest: Manifest, actor: String, expectedVersion: UInt64?) -> Batch {
        let source = manifest.key.kind.source
        return Batch([
            Change(.upsert(manifest), source: source, actor: actor, expectedVersion: expectedVersion).honoringFinalizers
        ])
    }

    /// `report`: a controller's result of writing one output object, as a `SyncResult` event
    /// (docs/domain.md 4.6). A failed write needs its error text.
    public static func report(_ feedback: Feedback, actor: String) throws -> Batch {
        if !feedback.applied && (feedback.error ?? "").isEmpty {
            throw LogError(.invalidBatch, "a failed result needs the error text")
        }
        guard Feedback.outputKinds.contains(feedback.output.kind) else {
            throw LogError(
                .invalidBatch,
                "output kind \(feedback.output.kind): expected \(Feedback.outputKinds.joined(separator: ", "))")
        }
        let output = feedback.output
        var spec: JSONObject = [
            "cluster": .string(output.cluster), "kind": .string(output.kind), "namespace": .string(output.namespace),
            "name": .string(output.name), "result": .string(feedback.applied ? "applied" : "failed"),
        ]
        if let digest = feedback.digest { spec["digest"] = .string(digest) }
        if let error = feedback.error { spec["error"] = .string(error) }
        let name = sanitizeName("\(output.cluster).\(output.kind).\(output.name)")
        let object: JSONValue = [
            "apiVersion": .string(ResourceKind.syncResult.apiVersion), "kind": "SyncResult",
            "metadata": ["name": .string(name), "namespace": .string(output.namespace)], "spec": .object(spec),
        ]
        let manifest: Manifest
        do {
            manifest = try Manifest(object: object)
        } catch {
            throw LogError(.invalidBatch, "cannot record the report: \(error)")
        }
        return Batch([Change(.upsert(manifest), source: .controller, actor: actor)])
    }

    /// The batch with the writer's groups recorded on every change (an authenticated identity's),
    /// and the client that writes it (an API write's field manager), when known.
    public func attributed(to groups: [String], manager: String? = nil) -> Batch {
        var batch = self
        for index in batch.changes.indices {
            batch.changes[index].groups = groups
            batch.changes[index].manager = manager
        }
        return batch
    }

    /// One batch changes each object once: a second change of the same object is refused.
    private static func refuseDuplicates(_ keys: [ObjectKey]) throws {
        var seen = Set<ObjectKey>()
        for key in keys where !seen.insert(key).inserted {
            throw LogError(.invalidBatch, "\(key) appears twice in the input; one batch changes each object once")
        }
    }
}

/// What a controller reports about one output object it wrote (or failed to write).
public struct Feedback: Sendable {
    /// The output kinds a controller writes.
    public static let outputKinds = ["ServiceEntry", "DestinationRule", "EnvoyFilter"]
    /// Whether the write was applied.
    public var applied: Bool
    /// Which object: cluster, kind, namespace, name.
    public var output: OutputKey
    /// The digest of the object applied (from the outputs), if known.
    public var digest: String?
    /// The error text of a failed write.
    public var error: String?

    /// Creates a report.
    public init(applied: Bool, output: OutputKey, digest: String? = nil, error: String? = nil) {
        self.applied = applied
        self.output = output
        self.digest = digest
        self.error = error
    }
}

extension Change {
    /// The change as a user's or client's write: finalizers hold its deletes (see
    /// `Change.honorsFinalizers`). Recordings of a cluster and discovery reports take the
    /// cluster's word instead.
    var honoringFinalizers: Change {
        var change = self
        change.honorsFinalizers = true
        return change
    }
}

extension Store {
    /// Appends a batch built by one of the use cases above, and nothing else (no snapshot): for
    /// tests and tools. The front ends write through `Writer`, which keeps the snapshot policy.
    public func append(_ batch: Batch, clock: @Sendable () -> Timestamp = Timestamp.now) throws -> AppendResult {
        try log.append(batch, clock: clock)
    }
}
