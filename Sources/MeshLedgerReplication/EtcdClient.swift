import AsyncHTTPClient
import Foundation
public import MeshModel
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// What etcd (or the way to it) answered instead of what was asked.
public struct EtcdError: Error, CustomStringConvertible, Sendable {
    /// The HTTP status (0: no answer: connection failed or timed out).
    public let status: Int
    /// etcd's gRPC code (14: unavailable, e.g. no leader), when it gave one.
    public let code: Int?
    /// What happened.
    public let message: String
    public var description: String { status == 0 ? message : "etcd answered \(status): \(message)" }
}

/// A client of etcd's v3 JSON gateway (`POST /v3/...`) over async-http-client: keys and values
/// are base64, int64 fields are strings. Given every member's client URL, it moves to the next
/// member when one fails. A call that may have changed something (a txn) and failed without an
/// answer is not retried: its outcome is unknown, and the caller resolves it by reading.
public final class EtcdClient: Sendable {
    let endpoints: [String]
    let http: HTTPClient
    let timeout: Duration
    private let current = Mutex(0)
    /// Told the path and the time of every answered request (for metrics).
    let observe: @Sendable (String, Duration) -> Void

    /// A client of the members at `endpoints`; TLS with `caFile` (and a client certificate).
    public init(
        endpoints: [String], caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil,
        timeout: Duration = .seconds(3), observe: @escaping @Sendable (String, Duration) -> Void = { _, _ in }
    ) throws {
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.timeout = timeout
        self.observe = observe
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.trustRoots = .file(caFile) }
        if let certFile, let keyFile {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(1))
        // A member that refuses connections is left for the next one at once (no retry loop).
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections.
    public func shutdown() async { try? await http.shutdown() }

    /// One unary call. `idempotent` calls (reads, lease keepalives) move on to the next member
    /// on any failure (at most `attempts` members); others do not, as their outcome is unknown.
    public func call(
        _ path: String, _ body: JSONValue, idempotent: Bool = true, attempts: Int? = nil
    ) async throws -> JSONValue {
        var lastError: (any Error)?
        for _ in 0..<min(attempts ?? endpoints.count, endpoints.count) {
            let index = current.withLock { $0 }
            do {
                return try await call(path, body, on: index)
            } catch let error as EtcdError where error.status != 0 {
                // No leader or a timeout inside etcd: another member may do better (reads only).
                guard idempotent && error.code == 14 else { throw error }
                lastError = error
                rotate(from: index)
            } catch {
                rotate(from: index)
                if !idempotent { throw EtcdError(status: 0, code: nil, message: "no answer from etcd: \(error)") }
                lastError = error
            }
        }
        throw EtcdError(status: 0, code: nil, message: "no etcd member answered: \(lastError.map { "\($0)" } ?? "")")
    }

    /// One call to one member (also maintenance: status, defragment), with its own timeout.
    public func call(
        _ path: String, _ body: JSONValue, on member: Int, timeout: Duration? = nil
    ) async throws -> JSONValue {
        let started = ContinuousClock.now
        var request = HTTPClientRequest(url: endpoints[member] + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: JSONText.canonical(body)))
        let limit = timeout ?? self.timeout
        let response = try await http.execute(request, timeout: .milliseconds(Int64(limit / .milliseconds(1))))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        observe(path, ContinuousClock.now - started)
        let value = try? JSONText.parse(Array(bytes.readableBytesView))
        guard response.status == .ok, let value else {
            throw EtcdError(
                status: Int(response.status.code), code: value?["code"]?.intValue.map(Int.init),
                message: value?["error"]?.stringValue ?? value?["message"]?.stringValue
                    ?? String(buffer: bytes).prefix(200).description)
        }
        return value
    }

    private func rotate(from index: Int) {
        current.withLock { if $0 == index { $0 = (index + 1) % endpoints.count } }
    }

    /// A watch of keys from `key` to `rangeEnd` from `startRevision`: `onMessage` gets each
    /// answer (its `result`, fragments joined) until it returns false or the stream ends.
    public func watch(
        key: [UInt8], rangeEnd: [UInt8], startRevision: Int64, onMessage: (JSONValue) async throws -> Bool
    ) async throws {
        let index = current.withLock { $0 }
        var request = HTTPClientRequest(url: endpoints[index] + "/v3/watch")
        request.method = .POST
        let body: JSONValue = [
            "create_request": [
                "key": .string(Self.base64(key)), "range_end": .string(Self.base64(rangeEnd)),
                "start_revision": .string(String(startRevision)), "fragment": true, "filters": ["NODELETE"],
            ]
        ]
        request.body = .bytes(ByteBuffer(bytes: JSONText.canonical(body)))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .hours(24 * 365))
        } catch {
            rotate(from: index)
            throw EtcdError(status: 0, code: nil, message: "watch: no answer from \(endpoints[index]): \(error)")
        }
        guard response.status == .ok else {
            rotate(from: index)
            throw EtcdError(status: Int(response.status.code), code: nil, message: "watch refused")
        }
        var buffer: [UInt8] = []
        var fragments: [JSONValue] = []
        do {
            for try await chunk in response.body {
                // Only the new bytes are searched for the end of a line (an entry may be megabytes).
                var searchFrom = buffer.count
                buffer.append(contentsOf: chunk.readableBytesView)
                while let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(buffer[..<newline])
                    buffer.removeSubrange(...newline)
                    searchFrom = 0
                    if JSONText.isBlank(line) { continue }
                    guard let value = try? JSONText.parse(line), let result = value["result"] else {
                        throw EtcdError(status: 200, code: nil, message: "watch: unreadable line")
                    }
                    // A fragmented answer: its events come in several messages, the last without `fragment`.
                    fragments += result["events"]?.arrayValue ?? []
                    if result["fragment"]?.boolValue == true { continue }
                    var whole = result
                    if case .object(var object) = whole {
                        object["events"] = .array(fragments)
                        whole = .object(object)
                    }
                    fragments = []
                    if try await !onMessage(whole) { return }
                }
            }
        } catch let error as EtcdError {
            throw error
        } catch {
            rotate(from: index)
            throw EtcdError(status: 0, code: nil, message: "watch stream from \(endpoints[index]) broke: \(error)")
        }
        rotate(from: index)
    }

    // MARK: - Encoding

    /// Base64 of bytes, as the gateway takes keys and values.
    public static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    /// Base64 of a string's UTF-8.
    public static func base64(_ text: String) -> String { base64(Array(text.utf8)) }
    /// The bytes of a base64 field (nil: absent, which the gateway does for empty values too).
    public static func bytes(_ value: JSONValue?) -> [UInt8]? {
        value?.stringValue.flatMap { Data(base64Encoded: $0) }.map { Array($0) }
    }
    /// An int64 field (a string in the gateway's JSON; absent means 0).
    public static func int(_ value: JSONValue?) -> Int64 {
        value?.stringValue.flatMap { Int64($0) } ?? value?.intValue ?? 0
    }
}
