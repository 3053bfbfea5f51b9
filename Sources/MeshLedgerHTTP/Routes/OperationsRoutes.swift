import EventLog
import Hummingbird
import MeshLedger
import MeshLedgerReplication
import MeshModel
import NIOCore
import Prometheus

/// For operators: `GET /healthz` (no token needed) and `GET /metrics` (Prometheus text).
struct OperationsRoutes: Sendable {
    let endpoints: Endpoints

    func addRoutes(to router: Router<ServerContext>) {
        router.get("/healthz") { _, _ in try await health() }
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
