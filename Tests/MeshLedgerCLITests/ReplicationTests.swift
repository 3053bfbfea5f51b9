import AsyncHTTPClient
import EventLog
import Foundation
import LMDBKit
import MeshLedgerTesting
import MeshModel
import NIOCore
import NIOHTTP1
import Testing

/// Three `meshledger serve --etcd-servers` replicas of one log on a 3-member etcd cluster (real
/// processes on free loopback ports, stopped by their process ids).
final class ReplicaSet: @unchecked Sendable {
    let etcd: EtcdCluster
    let names = ["a", "b", "c"]
    let stores: [String]
    let ttl: Int
    private var processes: [ServerProcess?] = [nil, nil, nil]
    private let lock = NSLock()
    /// The replica processes (nil: not running); safe from concurrent clients.
    var replicas: [ServerProcess?] {
        get { lock.withLock { processes } }
        set { lock.withLock { processes = newValue } }
    }
    /// The etcd URLs each replica uses (a relay's, to cut it off).
    var etcdURLs: [String?] = [nil, nil, nil]
    let http = HTTPClient(eventLoopGroupProvider: .singleton)

    /// Arguments every replica gets.
    let extraArguments: [String]

    init(ttl: Int = 3, start: Bool = true, quotaBackendBytes: Int? = nil, arguments: [String] = []) throws {
        etcd = try EtcdCluster(quotaBackendBytes: quotaBackendBytes)
        try etcd.waitHealthy()
        self.ttl = ttl
        extraArguments = arguments
        stores = (0..<3).map { temporaryDirectory("replica\($0)", create: false) }
        if start { for index in 0..<3 { try self.start(index) } }
    }

    func start(_ index: Int) throws {
        replicas[index] = try ServerProcess(
            store: stores[index],
            arguments: [
                "--etcd-servers", etcdURLs[index] ?? etcd.endpoints, "--replica-name", names[index],
                "--lease-ttl-seconds", String(ttl),
            ] + extraArguments)
    }

    /// The replica's URL (a closed port when it is not running).
    func url(_ index: Int) -> String { "http://127.0.0.1:\(replicas[index]?.port ?? 1)" }

    /// SIGKILL by process id.
    func kill(_ index: Int) {
        guard let replica = replicas[index] else { return }
        Glibc.kill(replica.process.processIdentifier, SIGKILL)
        replica.process.waitUntilExit()
        replicas[index] = nil
    }

    /// SIGINT (graceful: a writer resigns) and wait.
    func stop(_ index: Int) {
        replicas[index]?.stop()
        replicas[index] = nil
    }

    func shutdown() {
        for index in 0..<3 { stop(index) }
        try? http.syncShutdown()
        etcd.shutdown()
    }

    deinit { shutdown() }

    /// One request: (status, body as JSON or null).
    func call(
        _ method: String, _ index: Int, _ path: String, body: String? = nil, timeout: Int64 = 20
    ) async
        -> (status: Int, value: JSONValue)
    {
        var request = HTTPClientRequest(url: url(index) + path)
        request.method = .init(rawValue: method)
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        do {
            let response = try await http.execute(request, timeout: .seconds(timeout))
            let bytes = try await response.body.collect(upTo: 64 << 20)
            return (Int(response.status.code), (try? JSONText.parse(Array(bytes.readableBytesView))) ?? .null)
        } catch {
            return (0, .string("\(error)"))
        }
    }

    func health(_ index: Int) async -> JSONValue { await call("GET", index, "/healthz").value }

