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
    _ = try buildStore(options.fleet, events: fleetEvents, interval: nil, path: store)
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
        // Each watcher is a plain socket (HTTP/1.0: the stream is not chunked), so that the time
        // of arrival is not the client library's; one thread polls them all.
        let readers = try WatchReaders(
            count: watchers, port: server.port, path: path + String(head) + "&timeoutSeconds=60", receipts: receipts)
        try await Task.sleep(for: .milliseconds(500))
        var appendedAt: [UInt64: (sent: Double, answered: Double)] = [:]
        for i in 0..<changes {
            let body = virtualDestination("watched-\(name == "/v1" ? "a" : "b")-\(i)")
            // On a plain socket too: the time of the answer is when its last byte arrived.
            let (data, sent, answeredAt) = try rawPost(
                port: server.port, path: "/v1/events?op=apply", body: Array(body.utf8))
            let sequence = UInt64(try JSONText.parse(data)["head"]?.intValue ?? 0)
            appendedAt[sequence] = (sent, answeredAt)
            try await Task.sleep(for: .milliseconds(20))
        }
        let deadline = now() + 30
        while receipts.count(atLeast: appendedAt.keys.max() ?? 0) < watchers && now() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        readers.close()
        // From the append's answer (the writer wakes watchers before it answers, so a watcher
        // may be ahead of it: counted as 0), and from its request (this includes the commit).
        var latencies: [Double] = []
        var sinceRequest: [Double] = []
        var bySequence: [UInt64: [Double]] = [:]
        for (sequence, time) in receipts.all {
            guard let appended = appendedAt[sequence] else { continue }
            latencies.append(max(0, time - appended.answered))
            sinceRequest.append(time - appended.sent)
            bySequence[sequence, default: []].append((time - appended.answered) * 1000)
        }
        sinceRequest.sort()
        if ProcessInfo.processInfo.environment["BENCH_DEBUG"] != nil {
            for sequence in bySequence.keys.sorted() {
                let values = bySequence[sequence]!.sorted()
                FileHandle.standardError.write(
                    Data(
                        String(
                            format: "seq %d: min %.2f p50 %.2f max %.2f\n", sequence, values.first!,
                            values[values.count / 2], values.last!
                        ).utf8))
            }
        }
        latencies.sort()
        let expected = watchers * changes
        guard latencies.count >= expected else {
            throw BenchFailure("\(name) watchers received \(latencies.count) of \(expected) events")
        }
        let p50 = latencies[latencies.count / 2] * 1000
        let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)] * 1000
        let requestP50 = sinceRequest[sinceRequest.count / 2] * 1000
        let requestP99 = sinceRequest[min(sinceRequest.count - 1, sinceRequest.count * 99 / 100)] * 1000
        rows.append(
            Row(
                measure:
                    "watch fan-out, \(watchers) watchers x \(changes) changes, \(name == "/v1" ? "/v1" : "Kubernetes API")",
                value: String(format: "p50 %.1f ms, p99 %.1f ms", p50, p99),
                ratio: String(format: "since the request: p50 %.1f ms, p99 %.1f ms", requestP50, requestP99),
                target: "p99 <= 2 ms (issue 14)"))
    }

    // 3. Istio output watches: the server's CPU per change of a VirtualDestination (its port and
    // order of clusters move, so its ServiceEntries change), with no watch, with many watches of
    // every ServiceEntry, and with one watch per cluster (an agent per cluster: 100 by default,
    // each selecting its cluster's label; clusters the fleet does not have see nothing).
    let outputWatchers = options.int("output-watchers", 16)
    let clusterWatchers = options.int("cluster-watchers", 100)
    let outputChanges = options.int("output-changes", 20)
    let workload = FleetWorkload(options.fleet)
    var perChange: [Double] = []
    var edit = 1
    let every = "/apis/networking.istio.io/v1alpha3/serviceentries?watch=true&timeoutSeconds=120"
    for count in [0, outputWatchers, clusterWatchers] {
        let perCluster = count == clusterWatchers
        let readers =
            count == 0
            ? nil
            : try WatchReaders(
                count: count, port: server.port,
                path: { watcher in
                    perCluster
                        ? every + "&labelSelector=cluster.multicluster.solo.io%3D\(workload.cluster(watcher))" : every
                },
                receipts: WatchReceipts())
        // Starting a watch (its first events) is not a change's cost: measure from when the
        // server is idle again.
        try await Task.sleep(for: .milliseconds(1000))
        try await untilIdle(server.process.processIdentifier)
        let before = processCPUSeconds(server.process.processIdentifier)
        for _ in 0..<outputChanges {
            let body = JSONText.canonical(workload.virtualDestination(0, edit: edit).object)
            edit += 1
            _ = try rawPost(port: server.port, path: "/v1/events?op=apply", body: body)
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(1000))
        perChange.append((processCPUSeconds(server.process.processIdentifier) - before) / Double(outputChanges))
        readers?.close()
    }
    rows.append(
        Row(
            measure:
                "server CPU per VirtualDestination change: no watch; \(outputWatchers) watches of every Istio ServiceEntry",
            value: String(format: "%.1f ms; %.1f ms", perChange[0] * 1000, perChange[1] * 1000),
            ratio: String(format: "%.1f ms per watch", (perChange[1] - perChange[0]) * 1000 / Double(outputWatchers)),
            target: "-"))
    rows.append(
        Row(
            measure: "  the same with \(clusterWatchers) watches, one per cluster label",
            value: String(format: "%.1f ms", perChange[2] * 1000),
            ratio: String(format: "%.2fx the CPU with no watch", perChange[2] / max(perChange[0], 1e-9)),
            target: "<= 2x (issue 29)"))
    return rows
}

