import EventLog
import Hummingbird
import MeshLedger
import MeshLedgerReplication
import MeshModel
import NIOCore
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
    /// Leases and ConfigMaps (nil in a replicated deployment, or a read-only server without one).
    var coordination: CoordinationTable? = nil

    /// A query parameter's text, decoded as clients encode it (`+` is a space, as in an HTML
    /// form: client-go and kubectl send label selectors so); the first when it is repeated.
    func query(_ request: Request, _ name: String) -> String? {
        QueryParameters.value(of: name, in: request.uri.query)
    }

    /// A boolean parameter (`watch`, `follow`, ...), as kube-apiserver reads one.
    func flag(_ request: Request, _ name: String) -> Bool {
        QueryParameters.flag(query(request, name))
    }

    /// A point of history (`?at=`, `?since=`, ...): a sequence or an RFC 3339 time.
    func sequence(_ request: Request, _ name: String) throws -> UInt64? {
        try query(request, name).map { try store.sequence(atPoint: $0, named: "\(name)=") }
    }

    /// A number of seconds (`timeoutSeconds`, `bookmarkSeconds`): finite and within `range`, or 400
    /// naming the parameter.
    func seconds(_ request: Request, _ name: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let text = query(request, name) else { return nil }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw InvalidRequest(
                "\(name)=\(text): expected a number of seconds from \(Self.number(range.lowerBound)) to \(Self.number(range.upperBound))"
            )
        }
        return value
    }

    /// A whole number as kube-apiserver reads its int64 options (`timeoutSeconds`, `limit`), or
    /// 400 naming the parameter.
    func integer(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = query(request, name), !text.isEmpty else { return nil }
        guard let value = Int64(text) else { throw InvalidRequest("\(name)=\(text): expected an integer") }
        return value
    }

    /// A position of the log (`from`, `resourceVersion`): a sequence no later than the head, which a
    /// request may wait up to 3 s for (as kube-apiserver waits for a fresh enough cache), else
    /// `PositionAhead` (504).
    func position(_ request: Request, _ name: String) async throws -> UInt64? {
        guard let text = query(request, name), !text.isEmpty else { return nil }
        guard let value = UInt64(text) else { throw InvalidRequest("\(name)=\(text): expected a sequence") }
        try await awaitPosition(value)
        return value
    }

    /// Waits up to 3 s until the fold reaches `sequence`; `PositionAhead` when it does not.
    func awaitPosition(_ sequence: UInt64) async throws {
        if await !committer.waitUntilFolded(sequence, timeout: .seconds(3)) {
            throw PositionAhead(requested: sequence, head: committer.foldedSequence)
        }
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
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

    /// A watch stream: takes a watch slot for the caller (`WatchSlots`: 429 when it may not have
    /// one), then streams `body`, counted in the metrics, and gives the slot back when it ends.
    /// `body` runs while `stream.isOpen`: the client is still connected, the slot was not taken
    /// back, the server is not shutting down. Every watch endpoint uses it.
    func watchResponse(
        _ context: ServerContext, contentType: String,
        _ body: @escaping @Sendable @concurrent (inout any ResponseBodyWriter, WatchStream) async throws -> Void
    ) async throws -> Response {
        let holder = context.identity?.user ?? Identity.anonymous.user
        guard let slot = await committer.openWatch(for: holder) else {
            throw APIError(
                status: .tooManyRequests,
                message:
                    "\(configuration.maxWatchers) watch streams are open already and \(holder) holds as many as any caller; retry later",
                code: "TooManyRequests")
        }
        let metrics = self.metrics
        let committer = self.committer
        // A connection that is not active to begin with is no socket (the in-process tests').
        let stream = WatchStream(
            slot: slot, channel: context.channel?.isActive == true ? context.channel : nil, committer: committer)
        // Given back when the connection closes too: a client gone before the response head is
        // written never starts the body below (giving back twice is harmless).
        stream.channel?.closeFuture.whenComplete { _ in Task { await committer.closeWatch(slot) } }
        return Response(
            status: .ok, headers: [.contentType: contentType],
            body: ResponseBody { writer in
                metrics.watchers.increment()
                defer {
                    metrics.watchers.decrement()
                    Task { await committer.closeWatch(slot) }
                }
                try await body(&writer, stream)
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

/// An open watch stream, as its loop sees it.
struct WatchStream: Sendable {
    let slot: WatchSlot
    let channel: (any Channel)?
    let committer: Committer

    /// Whether the stream goes on: the client is connected (a closed connection or a reset HTTP/2
    /// stream ends it at the next wake, so its slot is not held for nothing), the slot was not
    /// taken back for another caller, and the server is not shutting down.
    var isOpen: Bool { !slot.isEnded && !committer.watchesStopped && channel?.isActive != false }
}
