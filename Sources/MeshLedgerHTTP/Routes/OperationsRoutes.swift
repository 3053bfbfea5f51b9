import EventLog
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore
import Prometheus

/// For operators: `GET /healthz` (no token needed) and `GET /metrics` (Prometheus text).
struct OperationsRoutes: Sendable {
    let endpoints: Endpoints

    func addRoutes(to router: Router<ServerContext>) {
        router.get("/healthz") { _, _ in
            json(["status": "ok", "head": .int(Int64(try endpoints.store.log.head().sequence))])
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: endpoints.metrics.registry.emitToString())))
        }
    }
}
