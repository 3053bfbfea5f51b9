import AsyncHTTPClient
import Foundation
import MeshModel
import NIOCore
import NIOHTTP1
import NIOSSL

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

    init(_ context: KubeconfigContext) throws {
        self.context = context
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = context.certificateAuthority {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
        }
        if context.insecureSkipTLSVerify { tls.certificateVerification = .none }
        if let certificate = context.clientCertificate, let key = context.clientKey {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async { try? await http.shutdown() }

    /// The collection path of a kind (all namespaces, or one).
    func path(_ kind: ResourceKind, namespace: String?) -> String {
        let base = "/apis/\(kind.apiVersion)"
        return namespace.map { "\(base)/namespaces/\($0)/\(kind.plural)" } ?? "\(base)/\(kind.plural)"
    }

    func request(_ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: context.server + path)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "meshledger-record")
        if let token = context.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    /// A list: its items and its resourceVersion.
    func list(_ kind: ResourceKind, namespace: String?) async throws -> (items: [JSONValue], resourceVersion: String) {
        let response = try await http.execute(request(path(kind, namespace: namespace)), timeout: .seconds(60))
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
        let response = try await http.execute(
            request(path(kind, namespace: namespace) + query), timeout: .seconds(Int64(timeoutSeconds) + 30))
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