/// Waits until a process uses less than 2% of a core over 250 ms (at most 60 s).
func untilIdle(_ pid: Int32) async throws {
    var last = processCPUSeconds(pid)
    for _ in 0..<240 {
        try await Task.sleep(for: .milliseconds(250))
        let now = processCPUSeconds(pid)
        defer { last = now }
        if now - last < 0.005 { return }
    }
}

/// The CPU time (user and system) a process has used, in seconds (from /proc; 0 when it is gone).
func processCPUSeconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return 0 }
    // Fields after the command name: state is field 3, utime 14 and stime 15 (clock ticks).
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
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
    private var highest: [Int: UInt64] = [:]

    func record(_ watcher: Int, _ sequence: UInt64, _ time: Double) {
        lock.withLock {
            received.append((sequence, time))
            highest[watcher] = max(highest[watcher] ?? 0, sequence)
        }
    }

    func count(atLeast sequence: UInt64) -> Int { lock.withLock { highest.values.filter { $0 >= sequence }.count } }
    var all: [(UInt64, Double)] { lock.withLock { received } }
}

/// The watch streams, each on a plain loopback socket, all read by one thread with `poll`: splits
/// each stream into lines and records when each event line's sequence arrived. One thread (not
/// one per stream) so that the 64 readers take little from the server on 2 cores: a wake reads
/// every stream that has data.
final class WatchReaders: @unchecked Sendable {
    // @unchecked Sendable: the sockets are set once; the thread owns the buffers.
    private let sockets: [Int32]
    private let thread: Thread

    convenience init(count: Int, port: Int, path: String, receipts: WatchReceipts) throws {
        try self.init(count: count, port: port, path: { _ in path }, receipts: receipts)
    }

