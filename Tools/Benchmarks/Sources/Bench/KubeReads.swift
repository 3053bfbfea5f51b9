import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Workload

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The Kubernetes API next to `/v1` on the same server and fleet log: listing every
/// VirtualDestination (8 concurrent clients), and a watch fan-out (64 watchers, each change
/// appended one at a time; the time from an append's answer to each watcher's receipt).
func kubeReads(_ options: Options) async throws -> [Row] {
    let binary = options.values["binary"] ?? "../../.build/release/meshledger"
    let fleetEvents = options.int("kube-fleet-events", 20_000)
    let lists = options.int("kube-lists", 200)
    let watchers = options.int("watchers", 64)
    let changes = options.int("watch-changes", 50)
    let store = scratch("kube")
    defer { try? FileManager.default.removeItem(atPath: store) }
    FileHandle.standardError.write(Data("  building a \(fleetEvents)-event fleet log for the Kubernetes API\n".utf8))
    _ = try buildStore(options.fleet, events: fleetEvents, interval: Store.defaultSnapshotInterval, path: store)
    let server = try ServerProcess(store: store, arguments: [], binary: binary)
    defer { withExtendedLifetime(server) {} }
    let base = "http://127.0.0.1:\(server.port)"
    let configuration = URLSessionConfiguration.ephemeral
    configuration.httpMaximumConnectionsPerHost = watchers + 8
    configuration.timeoutIntervalForRequest = 120
    let session = URLSession(configuration: configuration)

    // 1. Lists.
    let kubePath = "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/virtualdestinations"
    var listRates: [String: Double] = [:]
    var items: [String: Int] = [:]
    for (name, path) in [("/v1", "/v1/virtualdestinations"), ("kube", kubePath)] {
        let started = now()
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for client in 0..<8 {
                group.addTask {
                    var last = 0
                    for _ in 0..<(lists / 8) {
                        let (data, _) = try await session.data(from: URL(string: base + path)!)
                        last = (try JSONText.parse(Array(data))["items"]?.arrayValue?.count) ?? -1
                    }
                    _ = client
                    return last
                }
            }
            var all: [Int] = []
            for try await count in group { all.append(count) }
            return all
        }
        listRates[name] = Double((lists / 8) * 8) / (now() - started)
        items[name] = counts.first ?? 0
    }
    var rows = [
        Row(
            measure: "list all VirtualDestinations (\(items["kube"] ?? 0)), 8 clients: /v1",
            value: String(format: "%.0f lists/s", listRates["/v1"]!), ratio: "1.00", target: "-"),
        Row(
            measure: "  the same through the Kubernetes API",
            value: String(format: "%.0f lists/s", listRates["kube"]!),
            ratio: String(format: "%.2f of /v1", listRates["kube"]! / listRates["/v1"]!), target: "-"),
    ]
    guard items["kube"] == items["/v1"] else { throw BenchFailure("the two lists disagree: \(items)") }

    // 2. Watch fan-out.
    for (name, path) in [("/v1", "/v1/watch?from="), ("kube", kubePath + "?watch=true&resourceVersion=")] {
        let head = try await headSequence(session, base)
        let receipts = WatchReceipts()
        // Each watcher is a plain socket read by a thread of its own (HTTP/1.0: the stream is
        // not chunked), so that the time of arrival is not the client library's.
        var readers: [WatchReader] = []
        for _ in 0..<watchers {
            readers.append(
                try WatchReader(
                    port: server.port, path: path + String(head) + "&timeoutSeconds=60", receipts: receipts))
        }
        try await Task.sleep(for: .milliseconds(500))
        var appendedAt: [UInt64: Double] = [:]
        for i in 0..<changes {
            let body = virtualDestination("watched-\(name == "/v1" ? "a" : "b")-\(i)")
            // On a plain socket too: the time of the answer is when its last byte arrived.
            let (data, answeredAt) = try rawPost(port: server.port, path: "/v1/events?op=apply", body: Array(body.utf8))
            let sequence = UInt64(try JSONText.parse(data)["head"]?.intValue ?? 0)
            appendedAt[sequence] = answeredAt
            try await Task.sleep(for: .milliseconds(20))
        }
        let deadline = now() + 30
        while receipts.count(atLeast: appendedAt.keys.max() ?? 0) < watchers && now() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        for reader in readers { reader.close() }
        var latencies: [Double] = []
        for (sequence, time) in receipts.all where appendedAt[sequence] != nil {
            latencies.append(max(0, time - appendedAt[sequence]!))
        }
        latencies.sort()
        let expected = watchers * changes
        guard latencies.count >= expected else {
            throw BenchFailure("\(name) watchers received \(latencies.count) of \(expected) events")
        }
        let p50 = latencies[latencies.count / 2] * 1000
        let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)] * 1000
        rows.append(
            Row(
                measure:
                    "watch fan-out, \(watchers) watchers x \(changes) changes, \(name == "/v1" ? "/v1" : "Kubernetes API")",
                value: String(format: "p50 %.1f ms, p99 %.1f ms", p50, p99), ratio: "-",
                target: "p99 <= 2 ms (issue 14)"))
    }
    return rows
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func headSequence(_ session: URLSession, _ base: String) async throws -> UInt64 {
    let (data, _) = try await session.data(from: URL(string: base + "/healthz")!)
    return UInt64(try JSONText.parse(Array(data))["head"]?.intValue ?? 0)
}

