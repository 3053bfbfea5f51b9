import Foundation
import MeshLedgerTesting
import MeshModel
import Testing

/// A MeshLedger server over TLS with tokens, client certificates and ABAC policies, and the
/// clients of its users: the real kubectl, the official Python client, kopf, curl.
final class KubeFixture {
    let directory = temporaryDirectory("kube")
    let certificates: TestCertificates
    private(set) var server: ServerProcess
    let serverArguments: [String]
    var store: String { server.store }
    var url: String { "https://127.0.0.1:\(server.port)" }
    let fleet = packageRoot + "/Examples/fleet"

    /// Tokens: alice (platform team, everything), agent (discovery only), reader (read-only),
    /// operator (the kopf operator, everything on VirtualDestinations).
    static let tokens = """
        alice-token,alice,1,"platform"
        agent-token,agent-cluster-1,2,"discovery-agents"
        reader-token,rita,3
        operator-token,kopf-operator,4,"operators"
        """
    static let policies = """
        {"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "platform", "namespace": "*", "resource": "*", "apiGroup": "*", "nonResourcePath": "*"}}
        {"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "discovery-agents", "namespace": "*", "resource": "*", "apiGroup": "discovery.mesh.gloo.solo.io"}}
        {"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "discovery-agents", "readonly": true, "nonResourcePath": "*"}}
        {"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "rita", "readonly": true, "namespace": "*", "resource": "*", "apiGroup": "*", "nonResourcePath": "*"}}
        {"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "operators", "namespace": "*", "resource": "*", "apiGroup": "*", "nonResourcePath": "*"}}
        {"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "carol", "namespace": "*", "resource": "*", "apiGroup": "*", "nonResourcePath": "*"}}
        """

    init(extra: [String] = []) throws {
        certificates = try TestCertificates()
        let store = directory + "/store"
        let discovered = try meshledger(
            ["discover", "--store", store, "--agent", "agent-cluster-1"]
                + ["cluster-1", "cluster-2", "cluster-3"].flatMap {
                    ["-f", "\(packageRoot)/Examples/fleet/discovery/\($0).yaml"]
                })
        guard discovered.status == 0 else { throw TestFailure("discover: \(discovered.stderr)") }
        try Self.tokens.write(toFile: directory + "/tokens.csv", atomically: true, encoding: .utf8)
        try Self.policies.write(toFile: directory + "/policy.jsonl", atomically: true, encoding: .utf8)
        serverArguments = [
            "--tls-cert-file", certificates.serverCertificate, "--tls-private-key-file", certificates.serverKey,
            "--client-ca-file", certificates.caCertificate, "--token-auth-file", directory + "/tokens.csv",
            "--authorization-policy-file", directory + "/policy.jsonl",
        ]
        server = try ServerProcess(store: store, arguments: serverArguments + extra)
    }

    /// Stops the server, runs `whileStopped`, and starts it again on the same port with `extra`
    /// arguments.
    func restart(extra: [String] = [], whileStopped: () throws -> Void = {}) throws {
        let port = server.port
        server.stop()
        try whileStopped()
        server = try ServerProcess(
            store: store, arguments: serverArguments + extra, listen: "127.0.0.1:\(port)")
    }

