import EventLog
import Hummingbird
import MeshLedger
import MeshLedgerReplication
import MeshModel
import NIOCore

/// Between the replicas of a replicated store: `POST /internal/replication/append`, by which a
/// follower forwards the writes it took (parsed, validated and authenticated there) to the writer.
/// The caller proves it is a replica with the writer's secret, which only etcd's readers know.
struct ReplicationRoutes: Sendable {
    let endpoints: Endpoints

    static let appendPath = "/internal/replication/append"

    func addRoutes(to router: Router<ServerContext>) {
        router.post(RouterPath(Self.appendPath)) { request, _ in try await append(request) }
    }

    func append(_ request: Request) async throws -> Response {
        guard let replicator = endpoints.replicator else {
            throw APIError(status: .notFound, message: "this store is not replicated", code: "NotFound")
        }
        guard let given = request.headers.first(where: { $0.name.canonicalName == "meshledger-replica-secret" })?.value,
            Self.same(Array(given.utf8), Array(replicator.secret.utf8))
        else {
            throw APIError(status: .forbidden, message: "not a replica of this store", code: "Forbidden")
        }
        let buffer = try await request.body.collect(upTo: 256 << 20)
        let value = try JSONText.parse(Array(buffer.readableBytesView))
        let batches = try (value["batches"]?.arrayValue ?? []).map(BatchWire.decode)
        let committer = endpoints.committer
        let results = await withTaskGroup(of: (Int, Result<AppendResult, LogError>).self) { group in
            for (index, batch) in batches.enumerated() {
                group.addTask { (index, await committer.submit(batch)) }
            }
            var results = [Result<AppendResult, LogError>?](repeating: nil, count: batches.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
        return json(["results": .array(results.map(BatchWire.encode))])
    }

    /// Compares secrets in time independent of where they differ.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Reads that must see a point of the log wait for it: `?minSequence=N` (read-your-writes across
/// replicas), `?consistency=strong` (etcd's head, read with a quorum), and on the Kubernetes API a
/// list without `resourceVersion` (strong, as kube-apiserver's consistent reads) or with
/// `resourceVersion=N` (not older than N). `resourceVersion=0` is any local state. After 5 s the
/// answer is 504 with the sequence reached (on the Kubernetes API, the handler's Status).
struct ConsistencyMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let endpoints: Endpoints

    func handle(
        _ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.method == .get else { return try await next(request, context) }
        var target: UInt64?
        var strong = endpoints.query(request, "consistency") == "strong"
        if let text = endpoints.query(request, "minSequence") {
            guard let value = UInt64(text) else {
                throw APIError(
                    status: .badRequest, message: "minSequence=\(text): expected a sequence", code: "BadRequest")
            }
            target = value
        }
        let path = request.uri.path
        let kubernetes = path.hasPrefix("/api/") || path.hasPrefix("/apis/")
        // On the Kubernetes API a replica waits for the resourceVersion asked; a standalone store has
        // its whole log already (a later one is the handler's 504 Status at once).
        if kubernetes && endpoints.replicator != nil {
            let watching = endpoints.flag(request, "watch")
            switch endpoints.query(request, "resourceVersion") {
            case nil, "": if !watching && endpoints.replicator != nil { strong = true }
            case "0": break
            case let text?: if let value = UInt64(text) { target = max(target ?? 0, value) }
            }
        }
        if strong, let replicator = endpoints.replicator {
            do {
                target = max(target ?? 0, try await replicator.strongHead())
            } catch {
                throw LogError(.unavailable, "a strong read needs etcd's head, and etcd does not answer: \(error)")
            }
        }
        if let target {
            let reached: Bool
            if let replicator = endpoints.replicator {
                reached = await replicator.waitForHead(target)
            } else {
                reached = await endpoints.committer.waitUntilFolded(target, timeout: .seconds(5))
            }
            guard reached || kubernetes else {
                let head = try endpoints.store.log.head().sequence
                throw APIError(
                    status: .gatewayTimeout,
                    message: "Too large resource version: the log here is at \(head), not yet at \(target); retry",
                    code: "Timeout")
            }
            await endpoints.committer.foldNewEvents()
        }
        return try await next(request, context)
    }
}
