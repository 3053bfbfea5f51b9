import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Workload

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// 9 (issue 5): a bounded load from this process against the real server on loopback: `clients`
/// concurrent clients each append `requests` one-object batches; then the head, every client's
/// sequences and a watch stream are checked to agree (nothing lost or duplicated). Run with and
/// without group commit.
func serverLoad(_ options: Options) async throws -> [Row] {
    var rows: [Row] = []
    let binary = options.values["binary"] ?? "../../.build/release/meshledger"
    let clients = options.int("clients", 32)
    let requests = options.int("requests", 40)
    let fleetEvents = options.int("fleet-events", 100_000)
    // What the clients send: fleet churn (endpoint moves, edits), as JSON, one change per request.
    var churn = FleetWorkload(FleetWorkload.Parameters(seed: 2))
    var bodies: [(op: String, body: [UInt8])] = []
    while bodies.count < clients * requests {
        for change in churn.nextBatch() {
            guard case .upsert(let manifest) = change.operation else { continue }
            bodies.append((change.source == .discovery ? "discover" : "apply", JSONText.canonical(manifest.object)))
        }
    }
    var rates: [String: Double] = [:]
    for mode in ["--group-commit", "--no-group-commit"] {
        let store = scratch("server")
        // Declared before the server's, so it runs after the server has stopped.
        defer { try? FileManager.default.removeItem(atPath: store) }
        // The server starts on a fleet log (with its snapshots) and serves that fleet's state.
        FileHandle.standardError.write(Data("  building a \(fleetEvents)-event fleet log for the server\n".utf8))
        let fleetHead = try buildStore(
            options.fleet, events: fleetEvents, interval: nil, path: store
        ).log.head().sequence
        let server = try ServerProcess(store: store, arguments: [mode], binary: binary)
        // Alive until this iteration ends: its deinit then interrupts the process and waits for it.
        defer { withExtendedLifetime(server) {} }
        let port = server.port
        func serverPeakMiB() -> Double { procStatusMiB(server.process.processIdentifier, "VmHWM") }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = clients
        let session = URLSession(configuration: configuration)
        let started = now()
        let sequences = try await withThrowingTaskGroup(of: [Int64?].self) { group in
            for client in 0..<clients {
                let mine = Array(bodies[(client * requests)..<((client + 1) * requests)])
                group.addTask {
                    var appended: [Int64?] = []
                    for (op, body) in mine {
                        var request = URLRequest(
                            url: URL(string: "http://127.0.0.1:\(port)/v1/events?op=\(op)&actor=client-\(client)")!)
                        request.httpMethod = "POST"
                        request.httpBody = Data(body)
                        let (data, response) = try await session.data(for: request)
                        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                            throw NSError(
                                domain: "bench", code: 2,
                                userInfo: [NSLocalizedDescriptionKey: String(decoding: data, as: UTF8.self)])
                        }
                        // No range: the change was a no-op (the object already had that content).
                        appended.append(try JSONText.parse(Array(data))[path: ["range", "from"]]?.intValue)
                    }
                    return appended
                }
            }
            var all: [Int64?] = []
            for try await mine in group { all += mine }
            return all
        }
        let seconds = now() - started
        let total = clients * requests
        let appended = sequences.compactMap { $0 }
        let first = Int64(fleetHead) + 1
        let last = Int64(fleetHead) + Int64(appended.count)
        precondition(
            !appended.isEmpty && Set(appended).count == appended.count && appended.min() == first
                && appended.max() == last,
            "lost or duplicated appends")
        let (watchData, _) = try await session.data(
            from: URL(string: "http://127.0.0.1:\(port)/v1/watch?from=\(fleetHead)&timeoutSeconds=1")!)
        let watched = String(decoding: watchData, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONText.parse(Array($0.utf8))
        }
        .filter { $0["type"] == "EVENT" }.compactMap { $0["sequence"]?.intValue }
        precondition(watched == Array(first...last), "the watch stream disagrees with the appends")
        let (healthData, _) = try await session.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        let reportedHead = try JSONText.parse(Array(healthData))["head"]?.intValue
        precondition(reportedHead == last, "the head disagrees")
        rates[mode] = Double(total) / seconds
        rows.append(
            Row(
                measure:
                    "server peak memory on a \(fleetHead)-event fleet log after \(total) requests (\(appended.count) appends) and a watch, \(mode.dropFirst(2))",
                value: String(format: "%.0f MiB", serverPeakMiB()),
                ratio: String(
                    format: "%.0f MiB its own at the end (the rest: the log's mapped pages)",
                    procStatusMiB(server.process.processIdentifier, "RssAnon")),
                target: "-"))
        rows.append(
            Row(
                measure: "server, \(clients) clients x \(requests) fleet changes, \(mode.dropFirst(2))",
                value: rate(total, seconds),
                ratio: mode == "--group-commit"
                    ? "1.00" : String(format: "%.2f of group commit", rates[mode]! / rates["--group-commit"]!),
                target: "group commit faster"))
    }
    return rows
}