func virtualDestination(_ name: String) -> String {
    """
    {"apiVersion": "networking.enterprise.mesh.gloo.solo.io/v1alpha1", "kind": "VirtualDestination",
     "metadata": {"name": "\(name)", "namespace": "bench"},
     "spec": {"hostname": "\(name).global", "port": {"number": 9080, "protocol": "HTTP"}, "meshList": {"meshes": []}}}
    """
}

/// When each watcher first saw each sequence.
final class WatchReceipts: @unchecked Sendable {
    // @unchecked Sendable: guarded by the lock.
    private let lock = NSLock()
    private var received: [(UInt64, Double)] = []
    private var highest: [ObjectIdentifier: UInt64] = [:]

    func record(_ task: ObjectIdentifier, _ sequence: UInt64, _ time: Double) {
        lock.withLock {
            received.append((sequence, time))
            highest[task] = max(highest[task] ?? 0, sequence)
        }
    }

    func count(atLeast sequence: UInt64) -> Int { lock.withLock { highest.values.filter { $0 >= sequence }.count } }
    var all: [(UInt64, Double)] { lock.withLock { received } }
}

/// One watch stream on a plain loopback socket, read by its own thread: splits the stream into
/// lines and records when each event line's sequence arrived.
final class WatchReader: @unchecked Sendable {
    // @unchecked Sendable: both are set once; the thread owns its buffer.
    private let socket: Int32
    private let thread: Thread

    init(port: Int, path: String, receipts: WatchReceipts) throws {
        let socket = try connectedSocket(port: port)
        self.socket = socket
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        guard write(socket, request, request.count) == request.count else {
            throw BenchFailure("watch reader: write failed")
        }
        let identity = ReaderIdentity()
        thread = Thread {
            var buffer: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            var inBody = false
            while true {
                let count = read(socket, &chunk, chunk.count)
                if count <= 0 { break }
                let time = now()
                buffer += chunk[0..<count]
                if !inBody {
                    guard let end = buffer.firstRange(of: Array("\r\n\r\n".utf8)) else { continue }
                    buffer.removeFirst(end.upperBound)
                    inBody = true
                }
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(buffer[..<newline])
                    buffer.removeFirst(newline + 1)
                    // The lines are the server's canonical JSON (members in key order): the
                    // sequence and type are found by their bytes, without parsing the line,
                    // so that 64 readers on 2 cores take little from the server.
                    let type = WatchReader.text(after: #""type":""#, in: line)
                    let sequence =
                        type == "EVENT"
                        ? WatchReader.number(after: #""sequence":"#, in: line)
                        : WatchReader.number(after: #""resourceVersion":""#, in: line)
                    if let sequence, type == "EVENT" || type == "ADDED" || type == "MODIFIED" {
                        receipts.record(ObjectIdentifier(identity), sequence, time)
                    }
                }
            }
        }
        thread.start()
    }

    /// The digits right after the first `pattern` in `line`.
    static func number(after pattern: String, in line: [UInt8]) -> UInt64? {
        guard let range = line.firstRange(of: Array(pattern.utf8)) else { return nil }
        let digits = line[range.upperBound...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }

    /// The string right after the last `pattern` (which ends with its opening quote) in `line`.
    static func text(after pattern: String, in line: [UInt8]) -> String? {
        let bytes = Array(pattern.utf8)
        guard bytes.count <= line.count else { return nil }
        var start = line.count - bytes.count
        while start >= 0 && !line[start..<(start + bytes.count)].elementsEqual(bytes) { start -= 1 }
        guard start >= 0 else { return nil }
        let text = line[(start + bytes.count)...].prefix { $0 != UInt8(ascii: "\"") }
        return String(decoding: text, as: UTF8.self)
    }

    /// Ends the stream (the thread's read returns).
    func close() { shutdown(socket, Int32(SHUT_RDWR)) }

    deinit { Glibc.close(socket) }
}

/// A TCP socket connected to `port` on loopback.
func connectedSocket(port: Int) throws -> Int32 {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        Glibc.close(socket)
        throw BenchFailure("could not connect to 127.0.0.1:\(port)")
    }
    return socket
}

/// One HTTP/1.0 POST on a new loopback socket: the answer's body and when its last byte arrived.
func rawPost(port: Int, path: String, body: [UInt8]) throws -> (body: [UInt8], answeredAt: Double) {
    let socket = try connectedSocket(port: port)
    defer { Glibc.close(socket) }
    let request =
        Array(
            "POST \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
                .utf8) + body
    guard write(socket, request, request.count) == request.count else { throw BenchFailure("post: write failed") }
    // Read until the body has its Content-Length (the server may keep the connection open).
    var answer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(socket, &chunk, chunk.count)
        guard count > 0 else { throw BenchFailure("post: the answer ended early") }
        answer += chunk[0..<count]
        guard let end = answer.firstRange(of: Array("\r\n\r\n".utf8)) else { continue }
        let head = String(decoding: answer[..<end.lowerBound], as: UTF8.self).lowercased()
        guard
            let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { throw BenchFailure("post: no Content-Length in \(head)") }
        if answer.count - end.upperBound >= length { return (Array(answer[end.upperBound...]), now()) }
    }
}

/// A distinct identity per reader thread, for the receipts.
final class ReaderIdentity: Sendable {}
