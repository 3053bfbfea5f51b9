import EventLog
import Hummingbird
import MeshLedger
import MeshModel
import Projection

/// The writes: `POST /v1/events` and `POST /v1/feedback`. Each builds its batch with the use
/// case (`Batch.apply`, `.delete`, `.discover`, `.ingest`, `.report`) and hands it to the single
/// writer, the committer. Each object of a `/v1/events` batch is authorized before
/// (`V1Access.writes`).
struct WriteRoutes: Sendable {
    let endpoints: Endpoints

    func addRoutes(to group: RouterGroup<ServerContext>) {
        group.post("events") { request, context in try await append(request, context) }
        group.post("feedback") { request, context in try await feedback(request, context) }
    }

    /// POST /v1/events?op=apply|delete|discover|resync|ingest[&actor=][&expectHead=][&cluster=]
    func append(_ request: Request, _ context: ServerContext) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        let op = endpoints.query(request, "op") ?? "apply"
        let actor = endpoints.actor(
            context, claimed: endpoints.query(request, "actor"),
            otherwise: op == "discover" || op == "resync" ? "discovery" : "api")
        let expectedHead = try endpoints.query(request, "expectHead").map { text -> UInt64 in
            guard let value = UInt64(text) else {
                throw APIError(status: .badRequest, message: "expectHead=\(text) is not a sequence", code: "BadRequest")
            }
            return value
        }
        let bytes = try await endpoints.body(request)
        let batch: Batch
        var warnings: [String] = []
        switch op {
        case "apply":
            // Unknown fields as `meshledger apply` treats them: Strict unless `fieldValidation` says.
            let text = endpoints.query(request, "fieldValidation") ?? "Strict"
            guard let validation = FieldValidation(parameter: text) else {
                throw APIError(
                    status: .badRequest, message: "fieldValidation=\(text): expected Strict, Warn or Ignore",
                    code: "BadRequest")
            }
            let (manifests, found) = try endpoints.store.validated(
                ManifestReader.manifests(bytes, name: "request body"), validation)
            warnings = found
            batch = try .apply(manifests, actor: actor, expectedHead: expectedHead)
        case "discover", "resync":
            var cluster: String?
            if op == "resync" {
                guard let given = endpoints.query(request, "cluster") else {
                    throw APIError(status: .badRequest, message: "op=resync needs cluster=", code: "BadRequest")
                }
                cluster = given
            }
            batch = try .discover(
                ManifestReader.manifests(bytes, name: "request body"), agent: actor, resyncCluster: cluster,
                expectedHead: expectedHead)
        case "delete":
            let targets = try ManifestReader.manifests(bytes, name: "request body").map(Batch.DeleteTarget.init)
            batch = try .delete(targets, actor: actor, expectedHead: expectedHead)
        case "ingest":
            batch = .ingest(try ManifestReader.watchEvents(bytes, name: "request body"), actor: actor)
        default:
            throw APIError(
                status: .badRequest, message: "op=\(op): expected apply, delete, discover, resync or ingest",
                code: "BadRequest")
        }
        let store = endpoints.store
        if let refusal = try V1Access.refusal(
            of: batch, path: request.uri.path, context: context, access: endpoints.configuration.access,
            exists: { try store.log.state(of: $0)?.exists == true })
        {
            return refusal
        }
        var answer = Self.appendJSON(
            try await endpoints.committer.submit(batch.attributed(to: endpoints.groups(context))).get())
        if !warnings.isEmpty, case .object(var object) = answer {
            object["warnings"] = .array(warnings.map(JSONValue.string))
            answer = .object(object)
        }
        return json(answer)
    }

    /// POST /v1/feedback {result: applied|failed, cluster, kind, namespace, name, digest?, error?, actor?}
    func feedback(_ request: Request, _ context: ServerContext) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        let value: JSONValue
        do {
            value = try JSONText.parse(try await endpoints.body(request))
        } catch let error as JSONText.SyntaxError {
            throw APIError(status: .badRequest, message: "invalid JSON: \(error)", code: "BadRequest")
        }
        guard let result = value["result"]?.stringValue, ["applied", "failed"].contains(result),
            let cluster = value["cluster"]?.stringValue, let kind = value["kind"]?.stringValue,
            let namespace = value["namespace"]?.stringValue, let name = value["name"]?.stringValue
        else {
            throw APIError(
                status: .badRequest, message: "expected {result: applied|failed, cluster, kind, namespace, name}",
                code: "BadRequest")
        }
        let feedback = Feedback(
            applied: result == "applied",
            output: OutputKey(cluster: cluster, kind: kind, namespace: namespace, name: name),
            digest: value["digest"]?.stringValue, error: value["error"]?.stringValue)
        let batch = try Batch.report(
            feedback, actor: endpoints.actor(context, claimed: value["actor"]?.stringValue, otherwise: "controller"))
        let store = endpoints.store
        if let refusal = try V1Access.refusal(
            of: batch, path: request.uri.path, context: context, access: endpoints.configuration.access,
            exists: { try store.log.state(of: $0)?.exists == true })
        {
            return refusal
        }
        return json(
            Self.appendJSON(try await endpoints.committer.submit(batch.attributed(to: endpoints.groups(context))).get())
        )
    }

    /// What an append did: each object's outcome and sequence, the range appended, the head.
    static func appendJSON(_ result: AppendResult) -> JSONValue {
        let outcomes = result.outcomes.map { key, outcome, sequence -> JSONValue in
            [
                "kind": .string(key.kind.rawValue), "namespace": .string(key.namespace), "name": .string(key.name),
                "outcome": .string(outcome.rawValue), "sequence": sequence.map { .int(Int64($0)) } ?? .null,
            ]
        }
        var object: JSONObject = ["outcomes": .array(outcomes), "head": .int(Int64(result.head))]
        if let range = result.range {
            object["range"] = ["from": .int(Int64(range.lowerBound)), "to": .int(Int64(range.upperBound))]
        }
        return .object(object)
    }
}
