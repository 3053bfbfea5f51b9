import ArgumentParser
import Foundation
import MeshLedger
import MeshLedgerHTTP
import MeshLedgerReplication

extension MeshLedgerCommand {
    /// `serve`: the controller API.
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Serve the controller API and the Kubernetes API over HTTP or HTTPS: append, list, get, watch, outputs, history, feedback, metrics.",
            discussion: """
                Endpoints (JSON; watch and log are JSON lines): POST /v1/events?op=apply|delete|discover|resync|ingest, \
                GET /v1/<kinds>[/<namespace>/<name>][?at=], GET /v1/outputs?cluster=, GET /v1/log?..., \
                GET /v1/watch?from=SEQ, GET /v1/virtualdestinations/<ns>/<name>/history|explain, POST /v1/feedback, \
                GET /healthz, GET /metrics. Also the Kubernetes API for the five kinds (/api, /apis, \
                /openapi/v3; kubectl, client-go, kopf) and the derived Istio objects, read-only. \
                Stops on SIGINT or SIGTERM: open watches end, the requests in flight finish.
                """)

        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Address to listen on (port 0: any free port).", valueName: "host:port"))
        var listen = "127.0.0.1:7480"
        @Option(
            help: ArgumentHelp(
                "A file holding one bearer token with every permission (user admin, group system:masters).",
                valueName: "file"))
        var tokenFile: String?
        @Option(
            help: ArgumentHelp(
                "kube-apiserver's static token file: token,user,uid,\"group1,group2\" per line.", valueName: "file"))
        var tokenAuthFile: String?
        @Option(help: ArgumentHelp("Serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate (PEM).", valueName: "file"))
        var tlsCertFile: String?
        @Option(help: ArgumentHelp("The private key of --tls-cert-file (PEM).", valueName: "file"))
        var tlsPrivateKeyFile: String?
        @Option(
            help: ArgumentHelp(
                "Accept client certificates signed by this CA (PEM): user = CN, groups = O.", valueName: "file"))
        var clientCAFile: String?
        @Option(
            help: ArgumentHelp(
                "Kubernetes ABAC policies, one JSON policy a line; what no line allows is refused (403).",
                valueName: "file"))
        var authorizationPolicyFile: String?
        @Flag(help: "Allow listening beyond loopback without authentication (insecure: anyone may write).")
        var insecureAllowUnauthenticated = false
        @Flag(
            inversion: .prefixedNo,
            help: "Coalesce concurrent appends into one write transaction (default on; a replica always does).")
        var groupCommit = true
        @Option(help: "Watch starts older than this many events get 410 Gone.") var watchRetention: UInt64 = 100_000
        @Option(
            help: ArgumentHelp(
                "A snapshot every this many events, taken of the served state (0: none). Default: $MESHLEDGER_SNAPSHOT_EVERY, else every 500, or every as many events as there are live objects when more.",
                valueName: "events")) var snapshotEvery: UInt64?
        @Option(help: "Most watch streams open at once (more get 429).") var maxWatchers = 256
        @Option(help: "Longest a watch stream stays open, in seconds (clients resume from a bookmark).")
        var maxWatchSeconds = 3600.0
        @Option(
            help:
                "A connection with no request in progress is closed after this many seconds, and a request's header must arrive within them (watch streams in progress are not idle)."
        )
        var connectionIdleSeconds = 60.0
        @Option(help: "A TLS handshake must complete within this many seconds, or the connection is closed.")
        var tlsHandshakeSeconds = 10.0
        @Option(
            help: ArgumentHelp(
                "Replicate the log kept in this etcd (its client URLs, comma-separated): the store directory becomes a replica.",
                valueName: "URL[,URL...]"))
        var etcdServers: String?
        @Option(help: ArgumentHelp("The key prefix of the log in etcd.", valueName: "prefix"))
        var etcdPrefix = "/meshledger/default"
        @Option(help: ArgumentHelp("TLS to etcd: its CA (PEM).", valueName: "file")) var etcdCafile: String?
        @Option(help: ArgumentHelp("TLS to etcd: the client certificate (PEM).", valueName: "file"))
        var etcdCertfile: String?
        @Option(help: ArgumentHelp("TLS to etcd: the client key (PEM).", valueName: "file")) var etcdKeyfile: String?
        @Option(help: ArgumentHelp("This replica's name, unique among the log's replicas.", valueName: "name"))
        var replicaName: String?
        @Option(
            help: ArgumentHelp(
                "Where the other replicas reach this one (default: the scheme and the address it listens on).",
                valueName: "URL"))
        var replicaURL: String?
        @Option(
            help: ArgumentHelp(
                "The CA of the other replicas' serving certificates (writes forwarded over HTTPS).", valueName: "file"))
        var replicaCAFile: String?
        @Option(help: "The writer's lease in seconds: a crashed writer is replaced after this long.")
        var leaseTTLSeconds = 5
        @Option(
            help:
                "Events etcd keeps for replicas to catch up from; older ones are trimmed, compacted and defragmented away (0: keep all). Every replica's store keeps the whole log."
        )
        var etcdKeepEvents: UInt64 = 100_000

        func run() throws {
            var configuration = ServerConfiguration()
            (configuration.host, configuration.port) = try hostAndPort(listen, flag: "--listen")
            configuration.readOnly = global.readOnly
            configuration.groupCommit = groupCommit
            configuration.watchRetention = watchRetention
            configuration.snapshotInterval = snapshotEvery ?? snapshotInterval()
            for (flag, seconds) in [
                ("--max-watch-seconds", maxWatchSeconds), ("--connection-idle-seconds", connectionIdleSeconds),
                ("--tls-handshake-seconds", tlsHandshakeSeconds),
            ] where !(seconds.isFinite && seconds >= 0.01 && seconds <= 31_536_000) {
                throw CLIError("\(flag) \(seconds): expected a number of seconds from 0.01 to a year")
            }
            guard maxWatchers >= 0 else { throw CLIError("--max-watchers \(maxWatchers): expected 0 or more") }
            configuration.maxWatchers = maxWatchers
            configuration.maxWatchSeconds = maxWatchSeconds
            configuration.connectionIdleTimeout = .seconds(connectionIdleSeconds)
            configuration.handshakeTimeout = .seconds(tlsHandshakeSeconds)
            for (flag, file) in [
                ("--token-file", tokenFile), ("--token-auth-file", tokenAuthFile),
                ("--tls-private-key-file", tlsPrivateKeyFile),
            ] {
                if let file { warnIfOthersCanRead(file, flag: flag) }
            }
            if let tokenFile { configuration.access.addSingleToken(try readToken(tokenFile)) }
            do {
                if let tokenAuthFile { try configuration.access.addTokenFile(tokenAuthFile) }
                if let authorizationPolicyFile { try configuration.access.addPolicyFile(authorizationPolicyFile) }
            } catch let error as AccessError {
                throw CLIError(error.description)
            }
            switch (tlsCertFile, tlsPrivateKeyFile) {
            case (let cert?, let key?): configuration.tls = (cert, key)
            case (nil, nil): break
            default: throw CLIError("--tls-cert-file and --tls-private-key-file go together")
            }
            if let clientCAFile {
                guard configuration.tls != nil else { throw CLIError("--client-ca-file needs --tls-cert-file") }
                configuration.clientCAFile = clientCAFile
                configuration.access.acceptClientCertificates()
            }
            if let authorizationPolicyFile, !configuration.access.authenticates {
                throw CLIError(
                    "--authorization-policy-file \(authorizationPolicyFile) needs authentication (--token-auth-file, --client-ca-file or --token-file): without it every caller is system:anonymous and no policy could tell them apart"
                )
            }
            let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(configuration.host)
            if !configuration.access.authenticates {
                if !loopback && !insecureAllowUnauthenticated {
                    throw CLIError(
                        "--listen \(listen): without authentication (--token-auth-file, --client-ca-file or --token-file) MeshLedger listens on loopback only; pass --insecure-allow-unauthenticated to serve anyone anyway"
                    )
                }
                FileHandle.standardError.write(
                    Data(
                        "warning: no authentication configured: every caller is system:anonymous\(loopback ? "; listening on loopback only" : " (--insecure-allow-unauthenticated)")\n"
                            .utf8))
            }
            if let etcdServers {
                guard let replicaName, !replicaName.isEmpty else {
                    throw CLIError("--etcd-servers needs --replica-name (unique among the log's replicas)")
                }
                guard !global.readOnly else { throw CLIError("a replica (--etcd-servers) cannot be --read-only") }
                var replication = ReplicationConfiguration(
                    etcdServers: etcdServers.split(separator: ",").map { String($0) }, replicaName: replicaName)
                replication.prefix = etcdPrefix
                (replication.caFile, replication.certFile, replication.keyFile) = (
                    etcdCafile, etcdCertfile, etcdKeyfile
                )
                replication.peerCAFile = replicaCAFile
                replication.leaseTTL = leaseTTLSeconds
                replication.keepEvents = etcdKeepEvents
                configuration.replication = replication
                configuration.replicationURL = replicaURL
            } else if replicaName != nil {
                throw CLIError("--replica-name needs --etcd-servers")
            }
            let store =
                try global.readOnly
                ? global.openForReading() : global.openForWriting(asReplica: configuration.replication != nil)
            let server = MeshLedgerServer(store: store, configuration: configuration)
            try waitFor("server") {
                try await server.run { address in
                    FileHandle.standardOutput.write(Data("listening on \(address)\n".utf8))
                }
            }
        }
    }
}

