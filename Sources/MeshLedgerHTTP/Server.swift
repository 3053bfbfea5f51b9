import EventLog
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
public import MeshLedger
public import MeshLedgerReplication
import MeshModel
import NIOCore
import NIOSSL
import Projection
import Prometheus
import ServiceLifecycle
import UnixSignals

/// How `meshledger serve` runs.
public struct ServerConfiguration: Sendable {
    /// Host to listen on (loopback by default).
    public var host = "127.0.0.1"
    /// Port (0: any free port; the chosen one is printed).
    public var port = 7480
    /// Who may call and do what (tokens, client certificates, ABAC policies).
    public var access = AccessControl()
    /// HTTPS: the server's certificate chain and private key (PEM files); nil: plain HTTP.
    public var tls: (certificateFile: String, keyFile: String)?
    /// The CA whose client certificates are accepted (PEM); others are refused at the handshake.
    public var clientCAFile: String?
    /// Refuse every write.
    public var readOnly = false
    /// Coalesce concurrent appends into one write transaction.
    public var groupCommit = true
    /// At most this many requests per group.
    public var maxBatchRequests = 256
    /// Largest request body accepted.
    public var maxBodyBytes = 8 << 20
    /// How far back (in events) a watch may start; older starts get 410 Gone.
    public var watchRetention: UInt64 = 100_000
    /// A snapshot of the folded projection every this many events (0: none; nil: the default
    /// policy, `Store.automaticSnapshotInterval`; not on a read-only store).
    public var snapshotInterval: UInt64?
    /// Default seconds between watch bookmarks.
    public var bookmarkSeconds = 5.0
    /// Most watch streams open at once, shared fairly between callers (`WatchSlots`); beyond, 429.
    public var maxWatchers = 256
    /// Longest a watch stream stays open (a client resumes from its last bookmark).
    public var maxWatchSeconds = 3600.0
    /// A connection with no request in progress is closed after this long; a request's header must
    /// arrive within it (slow senders are cut off). Watch streams in progress are not idle.
    public var connectionIdleTimeout: Duration = .seconds(60)
    /// A TLS handshake must complete within this long, or the connection is closed.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Replicate the log kept in etcd (nil: a standalone store).
    public var replication: ReplicationConfiguration?
    /// Where the other replicas reach this one (nil: the scheme and the address it listens on).
    public var replicationURL: String?
    /// Creates the defaults.
    public init() {}
}

