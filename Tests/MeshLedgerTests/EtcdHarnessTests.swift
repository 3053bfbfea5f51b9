import Foundation
import MeshLedgerTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The etcd test harness itself: a real 3-member cluster, a relay in front of it, a leader killed
/// and restarted, and no process left behind.
@Suite(.enabled(if: EtcdCluster.isAvailable, "etcd is not installed (Tools/setup --tests installs it)"))
struct EtcdHarnessTests {
    /// Base64 of `text`.
    private func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// Whether process `pid` is gone (no zombie either).
    private func isGone(_ pid: Int32) -> Bool { kill(pid, 0) == -1 && errno == ESRCH }

    @Test func aClusterSurvivesItsLeadersDeathAndLeavesNoProcessBehind() throws {
        let cluster = try EtcdCluster()
        defer { cluster.shutdown() }
        try cluster.waitHealthy()
        #expect(cluster.clientURLs.count == 3)
        #expect(cluster.endpoints == cluster.clientURLs.joined(separator: ","))
        #expect(!cluster.clientURLs.contains { $0.hasSuffix(":2379") || $0.hasSuffix(":2380") })

        // A put through the relay, read back directly.
        let relay = try TCPRelay(target: String(cluster.clientURLs[0].dropFirst("http://".count)))
        defer { relay.close() }
        let put = try etcdJSON(
            relay.url, "/v3/kv/put", "{\"key\": \"\(base64("harness"))\", \"value\": \"\(base64("one"))\"}")
        #expect(put.status == 200, "\(put)")
        let range = try etcdJSON(cluster.clientURLs[2], "/v3/kv/range", "{\"key\": \"\(base64("harness"))\"}")
        #expect(range.status == 200)
        #expect(range.body.contains(base64("one")), "\(range.body)")

        // Cut: refused at once; healed: the same port relays again.
        relay.cut()
        let refused = try etcdJSON(relay.url, "/v3/kv/range", "{\"key\": \"\(base64("harness"))\"}")
        #expect(refused.status == 0)
        relay.heal()
        let healed = try etcdJSON(relay.url, "/v3/kv/range", "{\"key\": \"\(base64("harness"))\"}")
        #expect(healed.status == 200 && healed.body.contains(base64("one")), "\(healed)")

        // Delayed answers arrive late, but arrive.
        relay.delay = 0.3
        let started = Date()
        let delayed = try etcdJSON(relay.url, "/v3/kv/range", "{\"key\": \"\(base64("harness"))\"}")
        #expect(delayed.status == 200)
        #expect(Date().timeIntervalSince(started) >= 0.3)
        relay.delay = 0

        // The leader dies: the other two elect one of them, and still serve writes.
        let leader = try cluster.leader()
        cluster.kill(leader)
        #expect(!cluster.isRunning(leader))
        #expect(isGone(cluster.pid(of: leader)))
        try cluster.waitHealthy(timeout: 10)
        let next = try cluster.leader()
        #expect(next != leader)
        let survivor = (0..<3).first { $0 != leader }!
        let second = try etcdJSON(
            cluster.clientURLs[survivor], "/v3/kv/put",
            "{\"key\": \"\(base64("harness"))\", \"value\": \"\(base64("two"))\"}")
        #expect(second.status == 200, "\(second)")

        // It comes back on its data directory and catches up.
        let oldPID = cluster.pid(of: leader)
        try cluster.restart(leader)
        #expect(cluster.isRunning(leader))
        #expect(cluster.pid(of: leader) != oldPID)
        var caughtUp = false
        let deadline = Date().addingTimeInterval(5)
        while !caughtUp && Date() < deadline {
            let answer = try etcdJSON(
                cluster.clientURLs[leader], "/v3/kv/range",
                "{\"key\": \"\(base64("harness"))\", \"serializable\": true}")
            caughtUp = answer.body.contains(base64("two"))
            if !caughtUp { usleep(50_000) }
        }
        #expect(caughtUp)

        // A stopped member is skipped; resumed, it answers again.
        cluster.stop(survivor)
        try cluster.waitHealthy(timeout: 10)
        cluster.resume(survivor)
        try cluster.waitHealthy(timeout: 10)

        let pids = (0..<3).map { cluster.pid(of: $0) }
        let directory = cluster.directory
        cluster.shutdown()
        cluster.shutdown()
        #expect(pids.allSatisfy(isGone), "\(pids)")
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}
