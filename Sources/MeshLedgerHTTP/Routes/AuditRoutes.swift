import EventLog
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore
import Projection

/// The engineer's and auditor's reads: `GET /v1/log`, and a VirtualDestination's `history` and
/// `explain`.
struct AuditRoutes: Sendable {
    let endpoints: Endpoints

    func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get("log") { request, context in try log(request, context) }
        group.get("audit/events") { request, context in try await auditEvents(request, context) }
        group.get("virtualdestinations/:namespace/:name/history") { request, context in try history(request, context) }
        group.get("virtualdestinations/:namespace/:name/explain") { request, context in
            try await explain(request, context)
        }
    }

    /// GET /v1/log?kind=&name=&namespace=&cluster=&actor=&source=&since=&until= (JSON lines): the
    /// events of the objects the caller may list.
    func log(_ request: Request, _ context: ServerContext) throws -> Response {
        var filters: [String: String?] = [:]
        for name in LogQuery.filterNames { filters[name] = endpoints.query(request, name) }
        let query = try LogQuery(filters: filters)
        var readable = V1ReadFilter.make(
            context, access: endpoints.configuration.access, verb: "list", path: request.uri.path)
        var bytes: [UInt8] = []
        try endpoints.store.query(query) { event in
            if readable?.allows(event.key.kind, namespace: event.key.namespace) == false { return true }
            bytes += JSONText.canonical(EventJSON.value(of: event))
            bytes.append(UInt8(ascii: "\n"))
            return true
        }
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// GET /v1/audit/events?FILTERS&level=Metadata|Request|RequestResponse[&withStatusChanges=true]
    /// [&follow=true] (JSON lines): the changes the filters select as audit.k8s.io/v1 Events
    /// (`AuditExport`), with the derived status transitions they caused when asked, of the
    /// objects the caller may list; with `follow=true` the stream goes on with each new change as
    /// it commits (until `timeoutSeconds` or the server's longest watch).
    func auditEvents(_ request: Request, _ context: ServerContext) async throws -> Response {
        var filters: [String: String?] = [:]
        for name in LogQuery.filterNames { filters[name] = endpoints.query(request, name) }
        let query = try LogQuery(filters: filters)
        let levelText = endpoints.query(request, "level") ?? AuditLevel.metadata.rawValue
        guard let level = AuditLevel(rawValue: levelText) else {
            throw APIError(
                status: .badRequest, message: "level \(levelText): expected Metadata, Request or RequestResponse",
                code: "BadRequest")
        }
        let statusChanges = endpoints.flag(request, "withStatusChanges")
        let store = endpoints.store
        let readable = V1ReadFilter.make(
            context, access: endpoints.configuration.access, verb: "list", path: request.uri.path)
        /// The lines of the events the query selects up to `head`.
        @Sendable func lines(_ query: LogQuery, through head: UInt64) throws -> [UInt8] {
            var query = query
            switch query.until {
            case nil: query.until = .sequence(head)
            case .sequence(let until)? where until > head: query.until = .sequence(head)
            default: break  // an earlier sequence, or a time: the query's own bound
            }
            var readable = readable
            var bytes: [UInt8] = []
            let including = { (key: ObjectKey) in readable?.allows(key.kind, namespace: key.namespace) != false }
            try store.auditEvents(query, level: level, statusChanges: statusChanges, including: including) { event in
                bytes += JSONText.canonical(event)
                bytes.append(UInt8(ascii: "\n"))
                return true
            }
            return bytes
        }
        guard endpoints.flag(request, "follow") else {
            let head = try store.log.head().sequence
            return Response(
                status: .ok, headers: [.contentType: "application/x-ndjson"],
                body: .init(byteBuffer: ByteBuffer(bytes: try lines(query, through: head))))
        }
        let committer = endpoints.committer
        let longest = max(0.01, endpoints.configuration.maxWatchSeconds)
        let timeout = min(try endpoints.seconds(request, "timeoutSeconds", in: 0...31_536_000) ?? longest, longest)
        let until = query.until
        return try await endpoints.watchResponse(context, contentType: "application/x-ndjson") { writer, stream in
            var query = query
            var cursor: UInt64 = 0
            let started = ContinuousClock.now
            while stream.isOpen && ContinuousClock.now - started < .seconds(timeout) {
                let head = max(committer.foldedSequence, try store.log.head().sequence)
                if head > cursor {
                    if cursor > 0 { query.since = .sequence(cursor + 1) }
                    let bytes = try lines(query, through: head)
                    cursor = head
                    if !bytes.isEmpty { try await writer.write(ByteBuffer(bytes: bytes)) }
                    if case .sequence(let last)? = until, last <= cursor { break }
                    continue
                }
                await committer.waitForEvents(after: cursor, timeout: .milliseconds(250))
            }
            try await writer.finish(nil)
        }
    }

    /// GET /v1/virtualdestinations/{namespace}/{name}/history?since=&until=
    func history(_ request: Request, _ context: ServerContext) throws -> Response {
        let transitions = try endpoints.store.history(
            of: try endpoints.virtualDestination(context), since: try endpoints.sequence(request, "since") ?? 1,
            until: try endpoints.sequence(request, "until"))
        return json(.array(transitions.map(\.json)))
    }

    /// GET /v1/virtualdestinations/{namespace}/{name}/explain?at=
    func explain(_ request: Request, _ context: ServerContext) async throws -> Response {
        let ref = try endpoints.virtualDestination(context)
        let (projection, sequence, _) = try await endpoints.projection(request)
        guard let explanation = try endpoints.store.explain(ref, in: projection, at: sequence) else {
            throw APIError(
                status: .notFound, message: "virtualdestination \(ref.namespace)/\(ref.name) not found",
                code: "NotFound")
        }
        return json(explanation.json)
    }
}