/// The controller API (docs/domain.md section 6): JSON over HTTP/1.1 under /v1, on Hummingbird.
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
        let (app, stop, replication) = try makeApplication(onListening: onListening)
        // Shut down in reverse order: first end the open watch streams, then the server waits
        // for the requests in flight, then a replica resigns as the writer.
        var services: [any Service] = []
        if let replication { services.append(replication) }
        services += [app, WatchStopper(stop: stop)]
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger))
        try await group.run()
        await stop()
    }

    /// The application (routes, middleware, the single writer) without running it: `run` serves
    /// it, the in-process tests drive it. `stop` finishes the writer's requests in flight.
    package func makeApplication(
        onListening: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> (
        application: Application<RouterResponder<ServerContext>>, stop: @Sendable () async -> Void,
        replication: (any Service)?
    ) {
        let metrics = Metrics()
        let replicator = try configuration.replication.map { replication in
            try Replicator(log: store.log, configuration: replication) { _, duration in
                metrics.etcdLatency.record(duration)
            }
        }
        let committer = try Committer(
            store: store, groupCommit: configuration.groupCommit, maxBatchRequests: configuration.maxBatchRequests,
            retention: configuration.watchRetention, metrics: metrics,
            replicator: replicator, snapshotInterval: configuration.readOnly ? 0 : configuration.snapshotInterval,
            maxWatchers: configuration.maxWatchers)
        // Leases and ConfigMaps: a standalone store's own table beside the log (decision 0017).
        let coordinationPath = store.path + "/coordination"
        let coordination =
            replicator != nil
            ? nil
            : configuration.readOnly
                ? try? CoordinationTable(path: coordinationPath, readOnly: true)
                : try CoordinationTable(path: coordinationPath)
        let endpoints = Endpoints(
            store: store, committer: committer, metrics: metrics, configuration: configuration, replicator: replicator,
            coordination: coordination)
        let router = Router(context: ServerContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AccessMiddleware(access: configuration.access))
        router.add(middleware: ConsistencyMiddleware(endpoints: endpoints))
        router.add(middleware: CancellationMiddleware())
        OperationsRoutes(endpoints: endpoints).addRoutes(to: router)
        ReplicationRoutes(endpoints: endpoints).addRoutes(to: router)
        let v1 = router.group("/v1")
        WriteRoutes(endpoints: endpoints).addRoutes(to: v1)
        ObjectRoutes(endpoints: endpoints).addRoutes(to: v1)
        AuditRoutes(endpoints: endpoints).addRoutes(to: v1)
        WatchRoutes(endpoints: endpoints).addRoutes(to: v1)
        KubeRoutes(endpoints: endpoints).addRoutes(to: router)
        let app = Application(
            router: router, server: try serverBuilder(),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "MeshLedger"),
            onServerRunning: { channel in
                let address =
                    channel.localAddress.map { "\($0.ipAddress ?? configuration.host):\($0.port ?? 0)" } ?? "?"
                if let replicator {
                    let url =
                        configuration.replicationURL ?? "\(configuration.tls == nil ? "http" : "https")://\(address)"
                    await replicator.setAdvertiseURL(url)
                }
                onListening(address)
            })
        return (
            app,
            {
                await committer.stopWatches()
                await committer.stop()
            },
            replicator.map { ReplicationService(replicator: $0, committer: committer) }
        )
    }
}

extension MeshLedgerServer {
    /// The TLS 1.2 cipher suites kube-apiserver offers by default (Go's default list, every one
    /// with an ephemeral key exchange, so forward secret); TLS 1.3 suites are always on.
    static let cipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, .TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        .TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, .TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    ]

    /// Plain HTTP/1.1, or HTTPS (TLS 1.2 or later, `cipherSuites` only) with HTTP/2 and HTTP/1.1
    /// (ALPN) and, with a client CA, client certificates verified when presented (a caller may use
    /// a token instead).
    func serverBuilder() throws -> HTTPServerBuilder {
        let idle = TimeAmount(configuration.connectionIdleTimeout)
        guard let tls = configuration.tls else { return .http1(configuration: .init(idleTimeout: idle)) }
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateFile).map {
            NIOSSLCertificateSource.certificate($0)
        }
        var tlsConfiguration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)))
        tlsConfiguration.minimumTLSVersion = .tlsv12
        tlsConfiguration.cipherSuiteValues = Self.cipherSuites
        if let clientCA = configuration.clientCAFile {
            tlsConfiguration.trustRoots = .file(clientCA)
            tlsConfiguration.certificateVerification = .optionalVerification
        }
        let handshake = TimeAmount(configuration.handshakeTimeout)
        let server = tlsConfiguration
        let connections = HTTP2UpgradeChannel.Configuration(
            idleTimeout: configuration.connectionIdleTimeout, streamConfiguration: .init(idleTimeout: idle))
        return HTTPServerBuilder { responder in
            HandshakeDeadline(
                base: try HTTP2UpgradeChannel(
                    tlsConfiguration: server, configuration: connections, responder: responder),
                timeout: handshake)
        }
    }
}

/// Runs a replica's replication until the server shuts down; then it resigns as the writer.
struct ReplicationService: Service {
    let replicator: Replicator
    let committer: Committer

    func run() async throws {
        // What the replica appends is folded at once, and wakes the watches.
        let committer = self.committer
        await replicator.setOnApplied { await committer.foldNewEvents() }
        await cancelWhenGracefulShutdown { await replicator.run() }
    }
}

/// Ends the open watch streams when the server shuts down gracefully (they would otherwise hold
/// the shutdown for as long as a watch may last).
struct WatchStopper: Service {
    let stop: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }
}