    /// A kubeconfig (made by `meshledger kubeconfig`) for a token, or a client certificate.
    func kubeconfig(token: String? = nil, certificate: (String, String)? = nil) throws -> String {
        let path = directory + "/kubeconfig-\(UUID().uuidString)"
        var arguments = [
            "kubeconfig", "--server", url, "--certificate-authority", certificates.caCertificate, "-n", "bookinfo",
        ]
        if let token {
            let file = directory + "/\(token).token"
            try token.write(toFile: file, atomically: true, encoding: .utf8)
            arguments += ["--token-file", file]
        }
        if let (cert, key) = certificate { arguments += ["--client-cert", cert, "--client-key", key] }
        let result = try meshledger(arguments)
        guard result.status == 0 else { throw TestFailure("kubeconfig: \(result.stderr)") }
        try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs kubectl with a kubeconfig (and a private HOME, so no discovery cache is shared).
    func kubectl(_ config: String, _ arguments: [String], stdin: String? = nil) throws -> RunResult {
        try runProgram(
            "kubectl", arguments, stdin: stdin.map { Data($0.utf8) },
            environment: ["KUBECONFIG": config, "HOME": directory])
    }

    /// curl over TLS to the server: (exit status, HTTP status, body).
    func curl(
        _ method: String, _ path: String, token: String? = nil, body: String? = nil, contentType: String? = nil
    )
        throws -> (status: Int32, code: Int, body: String)
    {
        var arguments = [
            "-s", "--cacert", certificates.caCertificate, "-X", method, "-w", "\n%{http_code}", url + path,
        ]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let contentType { arguments += ["-H", "Content-Type: \(contentType)"] }
        if body != nil { arguments += ["--data-binary", "@-"] }
        let result = try runProgram("curl", arguments, stdin: body.map { Data($0.utf8) })
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (result.status, Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func head() throws -> UInt64 { try MeshLedgerCLITests.head(of: store) }
}

/// Lines a reader thread collects.
final class Lines: @unchecked Sendable {
    // @unchecked Sendable: guarded by the lock.
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

/// Reads a process's output line by line on a thread; the process is terminated (by its
/// process object) when the watcher is released.
final class LineWatcher {
    private let lines = Lines()
    let process: Process

    init(_ executable: String, _ arguments: [String], environment: [String: String]) throws {
        process = makeProcess(executable, arguments, environment: environment)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let handle = out.fileHandleForReading
        let lines = self.lines
        Thread {
            var buffer = ""
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                buffer += String(decoding: data, as: UTF8.self)
                while let newline = buffer.firstIndex(of: "\n") {
                    lines.append(String(buffer[..<newline]))
                    buffer = String(buffer[buffer.index(after: newline)...])
                }
            }
        }.start()
    }

    var seen: [String] { lines.all }

    /// Waits until a line satisfies `predicate`.
    func wait(seconds: Double, _ predicate: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if seen.contains(where: predicate) { return true }
            usleep(50_000)
        }
        return false
    }

    /// SIGTERM, and SIGKILL when it has not exited after five seconds.
    deinit {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

@Suite(.serialized) struct KubernetesTests {
    @Test func kubectlWorksOverTLSWithATokenAndAClientCertificate() throws {
        let fx = try KubeFixture()
        let alice = try fx.kubeconfig(token: "alice-token")

        let resources = try fx.kubectl(alice, ["api-resources"])
        #expect(resources.status == 0, "\(resources.stderr)")
        for (plural, short) in [
            ("virtualdestinations", "vd"), ("virtualmeshes", "vm"), ("trafficpolicies", "tp"), ("destinations", "dest"),
        ] {
            #expect(
                resources.stdout.split(separator: "\n").contains { $0.hasPrefix(plural) && $0.contains(" \(short) ") })
        }
        #expect(resources.stdout.contains("meshes"))

        let applied = try fx.kubectl(alice, ["apply", "-f", fx.fleet + "/user/"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(
            applied.stdout.contains("virtualdestination.networking.enterprise.mesh.gloo.solo.io/reviews-global created")
        )
        // A second apply that changes one field: client-side apply's merge patch.
        let again = try fx.kubectl(alice, ["apply", "-f", fx.fleet + "/user/reviews-edit.yaml"])
        #expect(again.status == 0 && again.stdout.contains("reviews-global configured"), "\(again.stderr)")
        let unchanged = try fx.kubectl(alice, ["apply", "-f", fx.fleet + "/user/reviews-edit.yaml"])
        #expect(unchanged.stdout.contains("reviews-global unchanged"), "\(unchanged.stdout)")

        let ssaFile = fx.directory + "/ssa.yaml"
        try virtualDestinationYAML("ssa-vd").write(toFile: ssaFile, atomically: true, encoding: .utf8)
        let ssa = try fx.kubectl(alice, ["apply", "--server-side", "-f", ssaFile])
        #expect(ssa.status == 0 && ssa.stdout.contains("ssa-vd serverside-applied"), "\(ssa.stderr)")

        let table = try fx.kubectl(alice, ["get", "vd", "-A"])
        let header = try #require(table.stdout.split(separator: "\n").first)
        #expect(
            header.split(separator: " ", omittingEmptySubsequences: true) == [
                "NAMESPACE", "NAME", "HOSTNAME", "STATE", "MESHES", "SELECTED", "AGE",
            ])
        #expect(table.stdout.contains("reviews-global") && table.stdout.contains("ACCEPTED"))
        let yaml = try fx.kubectl(alice, ["get", "vd", "reviews-global", "-o", "yaml"])
        let object = try yamlObject(yaml.stdout)
        #expect(object[path: ["status", "state"]] == "ACCEPTED")
        #expect(object[path: ["status", "selectedDestinations"]]?.arrayValue?.count == 3)

        // A watch sees the derived status change when a discovery identity deletes a backing Destination.
        let watcher = try LineWatcher(
            "kubectl", ["get", "vd", "-A", "-w", "--output-watch-events"],
            environment: ["KUBECONFIG": alice, "HOME": fx.directory])
        #expect(watcher.wait(seconds: 20) { $0.contains("ADDED") && $0.contains("reviews-global") }, "\(watcher.seen)")
        let agent = try fx.kubeconfig(token: "agent-token")
        let removed = try fx.kubectl(agent, ["delete", "destination", "reviews-bookinfo-cluster-1", "-n", "gloo-mesh"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(
            watcher.wait(seconds: 20) {
                $0.hasPrefix("MODIFIED") && $0.contains("reviews-global") && $0.contains(" 2 ")
            },
            "\(watcher.seen)")

        // A stale resourceVersion: the standard conflict.
        let stale = fx.directory + "/stale.json"
        try fx.kubectl(alice, ["get", "vd", "ssa-vd", "-o", "json"]).stdout.write(
            toFile: stale, atomically: true, encoding: .utf8)
        #expect(try fx.kubectl(alice, ["label", "vd", "ssa-vd", "touched=yes"]).status == 0)
        let replaced = try fx.kubectl(alice, ["replace", "-f", stale])
        #expect(replaced.status != 0)
        #expect(
            replaced.stderr.contains(
                "Operation cannot be fulfilled on virtualdestinations.networking.enterprise.mesh.gloo.solo.io \"ssa-vd\": the object has been modified; please apply your changes to the latest version and try again"
            ), "\(replaced.stderr)")
        let deleted = try fx.kubectl(alice, ["delete", "vd", "ssa-vd"])
        #expect(deleted.status == 0 && deleted.stdout.contains("\"ssa-vd\" deleted"), "\(deleted.stderr)")
        #expect(try fx.kubectl(alice, ["get", "vd", "ssa-vd"]).stderr.contains("NotFound"))

        let explain = try fx.kubectl(alice, ["explain", "virtualdestination.spec.hostname"])
        #expect(explain.status == 0 && explain.stdout.contains("FIELD: hostname <string>"), "\(explain.stderr)")

        // A client certificate identifies carol.
        let carol = try fx.kubeconfig(certificate: try fx.certificates.client("carol", groups: ["platform"]))
        let labelled = try fx.kubectl(carol, ["label", "vd", "reviews-global", "owner=carol"])
        #expect(labelled.status == 0, "\(labelled.stderr)")

        // The log names the authenticated identities.
        let log = try meshledger(["log", "--store", fx.store, "--read-only", "--kind", "vd", "-o", "jsonl"])
        let actors = Set(
            log.stdout.split(separator: "\n").compactMap { try? JSONText.parse(Array($0.utf8))["actor"]?.stringValue })
        #expect(actors == ["alice", "carol"], "\(actors)")
        let groups = Set(
            log.stdout.split(separator: "\n").compactMap { try? JSONText.parse(Array($0.utf8))["groups"] })
        #expect(groups == [["platform"]], "\(groups)")
        let destinations = try meshledger([
            "log", "--store", fx.store, "--read-only", "--actor", "agent-cluster-1", "--kind", "destination",
        ])
        #expect(destinations.stdout.contains("reviews-bookinfo-cluster-1") && destinations.stdout.contains("delete"))
    }

    @Test func unauthenticatedUnauthorizedAndForeignCallersAreRefused() throws {
        let fx = try KubeFixture()
        let head = try fx.head()
        let vdPath = "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/namespaces/bookinfo/virtualdestinations"
        let body = JSONText.string(
            try JSONText.parse(Array(try JSONText.string(yamlObject(virtualDestinationYAML("x"))).utf8)))
        #expect(try fx.curl("GET", vdPath).code == 401)
        #expect(try fx.curl("GET", vdPath, token: "wrong").code == 401)
        #expect(try fx.curl("GET", "/version").code == 200)
        // A read-only user may read, and every write is 403 with nothing appended.
        #expect(try fx.curl("GET", vdPath, token: "reader-token").code == 200)
        let refused = try fx.curl("POST", vdPath, token: "reader-token", body: body, contentType: "application/json")
        #expect(refused.code == 403, "\(refused.body)")
        #expect(try JSONText.parse(Array(refused.body.utf8))["reason"] == "Forbidden")
        #expect(try fx.curl("POST", "/v1/events?op=apply", token: "reader-token", body: body).code == 403)
        let deletion = try fx.curl(
            "DELETE",
            "/apis/discovery.mesh.gloo.solo.io/v1alpha2/namespaces/gloo-mesh/destinations/reviews-bookinfo-cluster-1",
            token: "reader-token")
        #expect(deletion.code == 403)
        // A discovery identity may write Destinations but not VirtualDestinations.
        #expect(
            try fx.curl("POST", vdPath, token: "agent-token", body: body, contentType: "application/json").code == 403)
        #expect(try fx.head() == head)
        // The actor of a /v1 write is the authenticated user, not the one claimed.
        let claimed = try fx.curl("POST", "/v1/events?op=apply&actor=mallory", token: "alice-token", body: body)
        #expect(claimed.code == 200, "\(claimed.body)")
        let log = try meshledger(["log", "--store", fx.store, "--read-only", "--actor", "alice", "--kind", "vd"])
        #expect(log.stdout.contains(" x "), "\(log.stdout)")
        #expect(
            try meshledger(["log", "--store", fx.store, "--read-only", "--actor", "mallory"]).stderr.contains(
                "No events"))
        // A client certificate from another CA is refused at the handshake.
        let (cert, key) = try fx.certificates.client("eve", groups: ["platform"], foreign: true)
        let foreign = try runProgram(
            "curl",
            [
                "-s", "-o", "/dev/null", "--cacert", fx.certificates.caCertificate, "--cert", cert, "--key", key,
                fx.url + vdPath,
            ])
        #expect(foreign.status != 0)
        // Without authentication, serve refuses to listen beyond loopback.
        let open = try meshledger(["serve", "--store", fx.directory + "/other", "--listen", "0.0.0.0:0"])
        #expect(open.status == 1 && open.stderr.contains("loopback only"))
    }

    /// Kubernetes Status objects for bad input, and nothing appended.
    @Test func badInputGetsAKubernetesStatus() throws {
        let fx = try KubeFixture()
        let head = try fx.head()
        let vdPath = "/apis/networking.enterprise.mesh.gloo.solo.io/v1alpha1/namespaces/bookinfo/virtualdestinations"
        let invalid = try fx.curl(
            "POST", vdPath, token: "alice-token",
            body: JSONText.string(
                try yamlObject(
                    virtualDestinationYAML("bad").replacingOccurrences(of: "number: 9080", with: "number: \"x\""))),
            contentType: "application/json")
        #expect(invalid.code == 422, "\(invalid.body)")
        let status = try JSONText.parse(Array(invalid.body.utf8))
        #expect(status["kind"] == "Status" && status["reason"] == "Invalid")
        #expect(status[path: ["details", "causes"]]?.arrayValue?.isEmpty == false)
        #expect(
            try fx.curl("POST", vdPath, token: "alice-token", body: "{not json", contentType: "application/json").code
                == 400)
        let huge = "{\"a\": \"" + String(repeating: "x", count: 9 << 20) + "\"}"
        #expect(
            try fx.curl("POST", vdPath, token: "alice-token", body: huge, contentType: "application/json").code == 413)
        let smp = try fx.curl(
            "PATCH", vdPath + "/reviews-global", token: "alice-token", body: "{}",
            contentType: "application/strategic-merge-patch+json")
        #expect(smp.code == 415)
        #expect(try fx.head() == head)
    }

    @Test func thePythonClientListsWatchesAndTravelsInTime() throws {
        let fx = try KubeFixture(extra: ["--watch-retention", "6"])
        let alice = try fx.kubeconfig(token: "alice-token")
        #expect(try fx.kubectl(alice, ["apply", "-f", fx.fleet + "/user/"]).status == 0)
        let exact = try fx.head()
        #expect(try fx.kubectl(alice, ["apply", "-f", fx.fleet + "/user/reviews-edit.yaml"]).status == 0)
        let result = try runProgram(
            "python3", [packageRoot + "/Tests/MeshLedgerCLITests/Fixtures/python_client.py", alice, String(exact)])
        #expect(result.status == 0, "\(result.stderr)")
        let out = try JSONText.parse(Array(result.stdout.utf8))
        #expect(out["listed"] == ["productpage-global", "ratings-global", "reviews-global"])
        let listRV = UInt64(out["listRV"]?.stringValue ?? "") ?? 0
        // Exactly the later changes, in order, each at its own sequence.
        let watched = out["watched"]?.arrayValue ?? []
        #expect(
            watched.map { $0.arrayValue?.prefix(2).map { $0.stringValue ?? "" } ?? [] } == [
                ["ADDED", "py-one"], ["MODIFIED", "py-one"], ["DELETED", "py-one"],
            ])
        #expect(
            watched.compactMap { $0.arrayValue?.last?.stringValue.flatMap(UInt64.init) } == [
                listRV + 1, listRV + 2, listRV + 3,
            ])
        #expect(out["staleReplace"] == 409)
        // The time-travel list equals `meshledger get --at N`.
        let cli = try meshledger([
            "get", "vd", "-A", "--at", String(exact), "-o", "json", "--store", fx.store, "--read-only",
        ])
        let expected = (try JSONText.parse(Array(cli.stdout.utf8))["items"]?.arrayValue ?? []).map {
            [$0[path: ["metadata", "name"]] ?? .null, $0[path: ["metadata", "resourceVersion"]] ?? .null] as JSONValue
        }
        #expect(out[path: ["exact", "resourceVersion"]] == .string(String(exact)))
        #expect(out[path: ["exact", "items"]] == .array(expected))
        #expect(expected.count == 3)
        // A watch older than the retention window: 410.
        #expect(out["tooOld"] == 410)
    }

    /// `kubectl describe vd` and `kubectl events --for` show the status transitions of the
    /// example fleet, each with the log event that caused it (Events from history).
    @Test func kubectlDescribeShowsWhyTheStatusChanged() throws {
        let fx = try KubeFixture()
        let alice = try fx.kubeconfig(token: "alice-token")
        for file in ["virtualmesh", "trafficpolicies", "virtualdestinations", "reviews-edit"] {
            let applied = try fx.kubectl(alice, ["apply", "-f", fx.fleet + "/user/\(file).yaml"])
            #expect(applied.status == 0, "\(applied.stderr)")
        }
        let described = try fx.kubectl(alice, ["describe", "vd", "reviews-global", "-n", "bookinfo"])
        let events = described.stdout.components(separatedBy: "Events:").last ?? ""
        let rows = events.split(separator: "\n").filter { $0.contains("meshledger") }
        #expect(rows.count == 2, "\(described.stdout)\(described.stderr)")
        #expect(rows.first?.contains("Accepted") == true && rows.first?.contains("created: ACCEPTED") == true)
        #expect(rows.last?.contains("StatusChanged") == true && rows.last?.contains("by alice via kubectl") == true)
        let listed = try fx.kubectl(alice, ["events", "--for", "vd/reviews-global", "-n", "bookinfo"])
        #expect(listed.stdout.contains("observedGeneration: 1 → 2"), "\(listed.stdout)\(listed.stderr)")
    }

    /// kubectl validates strictly: a field the schema does not declare is refused with
    /// kube-apiserver's words; with `--validate=warn` it is dropped and kubectl prints the warning.
    @Test func kubectlApplyRefusesUnknownFields() throws {
        let fx = try KubeFixture()
        let alice = try fx.kubeconfig(token: "alice-token")
        let file = packageRoot + "/Examples/bad/unknown-field.yaml"
        let refused = try fx.kubectl(alice, ["apply", "-f", file])
        #expect(refused.status != 0)
        #expect(
            refused.stderr.contains(
                #"VirtualDestination in version "v1alpha1" cannot be handled as a VirtualDestination: strict decoding error: unknown field "spec.port.nmber""#
            ), "\(refused.stderr)")
        let warned = try fx.kubectl(alice, ["apply", "-f", file, "--validate=warn"])
        #expect(warned.status == 0, "\(warned.stderr)")
        #expect(warned.stderr.contains(#"Warning: unknown field "spec.port.nmber""#), "\(warned.stderr)")
    }

    /// client-go's leader election (the Python client's `leaderelection`, two processes) through
    /// a Lease: one leads, the other follows while the leader renews, and takes over when the
    /// leader is killed. The renewals are not events: the log does not grow.
    @Test func twoCandidatesElectALeaderThroughALeaseAndOneTakesOverWhenTheOtherIsKilled() throws {
        let fx = try KubeFixture()
        let config = try fx.kubeconfig(token: "operator-token")
        let script = packageRoot + "/Tests/MeshLedgerCLITests/Fixtures/leader_election.py"
        let environment = ["KUBECONFIG": config, "HOME": fx.directory]
        func events() throws -> Int {
            try meshledger(["log", "--store", fx.store, "--read-only", "-o", "jsonl"]).stdout.split(separator: "\n")
                .count
        }
        let before = try events()
        let a = try LineWatcher("python3", [script, "candidate-a"], environment: environment)
        #expect(a.wait(seconds: 30) { $0 == "LEADING candidate-a" }, "\(a.seen)")
        let b = try LineWatcher("python3", [script, "candidate-b"], environment: environment)
        #expect(b.wait(seconds: 30) { $0 == "CANDIDATE candidate-b" }, "\(b.seen)")
        usleep(6_000_000)  // longer than the lease: b follows while a renews
        #expect(!b.seen.contains("LEADING candidate-b"), "\(b.seen)")
        let held = try fx.kubectl(
            config, ["get", "lease", "meshledger-leader", "-n", "bookinfo", "-o", "jsonpath={.spec.holderIdentity}"])
        #expect(held.stdout == "candidate-a", "\(held.stdout)\(held.stderr)")
        kill(a.process.processIdentifier, SIGKILL)
        #expect(b.wait(seconds: 30) { $0 == "LEADING candidate-b" }, "\(b.seen)")
        let taken = try fx.kubectl(
            config, ["get", "lease", "meshledger-leader", "-n", "bookinfo", "-o", "jsonpath={.spec.holderIdentity}"])
        #expect(taken.stdout == "candidate-b", "\(taken.stdout)\(taken.stderr)")
        let listed = try fx.kubectl(config, ["get", "leases", "-n", "bookinfo"])
        let row = listed.stdout.split(separator: "\n").last.map { $0.split(separator: " ").map(String.init) } ?? []
        #expect(listed.stdout.hasPrefix("NAME"), "\(listed.stdout)\(listed.stderr)")
        #expect(row.prefix(2) == ["meshledger-leader", "candidate-b"], "\(listed.stdout)\(listed.stderr)")
        // A ConfigMap, as kubectl makes one.
        let made = try fx.kubectl(
            config, ["create", "configmap", "settings", "-n", "bookinfo", "--from-literal=mode=fast"])
        #expect(made.status == 0, "\(made.stderr)")
        let maps = try fx.kubectl(config, ["get", "cm", "-n", "bookinfo"])
        #expect(maps.stdout.contains("DATA") && maps.stdout.contains("settings"), "\(maps.stdout)\(maps.stderr)")
        // kubectl's DeleteOptions come in protobuf too: a dry run deletes nothing.
        let dry = try fx.kubectl(config, ["delete", "cm", "settings", "-n", "bookinfo", "--dry-run=server"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try fx.kubectl(config, ["get", "cm", "settings", "-n", "bookinfo"]).status == 0)
        #expect(try fx.kubectl(config, ["delete", "cm", "settings", "-n", "bookinfo"]).status == 0)
        let gone = try fx.kubectl(config, ["get", "cm", "settings", "-n", "bookinfo"])
        #expect(gone.stderr.contains("NotFound"), "\(gone.stdout)\(gone.stderr)")
        #expect(try events() == before, "lease renewals are not in the audit log")
        withExtendedLifetime(b) {}
    }

    /// kopf with `-n NS` and an `on.delete` handler (which holds a finalizer on every object it
    /// handles): a delete marks the object, the handler runs exactly once, kopf removes its
    /// finalizer, and only then is the object gone.
    @Test func aKopfOperatorReactsAndItsPatchIsLoggedUnderItsIdentity() throws {
        let fx = try KubeFixture()
        let alice = try fx.kubeconfig(token: "alice-token")
        #expect(
            try fx.kubectl(
                alice,
                ["apply", "-f", fx.fleet + "/user/virtualmesh.yaml", "-f", fx.fleet + "/user/trafficpolicies.yaml"]
            ).status == 0)
        let operatorConfig = try fx.kubeconfig(token: "operator-token")
        let kopf = try LineWatcher(
            "python3",
            [
                "-m", "kopf", "run", "--standalone", "-n", "bookinfo",
                packageRoot + "/Tests/MeshLedgerCLITests/Fixtures/kopf_operator.py",
            ],
            environment: [
                "KUBECONFIG": operatorConfig, "HOME": fx.directory, "KOPF_DELETIONS": fx.directory + "/deletions",
            ])
        let file = fx.directory + "/vd.yaml"
        try virtualDestinationYAML("watched-by-kopf").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try fx.kubectl(alice, ["apply", "-f", file]).status == 0)
        var annotated = false
        let deadline = Date().addingTimeInterval(40)
        while !annotated && Date() < deadline {
            let value = try fx.kubectl(
                alice,
                ["get", "vd", "watched-by-kopf", "-o", "jsonpath={.metadata.annotations.operator\\.example/seen}"])
            annotated = value.stdout == "yes"
            if !annotated { usleep(300_000) }
        }
        #expect(annotated, "kopf output: \(kopf.seen.suffix(20))")
        let log = try meshledger([
            "log", "--store", fx.store, "--read-only", "--actor", "kopf-operator", "--name", "watched-by-kopf",
        ])
        #expect(log.status == 0 && log.stdout.contains("watched-by-kopf"), "\(log.stdout)\(log.stderr)")

        // kopf holds its finalizer on the object: the delete waits for its handler.
        let finalizers = try fx.kubectl(
            alice, ["get", "vd", "watched-by-kopf", "-o", "jsonpath={.metadata.finalizers}"])
        #expect(finalizers.stdout.contains("kopf.zalando.org/KopfFinalizerMarker"), "\(finalizers.stdout)")
        let deleted = try fx.kubectl(alice, ["delete", "vd", "watched-by-kopf", "--timeout=40s"])
        #expect(deleted.status == 0, "\(deleted.stderr) kopf: \(kopf.seen.suffix(20))")
        let gone = try fx.kubectl(alice, ["get", "vd", "watched-by-kopf"])
        #expect(gone.status != 0 && gone.stderr.contains("NotFound"), "\(gone.stdout)\(gone.stderr)")
        usleep(1_500_000)  // time for a second run of the handler, were there one
        let runs = (try? String(contentsOfFile: fx.directory + "/deletions", encoding: .utf8)) ?? ""
        let lines = runs.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("watched-by-kopf 20"), "handler runs: \(runs)")
        // The log: alice's delete marked it; kopf's removal of its finalizer deleted it.
        let history = try meshledger([
            "log", "--store", fx.store, "--read-only", "--name", "watched-by-kopf", "-o", "jsonl",
        ])
        let events = history.stdout.split(separator: "\n").compactMap { try? JSONText.parse(Array($0.utf8)) }
        let last = events.suffix(2).map { "\($0["actor"]?.stringValue ?? "") \($0["change"]?.stringValue ?? "")" }
        #expect(last == ["alice upsert", "kopf-operator delete"], "\(history.stdout)")
        #expect(events.suffix(2).first?[path: ["object", "metadata", "deletionTimestamp"]] != nil)
        withExtendedLifetime(kopf) {}
    }
}

/// The first YAML document of a text, as a JSON value.
func yamlObject(_ text: String) throws -> JSONValue {
    try #require(try YAMLText.parseDocuments(text).first).value
}
