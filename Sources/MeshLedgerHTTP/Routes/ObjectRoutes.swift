import EventLog
import Hummingbird
import MeshLedger
import MeshModel
import Projection

/// The objects and outputs: `GET /v1/<kinds>`, `GET /v1/<kinds>/{namespace}/{name}` and
/// `GET /v1/outputs`, each at `?at=` or now.
struct ObjectRoutes: Sendable {
    let endpoints: Endpoints

    func addRoutes(to group: RouterGroup<ServerContext>) {
        for kind in ResourceKind.allCases {
            group.get("\(kind.plural)") { request, _ in try await list(kind, request) }
            group.get("\(kind.plural)/:namespace/:name") { request, context in try await get(kind, request, context) }
        }
        group.get("outputs") { request, _ in try await outputs(request) }
    }

    /// GET /v1/<kinds>?namespace=&at=
    func list(_ kind: ResourceKind, _ request: Request) async throws -> Response {
        let (projection, sequence, pinned) = try await endpoints.projection(request)
        let items = try endpoints.store.objects(
            kind, namespace: endpoints.query(request, "namespace"), at: pinned, statuses: projection)
        return json(["apiVersion": "v1", "kind": "List", "sequence": .int(Int64(sequence)), "items": .array(items)])
    }

    /// GET /v1/<kinds>/{namespace}/{name}?at=
    func get(_ kind: ResourceKind, _ request: Request, _ context: ServerContext) async throws -> Response {
        let key = ObjectKey(
            kind: kind, namespace: try endpoints.parameter(context, "namespace"),
            name: try endpoints.parameter(context, "name"))
        let (projection, _, pinned) = try await endpoints.projection(request)
        guard let object = try endpoints.store.object(key, at: pinned, statuses: projection) else {
            throw APIError(
                status: .notFound, message: "\(kind.singular) \(key.namespace)/\(key.name) not found", code: "NotFound")
        }
        return json(object)
    }

    /// GET /v1/outputs?cluster=&mesh=&at=: each object with its digest, for `report --digest`.
    func outputs(_ request: Request) async throws -> Response {
        let (projection, sequence, _) = try await endpoints.projection(request)
        let filter = OutputFilter(cluster: endpoints.query(request, "cluster"), mesh: endpoints.query(request, "mesh"))
        let items = endpoints.store.outputs(matching: filter, in: projection).map { object -> JSONValue in
            let (served, digest) = object.manifestAndDigest
            guard case .object(var manifest) = served else { return served }
            manifest["digest"] = .string(digest)
            return .object(manifest)
        }
        return json(["apiVersion": "v1", "kind": "List", "sequence": .int(Int64(sequence)), "items": .array(items)])
    }
}
