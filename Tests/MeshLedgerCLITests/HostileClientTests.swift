import Foundation
import MeshLedgerTesting
import MeshModel
import Testing

/// The hostile client suite: a real `meshledger serve` over TLS with tokens and ABAC, and the
/// requests a hostile but ordinary user sends. After each, the server is the same process, still
/// answers, and a refused request appended nothing; at the end its memory has not grown with the
/// number of hostile requests, and `verify` passes.
@Suite(.serialized) struct HostileClientTests {
    /// The resident memory of a process, in bytes (from /proc).
    static func residentBytes(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    @Test func theServerOutlivesEveryHostileRequest() throws {
        let fx = try KubeFixture(extra: ["--max-watchers", "8"])
        let pid = fx.server.process.processIdentifier
        let vds = "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/namespaces/bookinfo/virtualdestinations"
        let applied = try fx.curl(
            "POST", "/v1/events?op=apply", token: "alice-token",
            body: try String(contentsOfFile: fx.fleet + "/user/virtualdestinations.yaml", encoding: .utf8))
        #expect(applied.code == 200, "\(applied.body)")
        for _ in 0..<20 { _ = try fx.curl("GET", vds, token: "reader-token") }
        let fresh = Self.residentBytes(pid)
        let head = try fx.head()

        /// Checks after each probe: the same process answers, nothing was appended.
        func stillStanding(_ probe: String) throws {
            #expect(fx.server.process.isRunning, "the server died on \(probe)")
            #expect(try fx.curl("GET", "/healthz").code == 200, "no answer after \(probe)")
            #expect(try fx.head() == head, "\(probe) appended")
        }

        let max = "18446744073709551615"
        let numbers = [
            vds + "?watch=1&timeoutSeconds=nan", vds + "?watch=1&timeoutSeconds=-1e300",
            vds + "?watch=1&resourceVersion=\(max)", "/v1/watch?bookmarkSeconds=inf", "/v1/watch?from=\(max)",
            "/v1/virtualdestinations?at=999999999999d", "/v1/log?since=999999999999d",
            "/v1/outputs?at=999999999999d",
            "/v1/virtualdestinations/bookinfo/reviews-global/history?since=999999999999d",
            "/apis/networking.istio.io/v1alpha3/serviceentries?watch=1&timeoutSeconds=nan",
            vds + "?resourceVersion=1&resourceVersionMatch=Bogus", vds + "?labelSelector=!!!",
            vds + "?limit=99999999999999999999",
        ]
        for path in numbers {
            let answer = try fx.curl("GET", path, token: "reader-token")
            #expect([400, 413, 422, 504].contains(answer.code), "\(path): \(answer.code) \(answer.body)")
            try stillStanding(path)
        }

        var bomb = "a0: &a0 \"\(String(repeating: "x", count: 100))\"\n"
        for level in 1...7 {
            bomb += "a\(level): &a\(level) [\(Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ","))]\n"
        }
        let aliases = try fx.curl("POST", "/v1/events?op=apply", token: "alice-token", body: bomb)
        #expect(aliases.code == 413, "\(aliases.body)")
        try stillStanding("a YAML alias bomb")
        let applyBomb = try fx.curl(
            "PATCH", vds + "/bomb?fieldManager=x", token: "alice-token",
            body: "apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1\nkind: VirtualDestination\n" + bomb,
            contentType: "application/apply-patch+yaml")
        #expect(applyBomb.code == 413, "\(applyBomb.body)")
        try stillStanding("a server-side apply alias bomb")
        let copies = (0..<40).map { "{\"op\":\"copy\",\"from\":\"/spec\",\"path\":\"/spec/c\($0)\"}" }
        let doubling = try fx.curl(
            "PATCH", vds + "/reviews-global", token: "alice-token", body: "[\(copies.joined(separator: ","))]",
            contentType: "application/json-patch+json")
        #expect(doubling.code == 413, "\(doubling.body)")
        try stillStanding("a JSON patch of copies")
        let deep = try fx.curl(
            "POST", "/v1/events?op=apply", token: "alice-token",
            body: "a: " + String(repeating: "[", count: 100_000))
        #expect(deep.code == 400, "\(deep.body)")
        try stillStanding("100,000 levels of YAML nesting")

        // Watch slots: a reader that opens every slot with watches that never send anything (a
        // selector matching nothing) and drops them cannot lock the others out.
        func hogEverySlot() throws -> [Process] {
            var hogs: [Process] = []
            for _ in 0..<8 {
                let hog = Process()
                hog.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                hog.arguments = [
                    "curl", "-s", "-o", "/dev/null", "-m", "5", "--cacert", fx.certificates.caCertificate, "-H",
                    "Authorization: Bearer reader-token", fx.url + vds + "?watch=1&labelSelector=app%3Dnothing",
                ]
                try hog.run()
                hogs.append(hog)
            }
            // Until all eight stream (the server's gauge of open watch streams says so).
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                let metrics = try fx.curl("GET", "/metrics", token: "alice-token").body
                let gauge = metrics.split(separator: "\n").first { $0.hasPrefix("meshledger_watchers ") }
                if let value = gauge?.split(separator: " ").last.flatMap({ Double($0) }), value >= 8 { break }
                usleep(100_000)
            }
            return hogs
        }
        var hogs = try hogEverySlot()
        #expect(try fx.curl("GET", "/v1/watch?timeoutSeconds=0.1", token: "reader-token").code == 429)
        for hog in hogs { hog.waitUntilExit() }
        // Their connections are gone: within a wake of the watch loop, their slots are free.
        var reopened = 0
        var last = ""
        for _ in 0..<50 where reopened == 0 {
            usleep(100_000)
            let answer = try fx.curl("GET", "/v1/watch?timeoutSeconds=0.1", token: "reader-token")
            if answer.code == 200 { reopened += 1 } else { last = "\(answer.code) \(answer.body)" }
        }
        #expect(reopened == 1, "the slots of closed connections are given back: \(last)")
        // Another caller gets a slot while they are all taken (the largest holder gives one up).
        hogs = try hogEverySlot()
        let fair = try fx.curl("GET", vds + "?watch=1&timeoutSeconds=1", token: "alice-token")
        #expect(fair.code == 200, "\(fair.code) \(fair.body)")
        for hog in hogs { hog.waitUntilExit() }
        try stillStanding("watch slot exhaustion")

        // Many more of the same hostile requests do not grow the server's memory.
        for _ in 0..<5 {
            _ = try fx.curl("POST", "/v1/events?op=apply", token: "alice-token", body: bomb)
            _ = try fx.curl(
                "PATCH", vds + "/reviews-global", token: "alice-token", body: "[\(copies.joined(separator: ","))]",
                contentType: "application/json-patch+json")
        }
        try stillStanding("repeated bombs")
        let after = Self.residentBytes(pid)
        #expect(fresh > 0)
        #expect(after <= Swift.max(2 * fresh, fresh + (64 << 20)), "resident memory \(fresh) -> \(after) bytes")
        #expect(fx.server.process.processIdentifier == pid)
        fx.server.stop()
        let verified = try meshledger(["verify", "--store", fx.store])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
    }

