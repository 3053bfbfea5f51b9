public import EventLog
import Foundation
import Hummingbird
public import MeshLedger
import MeshModel
import NIOCore
import Projection

/// How `meshledger serve` runs.
public struct ServerConfiguration: Sendable {
    /// Host to listen on (loopback by default).
    public var host = "127.0.0.1"
    /// Port (0: any free port; the chosen one is printed).
    public var port = 7480
    /// The bearer token required on every request but /healthz, if set.
    public var token: String?
    /// Refuse every write.
    public var readOnly = false
    /// Coalesce concurrent appends into one write transaction.
    public var groupCommit = true
    /// At most this many requests per group.
    public var maxBatchRequests = 256
    /// Wait at most this long for more requests before committing a group.
    public var maxDelay: Duration = .milliseconds(2)
    /// Largest request body accepted.
    public var maxBodyBytes = 8 << 20
    /// How far back (in events) a watch may start; older starts get 410 Gone.
    public var watchRetention: UInt64 = 100_000
    /// Default seconds between watch bookmarks.
    public var bookmarkSeconds = 5.0
    /// Most watch streams open at once; more get 429.
    public var maxWatchers = 256
    /// Longest a watch stream stays open (a client resumes from its last bookmark).
    public var maxWatchSeconds = 3600.0
    /// Creates the defaults.
    public init() {}
}

/// The controller API (DOMAIN.md section 6): JSON over HTTP/1.1 under /v1, on Hummingbird.
public struct MeshLedgerServer: Sendable {
    let store: Store
    let configuration: ServerConfiguration

    /// A server over an open store.
    public init(store: Store, configuration: ServerConfiguration) {
        self.store = store
        self.configuration = configuration
    }

    /// Runs until SIGINT or SIGTERM, then finishes the requests in flight. `onListening` gets
    /// the address actually bound.
    public func run(onListening: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        let metrics = Metrics()
        let committer = try Committer(
            store: store, groupCommit: configuration.groupCommit, maxBatchRequests: configuration.maxBatchRequests,
            maxDelay: configuration.maxDelay, retention: configuration.watchRetention, metrics: metrics)
        let api = API(store: store, committer: committer, metrics: metrics, configuration: configuration)
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        if let token = configuration.token { router.add(middleware: BearerTokenMiddleware(token: token)) }
        api.register(on: router)
        let app = Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "MeshLedger"),
            onServerRunning: { channel in
                onListening(channel.localAddress.map { "\($0.ipAddress ?? configuration.host):\($0.port ?? 0)" } ?? "?")
            })
        try await app.runService()
        await committer.stop()
    }
}

/// A JSON response.
func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    var bytes = JSONText.canonical(value)
    bytes.append(UInt8(ascii: "\n"))
    return Response(
        status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// An error response: `{"error": "...", "code": "..."}`.
func errorResponse(_ status: HTTPResponse.Status, _ message: String, code: String) -> Response {
    json(["error": .string(message), "code": .string(code)], status: status)
}

/// Turns domain errors into HTTP responses; only this module knows about HTTP.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(
        _ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as LogError {
            switch error.code {
            case .conflict: return errorResponse(.conflict, error.message, code: "Conflict")
            case .notFound: return errorResponse(.notFound, error.message, code: "NotFound")
            case .invalidBatch: return errorResponse(.badRequest, error.message, code: "BadRequest")
            default: return errorResponse(.internalServerError, error.message, code: "StorageError")
            }
        } catch let error as ManifestError {
            return errorResponse(.badRequest, error.description, code: "BadRequest")
        } catch let error as APIError {
            return errorResponse(error.status, error.message, code: error.code)
        } catch let error as HTTPError {
            return errorResponse(error.status, error.body ?? error.status.reasonPhrase, code: "\(error.status.code)")
        }
    }
}

/// An error the API reports itself.
struct APIError: Error {
    let status: HTTPResponse.Status
    let message: String
    let code: String
}

/// Requires `Authorization: Bearer <token>`, compared in constant time, on everything but /healthz.
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: String

    func handle(
        _ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        let given = Array((header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : "").utf8)
        let expected = Array(token.utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<expected.count { difference |= expected[i] ^ (i < given.count ? given[i] : 0) }
        guard difference == 0 else {
            return errorResponse(.unauthorized, "missing or wrong bearer token", code: "Unauthorized")
        }
        return try await next(request, context)
    }
}
