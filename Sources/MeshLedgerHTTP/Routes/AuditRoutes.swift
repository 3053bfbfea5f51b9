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