/// Warns on stderr, as sshd does of a private key, when a credential file is open to the group or
/// to others (any of the mode bits 077); the server still starts.
func warnIfOthersCanRead(_ path: String, flag: String) {
    guard let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int,
        mode & 0o077 != 0
    else { return }
    FileHandle.standardError.write(
        Data(
            "warning: \(path) (\(flag)) is accessible by group or others (mode \(String(mode & 0o777, radix: 8))); chmod 600 it\n"
                .utf8))
}

/// A `host:port` flag value (`--listen`, `--metrics-listen`), split.
func hostAndPort(_ text: String, flag: String) throws -> (host: String, port: Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
        throw CLIError("\(flag) \(text): expected host:port")
    }
    return (String(text[..<colon]), port)
}

/// The bearer token a file holds (surrounding whitespace trimmed); an error when there is none.
func readToken(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path),
        let token = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
        !token.isEmpty
    else { throw CLIError("\(path): cannot read a token from it") }
    return token
}

/// Runs a long-running async operation (a server, a recorder) from a synchronous command until it
/// ends; its error becomes one line: "WHAT stopped: ERROR".
func waitFor(_ what: String, _ operation: @escaping @Sendable () async throws -> Void) throws {
    let done = DispatchSemaphore(value: 0)
    let failure = ErrorBox()
    Task {
        do {
            try await operation()
        } catch {
            failure.error = error
        }
        done.signal()
    }
    done.wait()
    if let error = failure.error { throw CLIError("\(what) stopped: \(error)") }
}

/// Carries an error out of an async task.
final class ErrorBox: @unchecked Sendable {
    // @unchecked Sendable: written once by the task before the semaphore is signalled.
    var error: (any Error)?
}
