import AsyncHTTPClient
import Foundation
import MeshModel
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// What an API server answered that is not what was asked: a Kubernetes Status (or an HTTP
/// error without one), with its code.
struct APIStatusError: Error, CustomStringConvertible {
    /// The HTTP (or Status) code: 410 means the resourceVersion is too old.
    let code: Int
    /// The server's message.
    let message: String
    var description: String { "\(code): \(message)" }

    init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    /// The error a Kubernetes Status object states (nil when `value` is not one).
    init?(status value: JSONValue) {
        guard value["kind"]?.stringValue == "Status" else { return nil }
        code = value["code"]?.intValue.map { Int($0) } ?? 0
        message = value["message"]?.stringValue ?? "no message"
    }
}

/// The recorder's client of one Kubernetes API server, over async-http-client: list and watch
/// of the five kinds with the kubeconfig's credentials.
final class KubeClient: Sendable {
    let context: KubeconfigContext
    let http: HTTPClient
    /// The URL requests go to: the server's, with `tls-server-name` as its host when given.
    let base: String
    /// The exec credential plugin, when the kubeconfig's user has one.
    let exec: ExecCredentials?
    /// The token as last read from the kubeconfig's token file, and when (read again after a
    /// minute or a 401: service account tokens rotate).
    private let fileToken: Mutex<(token: String?, readAt: ContinuousClock.Instant)?>

    init(_ context: KubeconfigContext) throws {
        self.context = context
        exec = context.exec.map { ExecCredentials($0, cluster: context.cluster) }
        fileToken = Mutex(context.tokenFile == nil ? nil : (context.token, ContinuousClock.now))
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = context.certificateAuthority {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
        }
        if context.insecureSkipTLSVerify { tls.certificateVerification = .none }
        // A plugin that gives a client certificate is asked at once: the TLS configuration needs it.
        var clientCertificate = context.clientCertificate
        var clientKey = context.clientKey
        if let exec, clientCertificate == nil, context.token == nil {
            let credential = try exec.credential()
            clientCertificate = credential.clientCertificate
            clientKey = credential.clientKey
        }
        if let certificate = clientCertificate, let key = clientKey {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10))
        // tls-server-name: requests name that host (the certificate is checked against it and it
        // is sent as SNI), and connect to the server's own host.
        var base = context.server
        if let name = context.tlsServerName, let url = URL(string: context.server), let host = url.host {
            var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
            components?.host = name
            if let renamed = components?.string {
                base = renamed
                configuration.dnsOverride = [name: host]
            }
        }
        self.base = base
        if let proxy = context.proxyURL { configuration.proxy = try Self.proxy(proxy) }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// A kubeconfig's `proxy-url` as the HTTP client's proxy: `http://` (a CONNECT tunnel, with
    /// basic authorization from the URL's user and password) or `socks5://`.
    static func proxy(_ text: String) throws -> HTTPClient.Configuration.Proxy {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host else {
            throw KubeconfigError("proxy-url \(text): expected http://host:port or socks5://host:port")
        }
        switch scheme {
        case "http":
            if let user = url.user {
                return .server(
                    host: host, port: url.port ?? 80,
                    authorization: .basic(
                        username: user.removingPercentEncoding ?? user,
                        password: (url.password ?? "").removingPercentEncoding ?? ""))
            }
            return .server(host: host, port: url.port ?? 80)
        case "socks5":
            return .socksServer(host: host, port: url.port ?? 1080)
        default:
            throw KubeconfigError(
                "proxy-url \(text): \(scheme) proxies are not supported; use http:// (a CONNECT tunnel) or socks5://")
        }
    }

    func shutdown() async { try? await http.shutdown() }

    /// The collection path of a kind (all namespaces, or one).
    func path(_ kind: ResourceKind, namespace: String?) -> String {
        let base = "/apis/\(kind.apiVersion)"
        return namespace.map { "\(base)/namespaces/\($0)/\(kind.plural)" } ?? "\(base)/\(kind.plural)"
    }

    func request(_ path: String) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "meshledger-record")
        if let token = try currentToken() {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        return request
    }

    /// The bearer token: the kubeconfig's, its token file's (read again after a minute), or the
    /// exec plugin's.
    func currentToken() throws -> String? {
        if let path = context.tokenFile {
            return fileToken.withLock { cached in
                if let cached, ContinuousClock.now - cached.readAt < .seconds(60) { return cached.token }
                let token = FileManager.default.contents(atPath: path).map {
                    String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                }
                cached = (token ?? cached?.token, ContinuousClock.now)
                return cached?.token
            }
        }
        return try context.token ?? exec?.credential().token
    }

    /// Sends a request; a 401 makes the credential be read again (the token file, the exec
    /// plugin) and the request sent once more: a rotated or revoked credential is replaced before
    /// it said it expires.
    func execute(_ path: String, timeout: TimeAmount) async throws -> HTTPClientResponse {
        let response = try await http.execute(try request(path), timeout: timeout)
        guard response.status == .unauthorized, exec != nil || context.tokenFile != nil else { return response }
        _ = try? await response.body.collect(upTo: 1 << 20)
        exec?.invalidate()
        fileToken.withLock { $0 = nil }
        return try await http.execute(try request(path), timeout: timeout)
    }

    /// A list: its items and its resourceVersion.
    func list(_ kind: ResourceKind, namespace: String?) async throws -> (items: [JSONValue], resourceVersion: String) {
        let response = try await execute(path(kind, namespace: namespace), timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 256 << 20)
        let value = try? JSONText.parse(Array(body.readableBytesView))
        guard response.status == .ok, let value else { throw Self.failure(response.status, value, body) }
        guard let items = value["items"]?.arrayValue,
            let version = value[path: ["metadata", "resourceVersion"]]?.stringValue
        else { throw APIStatusError(code: 0, message: "the list of \(kind.plural) has no items or resourceVersion") }
        return (items, version)
    }

    /// A watch from `resourceVersion`, with bookmarks: the response whose body streams the events.
    func watch(
        _ kind: ResourceKind, namespace: String?, resourceVersion: String, timeoutSeconds: Int
    ) async throws -> HTTPClientResponse {
        let query =
            "?watch=1&allowWatchBookmarks=true&resourceVersion=\(resourceVersion)&timeoutSeconds=\(timeoutSeconds)"
        let response = try await execute(
            path(kind, namespace: namespace) + query, timeout: .seconds(Int64(timeoutSeconds) + 30))
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw Self.failure(response.status, try? JSONText.parse(Array(body.readableBytesView)), body)
        }
        return response
    }

    /// The error of a refused request: the Status's code and message when the body is one.
    static func failure(_ status: HTTPResponseStatus, _ value: JSONValue?, _ body: ByteBuffer) -> APIStatusError {
        if let value, let stated = APIStatusError(status: value) {
            return APIStatusError(code: stated.code == 0 ? Int(status.code) : stated.code, message: stated.message)
        }
        return APIStatusError(code: Int(status.code), message: String(buffer: body).prefix(200).description)
    }
}