    /// Waits until the running replicas agree on one writer among them; its index.
    func waitForWriter(timeout: Double = 20) async throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [JSONValue] = []
        while Date() < deadline {
            let running = (0..<3).filter { replicas[$0] != nil }
            last = []
            for index in running { last.append(await health(index)) }
            let writers = Set(last.map { $0["writer"]?.stringValue ?? "" })
            if writers.count == 1, let name = writers.first, let writer = names.firstIndex(of: name),
                running.contains(writer), last.filter({ $0["role"]?.stringValue == "writer" }).count == 1
            {
                return writer
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("no writer agreed on: \(last)")
    }

    /// Waits until every running replica's head is `head` (or all are equal when nil); the head.
    @discardableResult
    func waitForEqualHeads(_ head: UInt64? = nil, timeout: Double = 30) async throws -> UInt64 {
        let deadline = Date().addingTimeInterval(timeout)
        var heads: [UInt64] = []
        while Date() < deadline {
            heads = []
            for index in 0..<3 where replicas[index] != nil {
                heads.append(UInt64(await health(index)["head"]?.intValue ?? -1))
            }
            if Set(heads).count == 1, head == nil || heads[0] == head! { return heads[0] }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("heads did not become equal: \(heads)")
    }

    /// Every store's stats (stopped first: read with the CLI) must agree on the chain and the state.
    func expectIdenticalStores() throws {
        for index in 0..<3 { stop(index) }
        let all = try stores.map { try stats(of: $0) }
        for store in stores {
            let verified = try meshledger(["verify", "--store", store, "--read-only"])
            #expect(verified.status == 0, "verify \(store): \(verified.stdout)\(verified.stderr)")
        }
        #expect(all.allSatisfy { $0["headDigest"] == all[0]["headDigest"] && $0["headDigest"] != nil })
        #expect(all.allSatisfy { $0["stateDigest"] == all[0]["stateDigest"] && $0["stateDigest"] != nil })
        #expect(all.allSatisfy { $0["head"] == all[0]["head"] })
    }
}

/// A Destination (one event), unique by `name`, as a discovery agent reports it.
func destinationManifest(_ name: String, cluster: String = "cluster-1", port: Int = 9080, note: String? = nil) -> String
{
    """
    {"apiVersion": "discovery.mesh.gloo.solo.io/v1alpha2", "kind": "Destination",
     "metadata": {"name": "\(name)", "namespace": "gloo-mesh"},
     "spec": {"kubeService": {"ref": {"name": "\(name)", "namespace": "bookinfo", "clusterName": "\(cluster)"},\(note.map { " \"labels\": {\"note\": \"\($0)\"}," } ?? "")
              "ports": [{"port": \(port), "name": "http", "protocol": "TCP"}]},
              "mesh": {"name": "istiod-istio-system-\(cluster)", "namespace": "gloo-mesh"}}}
    """
}

/// The sequence a successful append answered (its head).
func appended(_ answer: (status: Int, value: JSONValue)) -> UInt64? {
    answer.status == 200 ? answer.value["head"]?.intValue.map { UInt64($0) } : nil
}

@Suite(.serialized, .enabled(if: EtcdCluster.isAvailable, "etcd is not installed (Tools/setup --tests installs it)"))
struct ReplicationTests {
    @Test func writesAnywhereReadYourWritesFailoverAndCatchUp() async throws {
        let set = try ReplicaSet()
        defer { set.shutdown() }
        var writer = try await set.waitForWriter()
        // Topology: one writer, two followers naming it, etcd reachable, no lag.
        for index in 0..<3 {
            let health = await set.health(index)
            #expect(health["role"]?.stringValue == (index == writer ? "writer" : "follower"))
            #expect(health["writer"]?.stringValue == set.names[writer])
            #expect(health["etcd"]?.stringValue == "connected")
            #expect(health["lag"]?.intValue == 0)
        }
        // Read-your-writes: append through one replica, read through the next with minSequence.
        var misses = 0
        for i in 0..<1000 {
            let name = "ryw-\(i)"
            let answer = await set.call(
                "POST", i % 3, "/v1/events?op=discover&actor=agent", body: destinationManifest(name))
            let sequence = try #require(appended(answer), "append \(i): \(answer)")
            let read = await set.call("GET", (i + 1) % 3, "/v1/destinations/gloo-mesh/\(name)?minSequence=\(sequence)")
            if read.status != 200 { misses += 1 }
        }
        #expect(misses == 0)
        // A strong Kubernetes list (no resourceVersion) right after an append elsewhere sees it.
        let answer = await set.call(
            "POST", writer, "/v1/events?op=discover&actor=agent", body: destinationManifest("strong-1"))
        #expect(appended(answer) != nil)
        let list = await set.call(
            "GET", (writer + 1) % 3, "/apis/discovery.mesh.gloo.solo.io/v1alpha2/namespaces/gloo-mesh/destinations")
        #expect(list.status == 200)
        #expect(list.value["items"]?.arrayValue?.contains { $0[path: ["metadata", "name"]] == "strong-1" } == true)

        // A watch held on a follower through the failover gets every event once, in order.
        let watcher = (writer + 1) % 3
        let watchURL = set.url(watcher) + "/v1/watch?from=0&timeoutSeconds=25&bookmarkSeconds=1"
        let watch = Task { () -> [UInt64] in
            var request = HTTPClientRequest(url: watchURL)
            request.method = .GET
            let response = try await set.http.execute(request, timeout: .seconds(40))
            var sequences: [UInt64] = []
            var buffer: [UInt8] = []
            for try await chunk in response.body {
                buffer += chunk.readableBytesView
                while let newline = buffer.firstIndex(of: 10) {
                    let line = Array(buffer[..<newline])
                    buffer.removeSubrange(...newline)
                    if let value = try? JSONText.parse(line), value["type"] == "EVENT",
                        let sequence = value["sequence"]?.intValue
                    {
                        sequences.append(UInt64(sequence))
                    }
                }
            }
            return sequences
        }
        try await Task.sleep(for: .seconds(1))

        // The writer is killed: within the lease TTL plus 2 s a write through a survivor succeeds.
        set.kill(writer)
        let killed = Date()
        var resumed: Double?
        var n = 0
        while resumed == nil && Date().timeIntervalSince(killed) < Double(set.ttl) + 10 {
            n += 1
            let survivor = (writer + 1 + n % 2) % 3
            let answer = await set.call(
                "POST", survivor, "/v1/events?op=discover&actor=agent", body: destinationManifest("after-kill-\(n)"))
            if appended(answer) != nil { resumed = Date().timeIntervalSince(killed) }
            try await Task.sleep(for: .milliseconds(50))
        }
        let took = try #require(resumed)
        #expect(took <= Double(set.ttl) + 2, "appends resumed \(took) s after the writer was killed")
        let old = writer
        try set.start(old)
        writer = try await set.waitForWriter()
        #expect(writer != old)
        let before = try await set.waitForEqualHeads()

        // Catch-up: a follower down for 10,000 events, with etcd compacted past it meanwhile.
        let follower = (0..<3).first { $0 != writer }!
        set.stop(follower)
        for batch in 0..<100 {
            let body = (0..<100).map { destinationManifest("bulk-\(batch)-\($0)") }.joined(separator: "\n---\n")
            let answer = await set.call("POST", writer, "/v1/events?op=discover&actor=agent", body: body)
            #expect(appended(answer) == before + UInt64(batch + 1) * 100, "\(answer.status)")
        }
        let range = try etcdJSON(set.etcd.clientURLs[0], "/v3/kv/range", "{\"key\": \"AA==\"}")
        let revision = try #require(JSONText.parse(Array(range.body.utf8))[path: ["header", "revision"]]?.stringValue)
        let compacted = try etcdJSON(
            set.etcd.clientURLs[0], "/v3/kv/compaction", "{\"revision\": \"\(revision)\", \"physical\": true}")
        #expect(compacted.status == 200)
        let restarted = Date()
        try set.start(follower)
        try await set.waitForEqualHeads(before + 10_000, timeout: 30)
        #expect(Date().timeIntervalSince(restarted) < 30)

        let watched = try await watch.value
        let final = try await set.waitForEqualHeads()
        // The watch ended at its timeout; everything up to there came once and in order.
        #expect(!watched.isEmpty)
        #expect(watched == Array(1...UInt64(watched.count)))
        #expect(UInt64(watched.count) <= final)

        // A CLI write on a replica's directory is refused; reads work.
        set.stop(follower)
        let refused = try meshledger([
            "apply", "--store", set.stores[follower], "-f",
            try write(destinationManifest("cli"), to: temporaryDirectory(), name: "d.json"),
        ])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("is a replica of the log in etcd:/meshledger/default"))
        #expect(try head(of: set.stores[follower]) == final)
        try set.expectIdenticalStores()
    }

    @Test func aCrashUnderLoadLosesNoAcknowledgedAppend() async throws {
        let set = try ReplicaSet()
        defer { set.shutdown() }
        let writer = try await set.waitForWriter()
        let acks = AckLog()
        let start = Date()
        let duration = 24.0
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<64 {
                group.addTask {
                    var attempt = 0
                    while Date().timeIntervalSince(start) < duration {
                        attempt += 1
                        let name = "load-\(client)-\(attempt)"
                        let replica = (client + attempt) % 3
                        guard set.replicas[replica] != nil else { continue }
                        let answer = await set.call(
                            "POST", replica, "/v1/events?op=discover&actor=agent", body: destinationManifest(name),
                            timeout: 15)
                        if let sequence = appended(answer) {
                            await acks.add(name, sequence, at: Date().timeIntervalSince(start))
                        } else {
                            try await Task.sleep(for: .milliseconds(50))
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                let leader = try set.etcd.leader()
                set.etcd.kill(leader)
                try await Task.sleep(for: .seconds(5))
                set.kill(writer)
                await acks.mark(Date().timeIntervalSince(start))
                try await Task.sleep(for: .seconds(6))
                try set.etcd.restart(leader)
                try set.start(writer)
            }
            try await group.waitForAll()
        }
        let all = await acks.all
        #expect(all.count > 500, "\(all.count) appends acknowledged")
        // Appends resumed within the lease TTL + 2 s of the writer's death.
        let killedAt = try #require(await acks.killedAt)
        let firstAfter = try #require(all.map(\.time).filter { $0 > killedAt }.min())
        #expect(firstAfter - killedAt <= Double(set.ttl) + 2, "resumed \(firstAfter - killedAt) s after the kill")
        // No sequence acknowledged twice.
        #expect(Set(all.map(\.sequence)).count == all.count)
        let head = try await set.waitForEqualHeads()
        try set.expectIdenticalStores()
        // Every acknowledged append is in the (identical) logs at its sequence.
        let log = try meshledger(["log", "--store", set.stores[0], "--read-only", "-o", "jsonl"])
        var names: [UInt64: String] = [:]
        for line in log.stdout.split(separator: "\n") {
            let value = try JSONText.parse(Array(line.utf8))
            if let sequence = value["sequence"]?.intValue { names[UInt64(sequence)] = value["name"]?.stringValue }
        }
        #expect(UInt64(names.count) == head)
        #expect(all.filter { names[$0.sequence] != $0.name }.isEmpty)
    }

    @Test func aMinorityRefusesWritesAndHealsWithoutARestart() async throws {
        let set = try ReplicaSet()
        defer { set.shutdown() }
        _ = try await set.waitForWriter()
        for index in 0..<3 {
            #expect(
                appended(
                    await set.call(
                        "POST", index, "/v1/events?op=discover&actor=agent",
                        body: destinationManifest("before-\(index)")))
                    != nil)
        }
        let head = try await set.waitForEqualHeads()
        let stopped = [0, 1]
        for member in stopped { set.etcd.stop(member) }
        try await Task.sleep(for: .milliseconds(1500))
        // A write whose txn reached etcd unanswered has an unknown outcome (etcd keeps the
        // proposal and may commit it once it has a quorum), and its answer says so.
        var outcomeUnknown = Set<String>()
        for index in 0..<3 {
            let started = Date()
            let answer = await set.call(
                "POST", index, "/v1/events?op=discover&actor=agent", body: destinationManifest("during-\(index)"))
            #expect(answer.status == 503, "\(answer)")
            if answer.value["error"]?.stringValue?.contains("outcome of this append is unknown") == true {
                outcomeUnknown.insert("during-\(index)")
            }
            #expect(Date().timeIntervalSince(started) <= 10)
            let local = await set.call("GET", index, "/v1/destinations")
            #expect(local.status == 200)
        }
        let strong = await set.call("GET", 2, "/v1/destinations?consistency=strong")
        #expect(strong.status == 503)
        for member in stopped { set.etcd.resume(member) }
        for index in 0..<3 {
            let healed = Date()
            var ok = false
            while !ok && Date().timeIntervalSince(healed) < 10 {
                ok =
                    appended(
                        await set.call(
                            "POST", index, "/v1/events?op=discover&actor=agent",
                            body: destinationManifest("after-\(index)")
                        )) != nil
                if !ok { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(ok, "replica \(index) takes writes again")
        }
        // The three later writes were appended; of the writes refused during the minority, only
        // one answered "outcome unknown" may have come in later.
        let final = try await set.waitForEqualHeads()
        try set.expectIdenticalStores()
        let log = try meshledger(["log", "--store", set.stores[0], "--read-only", "-o", "jsonl"])
        let late = (0..<3).map { "during-\($0)" }.filter { log.stdout.contains("\"\($0)\"") }
        #expect(Set(late).isSubset(of: outcomeUnknown), "refused writes appended later: \(late)")
        #expect(final == head + 3 + UInt64(late.count))
    }

    @Test func aWriterCutOffFromEtcdIsReplacedAndCatchesUpAfterwards() async throws {
        let set = try ReplicaSet(start: false)
        defer { set.shutdown() }
        let relays = try set.etcd.clientURLs.map { try TCPRelay(target: String($0.dropFirst("http://".count))) }
        set.etcdURLs[0] = relays.map(\.url).joined(separator: ",")
        try set.start(0)
        #expect(try await set.waitForWriter() == 0)
        try set.start(1)
        try set.start(2)
        #expect(try await set.waitForWriter() == 0)
        #expect(
            appended(await set.call("POST", 1, "/v1/events?op=discover&actor=agent", body: destinationManifest("one")))
                != nil)
        // Unknown outcome: etcd's answer to the writer's txn comes after its 3 s timeout; the
        // writer reads the head (answered at once by then), finds its own entry, and says 200.
        for relay in relays { relay.delay = 4 }
        let late = Task {
            await set.call("POST", 0, "/v1/events?op=discover&actor=agent", body: destinationManifest("late"))
        }
        try await Task.sleep(for: .milliseconds(2500))
        for relay in relays { relay.delay = 0 }
        let lateAnswer = await late.value
        #expect(appended(lateAnswer) == 2, "\(lateAnswer)")
        try await set.waitForEqualHeads(2)
        for relay in relays { relay.cut() }
        let cut = Date()
        // The cut-off writer refuses writes; the others elect a new writer within TTL + 2 s.
        let refused = await set.call(
            "POST", 0, "/v1/events?op=discover&actor=agent", body: destinationManifest("refused"))
        #expect(refused.status == 503, "\(refused)")
        var elected: Int?
        while elected == nil && Date().timeIntervalSince(cut) < Double(set.ttl) + 5 {
            let health = await set.health(1)
            if let name = health["writer"]?.stringValue, name != "a", health["etcd"] == "connected" {
                elected = set.names.firstIndex(of: name)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let newWriter = try #require(elected)
        #expect(Date().timeIntervalSince(cut) <= Double(set.ttl) + 2)
        // Replica 1 saw the election; replica 2 may learn of it a moment later and answer 503 (no
        // writer) until then, as a client would see it: it retries for a few seconds.
        var two = await set.call("POST", 2, "/v1/events?op=discover&actor=agent", body: destinationManifest("two"))
        let retriedUntil = Date().addingTimeInterval(5)
        while two.status == 503 && Date() < retriedUntil {
            try await Task.sleep(for: .milliseconds(200))
            two = await set.call("POST", 2, "/v1/events?op=discover&actor=agent", body: destinationManifest("two"))
        }
        #expect(appended(two) != nil, "\(two)")
        #expect(await set.health(0)["role"]?.stringValue != "writer")
        for relay in relays { relay.heal() }
        #expect(try await set.waitForWriter() == newWriter)
        try await set.waitForEqualHeads(timeout: 15)
        try set.expectIdenticalStores()
        let log = try meshledger(["log", "--store", set.stores[0], "--read-only", "-o", "jsonl"])
        #expect(!log.stdout.contains("refused"))
        let lateEvents = try log.stdout.split(separator: "\n").filter {
            try JSONText.parse(Array($0.utf8))["name"] == "late"
        }
        #expect(lateEvents.count == 1)
        for relay in relays { relay.close() }
    }
}

extension ReplicationTests {
    @Test func aForkedOrTrimmedReplicaStopsAndSaysWhyWhileTheOthersGoOn() async throws {
        let set = try ReplicaSet()
        defer { set.shutdown() }
        let writer = try await set.waitForWriter()
        let forked = (writer + 1) % 3
        let trimmed = (writer + 2) % 3
        for i in 0..<5 {
            #expect(
                appended(
                    await set.call(
                        "POST", i % 3, "/v1/events?op=discover&actor=agent", body: destinationManifest("d\(i)"))) != nil
            )
        }
        try await set.waitForEqualHeads(5)
        set.stop(forked)
        set.stop(trimmed)
        // The forked replica's event 5 is replaced by a different, self-consistent record.
        do {
            let log = try EventLog.open(at: set.stores[forked])
            let events = log.environment.database("events")
            let original = try #require(
                try log.environment.read { txn throws in try txn.get(events, EventLog.sequenceKey(5)) })
            var forged = try EventCodec.decode(original)
            forged.actor = "mallory"
            try log.environment.write { txn throws in
                try txn.put(events, EventLog.sequenceKey(5), EventCodec.encode(forged).record)
            }
        }
        for i in 5..<10 {
            #expect(
                appended(
                    await set.call(
                        "POST", writer, "/v1/events?op=discover&actor=agent", body: destinationManifest("d\(i)")))
                    != nil)
        }
        try set.start(forked)
        var healthForked = JSONValue.null
        let forkDeadline = Date().addingTimeInterval(10)
        while Date() < forkDeadline && healthForked["error"] == nil {
            healthForked = await set.health(forked)
            try await Task.sleep(for: .milliseconds(100))
        }
        // etcd's window is trimmed below event 8: the trimmed replica (at 5) cannot catch up from it.
        let prefix = "/meshledger/default/log/"
        let trim = String(repeating: "0", count: 19) + "8"
        let deleted = try etcdJSON(
            set.etcd.clientURLs[0], "/v3/kv/deleterange",
            "{\"key\": \"\(Data((prefix).utf8).base64EncodedString())\", \"range_end\": \"\(Data((prefix + trim).utf8).base64EncodedString())\"}"
        )
        #expect(deleted.status == 200)
        try set.start(trimmed)
        var healthTrimmed = JSONValue.null
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && healthTrimmed["error"] == nil {
            healthTrimmed = await set.health(trimmed)
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(healthForked["status"] == "failed")
        #expect(
            healthForked["error"]?.stringValue?.contains("replicated event 6 does not chain to event 5") == true,
            "\(healthForked)")
        #expect(await set.call("GET", forked, "/healthz").status == 503)
        #expect(
            healthTrimmed["error"]?.stringValue?.contains("etcd's log starts at 8 (trimmed)") == true,
            "\(healthTrimmed)")
        #expect(healthTrimmed["error"]?.stringValue?.contains("backup") == true)
        // Neither serves past what it verified, nor takes writes; the writer goes on.
        #expect(await set.health(forked)["head"] == 5)
        #expect(await set.health(trimmed)["head"] == 5)
        #expect(
            await set.call("POST", forked, "/v1/events?op=discover&actor=agent", body: destinationManifest("x")).status
                == 503)
        #expect(
            appended(
                await set.call("POST", writer, "/v1/events?op=discover&actor=agent", body: destinationManifest("d10")))
                == 11)
    }

    @Test func etcdKeepsAWindowUnderHalfItsQuotaWhileEveryReplicaKeepsAll() async throws {
        // Scaled for CI: 20,000 events of about 3.5 KB (about 80 MB in etcd if nothing were
        // trimmed) against a 64 MiB quota, etcd keeping 2,000.
        let quota = 64 << 20
        let set = try ReplicaSet(quotaBackendBytes: quota, arguments: ["--etcd-keep-events", "2000"])
        defer { set.shutdown() }
        let writer = try await set.waitForWriter()
        let note = String(repeating: "n", count: 3000)
        for batch in 0..<20 {
            let body = (0..<1000).map { destinationManifest("keep-\(batch)-\($0)", note: note) }
                .joined(separator: "\n---\n")
            let answer = await set.call(
                "POST", (writer + batch % 2) % 3, "/v1/events?op=discover&actor=agent", body: body)
            #expect(appended(answer) == UInt64(batch + 1) * 1000, "batch \(batch): \(answer.status) \(answer.value)")
            if appended(answer) == nil { break }
        }
        try await set.waitForEqualHeads(20_000, timeout: 60)
        try await Task.sleep(for: .seconds(2))  // the last trim's compaction and defragmentation
        for url in set.etcd.clientURLs {
            let status = try JSONText.parse(Array(try etcdJSON(url, "/v3/maintenance/status", "{}").body.utf8))
            let size = Int(status["dbSize"]?.stringValue ?? "") ?? Int.max
            #expect(size < quota / 2, "etcd at \(url): \(size) bytes")
        }
        let alarms = try etcdJSON(set.etcd.clientURLs[0], "/v3/maintenance/alarm", "{\"action\": \"GET\"}")
        #expect(!alarms.body.contains("NOSPACE"))
        // etcd no longer has the first entries; every replica still has every event.
        let first = try etcdJSON(
            set.etcd.clientURLs[0], "/v3/kv/range",
            "{\"key\": \"\(Data("/meshledger/default/log/".utf8).base64EncodedString())\", \"range_end\": \"\(Data("/meshledger/default/log0".utf8).base64EncodedString())\", \"limit\": \"1\", \"keys_only\": true}"
        )
        let key = try JSONText.parse(Array(first.body.utf8))["kvs"]?.arrayValue?.first?["key"]?.stringValue
        let firstKey = key.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(UInt64(firstKey.suffix(20)) ?? 0 > 10_000, "etcd's first entry: \(firstKey)")
        try set.expectIdenticalStores()
        for store in set.stores {
            #expect(try head(of: store) == 20_000)
            let oldest = try meshledger([
                "log", "--store", store, "--read-only", "--since", "1", "--until", "1", "-o", "jsonl",
            ])
            #expect(
                oldest.stdout.hasPrefix("{") && oldest.stdout.contains("\"sequence\":1,"),
                "\(oldest.stdout.prefix(200))")
        }
    }

    @Test func sizeLimitsOfOneReplicatedEntry() async throws {
        let set = try ReplicaSet()
        defer { set.shutdown() }
        let writer = try await set.waitForWriter()
        let follower = (writer + 1) % 3
        func destinations(_ count: Int, bytes: Int, tag: String) -> String {
            let note = String(repeating: "x", count: bytes)
            return (0..<count).map { destinationManifest("\(tag)-\($0)", note: note) }.joined(separator: "\n---\n")
        }
        // A 6 MiB batch (through a follower) and a 3 MiB object append.
        let six = await set.call(
            "POST", follower, "/v1/events?op=discover&actor=agent", body: destinations(6, bytes: 1 << 20, tag: "six"))
        #expect(appended(six) == 6, "\(six.status) \(six.value)")
        let three = await set.call(
            "POST", writer, "/v1/events?op=discover&actor=agent", body: destinations(1, bytes: 3_000_000, tag: "three"))
        #expect(appended(three) == 7, "\(three.status)")
        // A request whose records exceed 7 MiB: 413, nothing appended.
        let big = await set.call(
            "POST", follower, "/v1/events?op=discover&actor=agent", body: destinations(3, bytes: 2_600_000, tag: "big"))
        #expect(big.status == 413, "\(big.status) \(big.value)")
        try await set.waitForEqualHeads(7)
        try set.expectIdenticalStores()
    }
}

/// The acknowledged appends of a load run.
actor AckLog {
    struct Ack {
        let name: String
        let sequence: UInt64
        let time: Double
    }
    private(set) var all: [Ack] = []
    private(set) var killedAt: Double?
    func add(_ name: String, _ sequence: UInt64, at time: Double) {
        all.append(Ack(name: name, sequence: sequence, time: time))
    }
    func mark(_ time: Double) { killedAt = time }
}