    /// The command line reads the same points of history: a duration that does not fit is an
    /// error line and exit 1, not a trap.
    @Test func theCommandLineRefusesPointsThatDoNotFit() throws {
        let store = temporaryDirectory() + "/store"
        let discovered = try meshledger(
            ["discover", "--store", store, "-f", packageRoot + "/Examples/fleet/discovery/cluster-1.yaml"])
        #expect(discovered.status == 0)
        for arguments in [
            ["log", "--since", "999999999999d"], ["log", "--until", "9223372036854775807s"],
            ["get", "vd", "-A", "--at", "999999999999d"], ["outputs", "--at", "2562047788015216h1h"],
        ] {
            let result = try meshledger(arguments + ["--store", store])
            #expect(result.status == 1, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.hasPrefix("error: "), "\(arguments): \(result.stderr)")
        }
    }

    /// Seconds until the server closes a connection that sends `bytes` and then nothing (nil: still
    /// open after 10 s), measured by a raw socket.
    static func secondsUntilClosed(port: Int, sending bytes: String) throws -> Double? {
        let script = """
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(sys.argv[2].encode())
            s.settimeout(10)
            start = time.time()
            try:
                while s.recv(4096):
                    pass
                print(time.time() - start)
            except socket.timeout:
                print("open")
            """
        let result = try runProgram("python3", ["-c", script, String(port), bytes])
        return Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Slow or silent clients are cut off: a TLS handshake that never comes, a header sent in part,
    /// an idle connection; a watch stream in progress is not idle.
    @Test func silentAndSlowConnectionsAreClosed() throws {
        let fx = try KubeFixture(extra: ["--connection-idle-seconds", "1", "--tls-handshake-seconds", "1"])
        let silent = try Self.secondsUntilClosed(port: fx.server.port, sending: "")
        #expect(
            silent.map { $0 < 5 } == true,
            "a connection that never starts its TLS handshake: \(String(describing: silent))")
        let plain = try ServerProcess(
            store: temporaryDirectory() + "/store", arguments: ["--connection-idle-seconds", "1"])
        let partial = try Self.secondsUntilClosed(port: plain.port, sending: "GET /healthz HTTP/1.1\r\nHost: x\r\n")
        #expect(partial.map { $0 < 5 } == true, "a header sent in part: \(String(describing: partial))")
        let idle = try Self.secondsUntilClosed(port: plain.port, sending: "")
        #expect(idle.map { $0 < 5 } == true, "an idle connection: \(String(describing: idle))")
        // A watch longer than the idle timeout runs to its end.
        let began = Date()
        let lines = try plain.watch(from: 0, timeout: 3)
        #expect(Date().timeIntervalSince(began) >= 2.5)
        #expect(lines.last?["type"] == "BOOKMARK")
        #expect(try fx.curl("GET", "/healthz").code == 200)
        for (flag, value) in [
            ("--connection-idle-seconds", "nan"), ("--max-watch-seconds", "-1"), ("--max-watch-seconds", "0.005"),
        ] {
            let refused = try meshledger(["serve", "--store", temporaryDirectory() + "/refused", "\(flag)=\(value)"])
            #expect(refused.status == 1 && refused.stderr.contains(flag), "\(refused.stderr)")
        }
    }

