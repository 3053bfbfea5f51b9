import EventLog
import Hummingbird
import MeshLedger
import MeshLedgerReplication
import MeshModel
import NIOCore
import Prometheus

/// For operators: `GET /healthz`, `/livez` and `/readyz` (no token needed) and `GET /metrics`
/// (Prometheus text).
struct OperationsRoutes: Sendable {
    let endpoints: Endpoints

    func addRoutes(to router: Router<ServerContext>) {
        router.get("/healthz") { _, _ in try await health() }
        router.get("/livez") { request, _ in await probe("livez", request) }
        router.get("/readyz") { request, _ in await probe("readyz", request) }
        router.get("/metrics") { _, _ in
            if let replicator = endpoints.replicator {
                let health = await replicator.health()
                endpoints.metrics.replicationLag.set(Double(health.lag))
                endpoints.metrics.elections.set(Double(health.elections))
            }
            return
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                    body: .init(byteBuffer: ByteBuffer(string: endpoints.metrics.registry.emitToString())))
        }
    }

    /// kube-apiserver's `/livez` and `/readyz`: `ok`, or with `?verbose` each check as `[+]name ok`
    /// and `livez check passed`; a failed check is `[-]name failed: reason withheld` and 500.
    /// Live: the server answers and its log reads. Ready: also not shutting down, and a replica's
    /// replication neither stopped nor cut off from etcd.
    func probe(_ name: String, _ request: Request) async -> Response {
        var checks: [(String, Bool)] = [("ping", true), ("log", (try? endpoints.store.log.head()) != nil)]
        if name == "readyz" {
            checks.append(("shutdown", !endpoints.committer.watchesStopped))
            if let replicator = endpoints.replicator {
                let health = await replicator.health()
                checks.append(("etcd", health.connected))
                checks.append(("replication", health.failure == nil))
            }
        }
        let passed = checks.allSatisfy(\.1)
        var text = ""
        if endpoints.query(request, "verbose") != nil || !passed {
            for (check, ok) in checks { text += ok ? "[+]\(check) ok\n" : "[-]\(check) failed: reason withheld\n" }
            text += "\(name) check \(passed ? "passed" : "failed")\n"
        } else {
            text = "ok"
        }
        return Response(
            status: passed ? .ok : .internalServerError,
            headers: [.contentType: "text/plain; charset=utf-8", .init("X-Content-Type-Options")!: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `{status, head}`; a replica adds its role, the writer, etcd's head, the lag and whether
    /// etcd answers. 503 when its replication stopped (a record that does not verify or chain).
    func health() async throws -> Response {
        let head = try endpoints.store.log.head().sequence
        guard let replicator = endpoints.replicator else { return json(["status": "ok", "head": .int(Int64(head))]) }
        let health = await replicator.health()
        var object = JSONObject()
        object["status"] = .string(health.failure != nil ? "failed" : health.connected ? "ok" : "disconnected")
        object["head"] = .int(Int64(head))
        object["role"] = .string(health.role.rawValue)
        object["writer"] = health.writer.map { .string($0) } ?? .null
        object["etcdHead"] = .int(Int64(health.etcdHead))
        object["lag"] = .int(Int64(health.lag))
        object["etcd"] = .string(health.connected ? "connected" : "disconnected")
        object["elections"] = .int(Int64(health.elections))
        if let failure = health.failure { object["error"] = .string(failure) }
        return json(.object(object), status: health.failure == nil ? .ok : .serviceUnavailable)
    }
}
