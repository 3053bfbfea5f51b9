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
        group.get("outputs") { request, context in try await outputs(request, context) }
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

    /// GET /v1/outputs?cluster=&mesh=&at=: each object with its digest, for `report --digest`; those
    /// the caller may list (as `networking.istio.io` objects of their kind and namespace).
    func outputs(_ request: Request, _ context: ServerContext) async throws -> Response {
        let (projection, sequence, _) = try await endpoints.projection(request)
        let filter = OutputFilter(cluster: endpoints.query(request, "cluster"), mesh: endpoints.query(request, "mesh"))
        var readable = V1ReadFilter.make(
            context, access: endpoints.configuration.access, verb: "list", path: request.uri.path)
        let plurals = Dictionary(uniqueKeysWithValues: KubeOutputs.kinds.map { ($0.0, $0.1) })
        let visible = endpoints.store.outputs(matching: filter, in: projection).filter { object in
            readable?.allows(
                group: KubeOutputs.group, resource: plurals[object.key.kind] ?? object.key.kind,
                namespace: object.key.namespace) != false
        }
        let items = visible.map { object -> JSONValue in
            let (served, digest) = object.manifestAndDigest
            guard case .object(var manifest) = served else { return served }
            manifest["digest"] = .string(digest)
            return .object(manifest)
        }
        return json(["apiVersion": "v1", "kind": "List", "sequence": .int(Int64(sequence)), "items": .array(items)])
    }
}