    /// The CPU time (user and system) a process has used, in clock ticks (from /proc).
    static func cpuTicks(_ pid: Int32) -> Int {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 12 else { return 0 }
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    /// Reads whose HTTP/2 streams are reset stop: six histories of a 20,000-event log abandoned
    /// after 0.3 s cost far less than six histories, instead of each replaying to its end.
    @Test func readsWhoseStreamIsResetStop() throws {
        let directory = temporaryDirectory()
        let fleetgen = URL(fileURLWithPath: meshledgerBinary).deletingLastPathComponent().appendingPathComponent(
            "fleetgen"
        ).path
        let generated = try runProgram(fleetgen, ["--churn", "20000", "-o", directory + "/fleet"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let store = directory + "/store"
        for arguments in [
            ["discover", "-f", directory + "/fleet/discovery/"], ["apply", "-f", directory + "/fleet/user/"],
            ["ingest", "-f", directory + "/fleet/watch/churn.json"],
        ] {
            let result = try meshledger(arguments + ["--store", store])
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
        let certificates = try TestCertificates()
        let server = try ServerProcess(
            store: store,
            arguments: [
                "--tls-cert-file", certificates.serverCertificate, "--tls-private-key-file", certificates.serverKey,
            ])
        let pid = server.process.processIdentifier
        let history = "https://127.0.0.1:\(server.port)/v1/virtualdestinations/team-0/vd-0/history"
        func settledTicks() -> Int {
            var last = Self.cpuTicks(pid)
            while true {
                usleep(1_000_000)
                let now = Self.cpuTicks(pid)
                if now - last < 10 { return now }
                last = now
            }
        }
        let start = settledTicks()
        let full = try runProgram(
            "curl",
            ["-s", "--http2", "--cacert", certificates.caCertificate, "-o", "/dev/null", "-w", "%{http_code}", history])
        #expect(full.stdout == "200")
        let afterOne = settledTicks()
        let one = afterOne - start
        var resets: [Process] = []
        for _ in 0..<6 {
            let reset = Process()
            reset.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            reset.arguments = [
                "curl", "-s", "--http2", "--cacert", certificates.caCertificate, "-m", "0.3", "-o", "/dev/null",
                history,
            ]
            try reset.run()
            resets.append(reset)
        }
        for reset in resets { reset.waitUntilExit() }
        let six = settledTicks() - afterOne
        #expect(one > 50, "one history costs \(one) ticks: too little to tell")
        // Not cancelled, they cost 2.5-6 times one history here; cancelled, under one.
        #expect(2 * six < 3 * one, "six reset histories cost \(six) ticks, one whole history \(one)")
        #expect(server.process.isRunning)
    }
}