    /// `path(watcher)` gives each watcher its own request.
    init(count: Int, port: Int, path: (Int) -> String, receipts: WatchReceipts) throws {
        var opened: [Int32] = []
        for watcher in 0..<count {
            let socket = try connectedSocket(port: port)
            let request = Array("GET \(path(watcher)) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            guard write(socket, request, request.count) == request.count else {
                throw BenchFailure("watch reader: write failed")
            }
            opened.append(socket)
        }
        let sockets = opened
        self.sockets = sockets
        thread = Thread {
            var buffers = [[UInt8]](repeating: [], count: sockets.count)
            var inBody = [Bool](repeating: false, count: sockets.count)
            var descriptors = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            var open = sockets.count
            var chunk = [UInt8](repeating: 0, count: 65536)
            let headerEnd = Array("\r\n\r\n".utf8)
            let typePattern = Array(#""type":""#.utf8)
            let sequencePattern = Array(#""sequence":"#.utf8)
            let versionPattern = Array(#""resourceVersion":""#.utf8)
            while open > 0 {
                guard poll(&descriptors, nfds_t(descriptors.count), 1000) >= 0 else { break }
                for index in descriptors.indices where descriptors[index].revents != 0 && descriptors[index].fd >= 0 {
                    let count = read(descriptors[index].fd, &chunk, chunk.count)
                    let time = now()
                    if count <= 0 {
                        descriptors[index].fd = -1
                        open -= 1
                        continue
                    }
                    buffers[index].append(contentsOf: chunk[0..<count])
                    if !inBody[index] {
                        guard let end = WatchReaders.find(headerEnd, in: buffers[index][...]) else { continue }
                        buffers[index].removeFirst(end + headerEnd.count)
                        inBody[index] = true
                    }
                    var consumed = 0
                    while let newline = buffers[index][consumed...].firstIndex(of: UInt8(ascii: "\n")) {
                        let line = buffers[index][consumed..<newline]
                        consumed = newline + 1
                        // The lines are the server's canonical JSON (members in key order, so
                        // the event's own "type" is the line's last): the sequence and type
                        // are found by their bytes, without parsing the line.
                        guard let typeAt = WatchReaders.find(typePattern, in: line, last: true) else { continue }
                        let type = line[(typeAt + typePattern.count)...].prefix { $0 != UInt8(ascii: "\"") }
                        let isEvent = type.elementsEqual("EVENT".utf8)
                        guard isEvent || type.elementsEqual("ADDED".utf8) || type.elementsEqual("MODIFIED".utf8)
                        else { continue }
                        let pattern = isEvent ? sequencePattern : versionPattern
                        guard let at = WatchReaders.find(pattern, in: line) else { continue }
                        var sequence: UInt64 = 0
                        for byte in line[(at + pattern.count)...] {
                            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { break }
                            sequence = sequence * 10 + UInt64(byte - UInt8(ascii: "0"))
                        }
                        receipts.record(index, sequence, time)
                    }
                    buffers[index].removeFirst(consumed)
                }
            }
        }
        thread.start()
    }

    /// Where `pattern` first (or last) occurs in `bytes`, as an index of `bytes`.
    static func find(_ pattern: [UInt8], in bytes: ArraySlice<UInt8>, last: Bool = false) -> Int? {
        guard bytes.count >= pattern.count, let first = pattern.first else { return nil }
        let (low, high) = (bytes.startIndex, bytes.endIndex - pattern.count)
        for start in stride(from: last ? high : low, through: last ? low : high, by: last ? -1 : 1)
        where bytes[start] == first {
            var matched = true
            for offset in 1..<pattern.count where bytes[start + offset] != pattern[offset] {
                matched = false
                break
            }
            if matched { return start }
        }
        return nil
    }

    /// Ends the streams (the thread's reads return end of file).
    func close() {
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    deinit { for socket in sockets { Glibc.close(socket) } }
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
func rawPost(port: Int, path: String, body: [UInt8]) throws -> (body: [UInt8], sentAt: Double, answeredAt: Double) {
    let socket = try connectedSocket(port: port)
    defer { Glibc.close(socket) }
    let request =
        Array(
            "POST \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
                .utf8) + body
    let sentAt = now()
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
        if answer.count - end.upperBound >= length { return (Array(answer[end.upperBound...]), sentAt, now()) }
    }
}
