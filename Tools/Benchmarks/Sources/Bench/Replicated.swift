import Foundation
import MeshLedgerTesting
import MeshModel

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Replication on etcd (issue 13): the same one-object appends from `clients` concurrent clients
/// against one standalone server (group commit) and against three replicas on a 3-member etcd
/// cluster (spread round-robin); one client's latency through the writer and through a follower;
/// and etcd's own rate of single-event compare-and-put transactions on the same cluster, which
/// is what one replicated group costs.
func replicated(_ options: Options) async throws -> [Row] {
    guard EtcdCluster.isAvailable else {
        FileHandle.standardError.write(Data("  replicated: etcd is not installed (apt-get install etcd-server)\n".utf8))
        return []
    }
    let binary = options.values["binary"] ?? "../../.build/release/meshledger"
    let clients = options.int("clients", 64)
    let requests = options.int("requests", 30)
    let configuration = URLSessionConfiguration.ephemeral
    configuration.httpMaximumConnectionsPerHost = clients
    let session = URLSession(configuration: configuration)
    var tag = 0
    func body() -> Data {
        tag += 1
        return Data(
            """
            {"apiVersion": "discovery.mesh.gloo.solo.io/v1alpha2", "kind": "Destination",
             "metadata": {"name": "svc-\(tag)", "namespace": "gloo-mesh"},
             "spec": {"kubeService": {"ref": {"name": "svc-\(tag)", "namespace": "bookinfo", "clusterName": "cluster-1"},
                      "ports": [{"port": 9080, "name": "http", "protocol": "TCP"}]},
                      "mesh": {"name": "istiod-istio-system-cluster-1", "namespace": "gloo-mesh"}}}
            """.utf8)
    }
    func post(_ port: Int, _ body: Data) async throws {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/events?op=discover&actor=bench")!)
        request.httpMethod = "POST"
        request.httpBody = body
        let (data, response) = try await session.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw NSError(
                domain: "bench", code: 3, userInfo: [NSLocalizedDescriptionKey: String(decoding: data, as: UTF8.self)])
        }
    }
    /// `clients` x `requests` appends spread over `ports`; appends per second.
    func load(_ ports: [Int]) async throws -> Double {
        let bodies = (0..<(clients * requests)).map { _ in body() }
        let started = now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                group.addTask {
                    for i in 0..<requests {
                        try await post(ports[(client + i) % ports.count], bodies[client * requests + i])
                    }
                }
            }
            try await group.waitForAll()
        }
        return Double(clients * requests) / (now() - started)
    }
    /// One client, `count` appends in a row to `port`: the median and the 99th percentile (ms).
    func latency(_ port: Int, count: Int = 200) async throws -> (p50: Double, p99: Double) {
        var times: [Double] = []
        for _ in 0..<count {
            let payload = body()
            let started = now()
            try await post(port, payload)
            times.append((now() - started) * 1000)
        }
        times.sort()
        return (times[count / 2], times[count * 99 / 100])
    }

    // The standalone server, same load, empty store.
    let single: Double
    do {
        let store = scratch("single")
        defer { try? FileManager.default.removeItem(atPath: store) }
        let server = try ServerProcess(store: store, binary: binary)
        defer { withExtendedLifetime(server) {} }
        single = try await load([server.port])
    }

    FileHandle.standardError.write(Data("  replicated: 3 etcd members, 3 replicas\n".utf8))
    let etcd = try EtcdCluster()
    defer { etcd.shutdown() }
    try etcd.waitHealthy()
    // etcd alone: single-event transactions, compare on a head key then put the event and the head.
    var etcdRate = 0.0
    do {
        let count = 1000
        let value = Data(repeating: 120, count: 900).base64EncodedString()
        func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        let started = now()
        for i in 0..<count {
            var request = URLRequest(url: URL(string: etcd.clientURLs[0] + "/v3/kv/txn")!)
            request.httpMethod = "POST"
            let compare =
                i == 0
                ? "{\"key\": \"\(b64("/bench/head"))\", \"target\": \"CREATE\", \"result\": \"EQUAL\", \"create_revision\": \"0\"}"
                : "{\"key\": \"\(b64("/bench/head"))\", \"target\": \"VALUE\", \"result\": \"EQUAL\", \"value\": \"\(b64(String(i)))\"}"
            request.httpBody = Data(
                """
                {"compare": [\(compare)],
                 "success": [{"request_put": {"key": "\(b64("/bench/log/\(i + 1)"))", "value": "\(value)"}},
                             {"request_put": {"key": "\(b64("/bench/head"))", "value": "\(b64(String(i + 1)))"}}]}
                """.utf8)
            let (data, _) = try await session.data(for: request)
            precondition(
                (try? JSONText.parse(Array(data)))?["succeeded"] == .bool(true), "etcd txn \(i) failed to compare")
        }
        etcdRate = Double(count) / (now() - started)
    }
    let stores = (0..<3).map { scratch("replica\($0)") }
    defer { for store in stores { try? FileManager.default.removeItem(atPath: store) } }
    var replicas: [ServerProcess] = []
    for (index, store) in stores.enumerated() {
        replicas.append(
            try ServerProcess(
                store: store, arguments: ["--etcd-servers", etcd.endpoints, "--replica-name", "r\(index)"],
                binary: binary))
        if index == 0 { try await Task.sleep(for: .seconds(1)) }  // r0 is elected the writer
    }
    defer { withExtendedLifetime(replicas) {} }
    // Every replica must know the writer before the load starts.
    var writer = -1
    for _ in 0..<100 where writer < 0 {
        var names = Set<String>()
        for replica in replicas {
            let (data, _) = try await session.data(from: URL(string: "http://127.0.0.1:\(replica.port)/healthz")!)
            names.insert(try JSONText.parse(Array(data))["writer"]?.stringValue ?? "")
        }
        if names.count == 1, let name = names.first, let index = Int(name.dropFirst()) { writer = index }
        try await Task.sleep(for: .milliseconds(100))
    }
    precondition(writer >= 0, "the replicas did not agree on a writer")
    let follower = (writer + 1) % 3
    let replicatedRate = try await load(replicas.map(\.port))
    let viaWriter = try await latency(replicas[writer].port)
    let viaFollower = try await latency(replicas[follower].port)
    return [
        Row(
            measure: "server, \(clients) clients x \(requests) one-object appends, standalone, group commit",
            value: String(format: "%.0f appends/s", single), ratio: "1.00", target: "-"),
        Row(
            measure: "the same on 3 replicas over a 3-member etcd (round-robin over the replicas)",
            value: String(format: "%.0f appends/s", replicatedRate),
            ratio: String(format: "%.2f of standalone", replicatedRate / single), target: ">= 0.50 of standalone"),
        Row(
            measure: "etcd alone: single-event compare-and-put txns, 1 client (the cost of one replicated group)",
            value: String(format: "%.0f txns/s", etcdRate),
            ratio: String(format: "replicated appends = %.1fx etcd's txns", replicatedRate / etcdRate), target: "-"),
        Row(
            measure: "one client, one-object appends in a row, through the writer",
            value: String(format: "p50 %.2f ms, p99 %.2f ms", viaWriter.p50, viaWriter.p99), ratio: "-",
            target: "p50 <= 5 ms"),
        Row(
            measure: "the same through a follower (forwarded, answered once the follower has it)",
            value: String(format: "p50 %.2f ms, p99 %.2f ms", viaFollower.p50, viaFollower.p99), ratio: "-",
            target: "p50 <= 5 ms"),
    ]
}
