import EventLog
import Hummingbird
import MeshLedger
import MeshLedgerReplication
import MeshModel
import Projection
import Prometheus

/// What every endpoint reads from: the store, the single writer, metrics and the configuration,
/// and how a request's parameters become the use cases' arguments. Endpoints parse, call the use
/// case in `MeshLedger`, and render; nothing else.
struct Endpoints: Sendable {
    let store: Store
    let committer: Committer
    let metrics: Metrics
    let configuration: ServerConfiguration
    /// The store's replication (nil: a standalone store).
    let replicator: Replicator?

    /// A query parameter's text.
    func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init)
    }

    /// A point of history (`?at=`, `?since=`, ...): a sequence or an RFC 3339 time.
    func sequence(_ request: Request, _ name: String) throws -> UInt64? {
        try query(request, name).map { try store.sequence(atPoint: $0, named: "\(name)=") }
    }

    /// A path parameter.
    func parameter(_ context: ServerContext, _ name: String) throws -> String {
        try context.parameters.require(name)
    }

    /// The VirtualDestination a `/v1/virtualdestinations/{namespace}/{name}/...` path names.
    func virtualDestination(_ context: ServerContext) throws -> ObjectRef {
        ObjectRef(name: try parameter(context, "name"), namespace: try parameter(context, "namespace"))
    }

    /// The actor of what a request writes: the authenticated user when the server authenticates
    /// (a claimed actor is ignored); without authentication (loopback only) the claimed one, else
    /// `otherwise`.
    func actor(_ context: ServerContext, claimed: String?, otherwise: String) -> String {
        if configuration.access.authenticates, let identity = context.identity { return identity.user }
        return claimed ?? otherwise
    }

    /// The groups recorded with what a request writes: an authenticated identity's, without
    /// `system:authenticated` (every authenticated writer has it), and, when the caller
    /// impersonates, `meshledger.dev/impersonated-by=USER` naming who did (a group of that form
    /// the identity claims is dropped, so the entry cannot be forged). None without authentication.
    func groups(_ context: ServerContext) -> [String] {
        guard configuration.access.authenticates, let identity = context.identity else { return [] }
        var groups = identity.groups.filter {
            $0 != Identity.authenticatedGroup && !$0.hasPrefix(Identity.impersonatorPrefix)
        }
        if let impersonator = context.impersonator { groups.append(Identity.impersonatorPrefix + impersonator.user) }
        return groups
    }

    /// A watch stream: takes a watch slot (429 beyond `maxWatchers`), then streams `body`, counted
    /// in the metrics, and gives the slot back when it ends (every watch endpoint uses it).
    func watchResponse(
        contentType: String, _ body: @escaping @Sendable @concurrent (inout any ResponseBodyWriter) async throws -> Void
    ) async throws -> Response {
        guard await committer.openWatch(limit: configuration.maxWatchers) else {
            throw APIError(
                status: .tooManyRequests,
                message: "\(configuration.maxWatchers) watch streams are open already; retry later",
                code: "TooManyRequests")
        }
        let metrics = self.metrics
        let committer = self.committer
        return Response(
            status: .ok, headers: [.contentType: contentType],
            body: ResponseBody { writer in
                metrics.watchers.increment()
                defer {
                    metrics.watchers.decrement()
                    Task { await committer.closeWatch() }
                }
                try await body(&writer)
            })
    }

    /// Refuses writes on a read-only server (403).
    func refuseWritesIfReadOnly() throws {
        if configuration.readOnly {
            throw APIError(status: .forbidden, message: "the server is read-only", code: "Forbidden")
        }
    }

    /// The request body, at most `maxBodyBytes` (413 beyond).
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

    /// The projection at `?at=` (the live one when absent) and its sequence; `pinned` is the
    /// sequence to read stored objects at (nil: the head, the live projection's point).
    func projection(_ request: Request) async throws -> (projection: Projection, sequence: UInt64, pinned: UInt64?) {
        if let at = try sequence(request, "at") {
            let (projection, reached, _) = try store.project(upTo: at)
            return (projection, reached, reached)
        }
        let projection = await committer.current()
        return (projection, projection.sequence, nil)
    }
}
