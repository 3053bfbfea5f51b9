import Foundation
import MeshLedgerTesting
import MeshModel
import Testing

/// `meshledger record` against real servers: A is `meshledger serve` (the Kubernetes API over TLS
/// with tokens), B is `meshledger record` with a kubeconfig, each its own process and store.
@Suite(.serialized) struct RecordTests {
    static let fleet = packageRoot + "/Examples/fleet"

    /// Waits until B's state digest equals A's; returns whether it did.
    static func converge(_ a: String, _ b: String, seconds: Double = 30) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let digest = try stateDigest(of: b), try stateDigest(of: a) == digest { return true }
            usleep(200_000)
        }
        return false
    }

    /// Every event of a store's log.
    static func events(_ store: String) throws -> [JSONValue] {
        try meshledger(["log", "--store", store, "--read-only", "-o", "jsonl"]).stdout.split(separator: "\n")
            .map { try JSONText.parse(Array($0.utf8)) }
    }

    /// A holding the example fleet: discovery in its store, the user objects applied by alice
    /// through kubectl.
    static func serverWithFleet() throws -> (KubeFixture, alice: String) {
        let fx = try KubeFixture()
        let alice = try fx.kubeconfig(token: "alice-token")
        for file in ["virtualmesh", "trafficpolicies", "virtualdestinations"] {
            let applied = try fx.kubectl(alice, ["apply", "-f", "\(fleet)/user/\(file).yaml"])
            guard applied.status == 0 else { throw TestFailure("kubectl apply: \(applied.stderr)") }
        }
        return (fx, alice)
    }

    /// Starts B recording A with a read-only identity's kubeconfig (get, list, watch suffice).
    /// With `certificate`, B authenticates with rita's client certificate instead of her token.
    static func recorder(
        _ fx: KubeFixture, store: String, certificate: Bool = false, snapshotEvery: Int? = nil
    ) throws -> LineWatcher {
        let config =
            certificate
            ? try fx.kubeconfig(certificate: try fx.certificates.client("rita"))
            : try fx.kubeconfig(token: "reader-token")
        return try LineWatcher(
            meshledgerBinary,
            ["record", "--store", store, "--kubeconfig", config, "--metrics-listen", "127.0.0.1:0"]
                + (snapshotEvery.map { ["--snapshot-every", String($0)] } ?? []),
            environment: [:])
    }

    /// A kubeconfig whose user is an exec credential plugin (`plugin`, with `env`), for A.
    static func execKubeconfig(_ fx: KubeFixture, plugin: String, env: [String: String]) throws -> String {
        let path = fx.directory + "/exec-kubeconfig"
        let entries = env.sorted { $0.key < $1.key }.map { "{name: \($0.key), value: \"\($0.value)\"}" }
        try """
        apiVersion: v1
        kind: Config
        clusters:
        - name: a
          cluster: {server: "\(fx.url)", certificate-authority: "\(fx.certificates.caCertificate)"}
        users:
        - name: plugin-user
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: \(plugin)
              args: [--region, test]
              interactiveMode: Never
              provideClusterInfo: true
              env: [\(entries.joined(separator: ", "))]
        contexts:
        - name: meshledger
          context: {cluster: a, user: plugin-user, namespace: bookinfo}
        current-context: meshledger
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// An exec credential plugin (as EKS, GKE and AKS kubeconfigs use): the recorder runs it for
    /// a token, runs it again once the token expires, and keeps recording; a plugin that prints
    /// something else is an error naming it.
    @Test func anExecPluginsTokenIsUsedAndRenewedWhenItExpires() throws {
        let (fx, alice) = try Self.serverWithFleet()
        let plugin = fx.directory + "/get-token"
        try """
        #!/bin/sh
        # Prints reader's token, valid for 2 seconds; records each run and what it was given.
        echo "$*" >> "$RUNS"
        printf '%s\n' "$KUBERNETES_EXEC_INFO" > "$RUNS.info"
        expiry=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
        printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$TOKEN" "$expiry"
        """.write(toFile: plugin, atomically: true, encoding: .utf8)
        chmod(plugin, 0o755)
        let runs = fx.directory + "/runs"
        let config = try Self.execKubeconfig(fx, plugin: plugin, env: ["TOKEN": "reader-token", "RUNS": runs])
        let b = fx.directory + "/recorded"
        let recorder = try LineWatcher(
            meshledgerBinary, ["record", "--store", b, "--kubeconfig", config], environment: [:])
        #expect(try Self.converge(fx.store, b), "B never reached A's state digest: \(recorder.seen.suffix(5))")
        let info = try JSONText.parse(Array(try String(contentsOfFile: runs + ".info", encoding: .utf8).utf8))
        #expect(info[path: ["spec", "interactive"]] == false, "\(info)")
        #expect(info[path: ["spec", "cluster", "server"]] == .string(fx.url), "provideClusterInfo: \(info)")

        // The token expires; A restarts, so every watch starts again with a new request.
        sleep(3)
        try fx.restart()
        #expect(try fx.kubectl(alice, ["apply", "-f", "\(Self.fleet)/user/reviews-edit.yaml"]).status == 0)
        #expect(try Self.converge(fx.store, b), "B stopped following A: \(recorder.seen.suffix(5))")
        let ran = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n")
        #expect(ran.count >= 2, "the plugin ran \(ran.count) times")
        #expect(ran.first == "--region test")

        // A plugin that prints what is not an ExecCredential: the recorder says which and why.
        let bad = fx.directory + "/bad-plugin"
        try "#!/bin/sh\necho not-json\n".write(toFile: bad, atomically: true, encoding: .utf8)
        chmod(bad, 0o755)
        let failing = try meshledger([
            "record", "--store", fx.directory + "/other", "--kubeconfig",
            try Self.execKubeconfig(fx, plugin: bad, env: [:]),
        ])
        #expect(failing.status != 0)
        #expect(failing.stderr.contains("exec plugin \(bad): its output is not JSON"), "\(failing.stderr)")
        withExtendedLifetime(recorder) {}
    }

    /// A kubeconfig's cluster with `extra` YAML fields (`tls-server-name`, `proxy-url`) and the
    /// reader's token.
    static func clusterKubeconfig(_ fx: KubeFixture, _ extra: String) throws -> String {
        let path = fx.directory + "/kubeconfig-\(UUID().uuidString)"
        try """
        apiVersion: v1
        kind: Config
        current-context: meshledger
        clusters:
        - name: a
          cluster: {server: "\(fx.url)", certificate-authority: "\(fx.certificates.caCertificate)", \(extra)}
        users:
        - name: reader
          user: {token: reader-token}
        contexts:
        - name: meshledger
          context: {cluster: a, user: reader}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// An HTTP CONNECT proxy on a free loopback port that logs each tunnel it opens (`CONNECT
    /// host:port` and the Proxy-Authorization it was given) and prints `listening PORT`.
    static let connectProxy = #"""
        import base64, socket, sys, threading
        log = open(sys.argv[1], "a", buffering=1)
        server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(16)
        print("listening", server.getsockname()[1], flush=True)
        def pipe(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data: break
                    b.sendall(data)
            except OSError: pass
            finally:
                for s in (a, b):
                    try: s.shutdown(socket.SHUT_RDWR)
                    except OSError: pass
        def serve(client):
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk: return
                head += chunk
            lines = head.split(b"\r\n")
            method, target = lines[0].split(b" ")[:2]
            auth = [l.split(b":", 1)[1].strip() for l in lines if l.lower().startswith(b"proxy-authorization:")]
            credentials = base64.b64decode(auth[0].split()[1]).decode() if auth else "-"
            log.write("%s %s %s\n" % (method.decode(), target.decode(), credentials))
            host, port = target.decode().rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            pipe(upstream, client)
        while True:
            connection, _ = server.accept()
            threading.Thread(target=serve, args=(connection,), daemon=True).start()
        """#

    /// `proxy-url` and `tls-server-name` as kubectl uses them: the connections go through an
    /// HTTP CONNECT proxy, with the URL's credentials (a proxy scheme the client cannot speak is a
    /// clear error); and the server's certificate, which names only `apiserver.internal`, is
    /// checked against that name while the connection goes to 127.0.0.1 (without the name, or
    /// with another, nothing is recorded).
    @Test func aProxyAndTLSServerNameAsKubectlUseThem() throws {
        let (fx, _) = try Self.serverWithFleet()
        let log = fx.directory + "/proxy.log"
        let proxy = try LineWatcher("/usr/bin/python3", ["-u", "-c", Self.connectProxy, log], environment: [:])
        #expect(proxy.wait(seconds: 10) { $0.hasPrefix("listening ") }, "\(proxy.seen)")
        let port = proxy.seen.first { $0.hasPrefix("listening ") }.map { String($0.dropFirst(10)) } ?? ""
        let proxied = try Self.clusterKubeconfig(fx, "proxy-url: \"http://auditor:s3cret@127.0.0.1:\(port)\"")
        let c = fx.directory + "/proxied"
        let viaProxy = try LineWatcher(
            meshledgerBinary, ["record", "--store", c, "--kubeconfig", proxied], environment: [:])
        #expect(try Self.converge(fx.store, c), "proxy-url: \(viaProxy.seen.suffix(5))")
        let tunnels = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let target = String(fx.url.dropFirst("https://".count))
        #expect(tunnels.contains("CONNECT \(target) auditor:s3cret"), "\(tunnels)")
        let https = try Self.clusterKubeconfig(fx, "proxy-url: \"https://127.0.0.1:\(port)\"")
        let unsupported = try meshledger(["record", "--store", fx.directory + "/https", "--kubeconfig", https])
        #expect(
            unsupported.status != 0 && unsupported.stderr.contains("https proxies are not supported"),
            "\(unsupported.stderr)")

        // A certificate for a name only.
        let (certificate, key) = try fx.certificates.server(names: ["apiserver.internal"])
        try fx.restart(extra: ["--tls-cert-file", certificate, "--tls-private-key-file", key])
        let named = try Self.clusterKubeconfig(fx, "tls-server-name: apiserver.internal")
        let b = fx.directory + "/named"
        let recorder = try LineWatcher(
            meshledgerBinary, ["record", "--store", b, "--kubeconfig", named], environment: [:])
        #expect(try Self.converge(fx.store, b), "tls-server-name: \(recorder.seen.suffix(5))")
        for (name, extra) in [
            ("unnamed", "insecure-skip-tls-verify: false"), ("wrong", "tls-server-name: elsewhere.example"),
        ] {
            let config = try Self.clusterKubeconfig(fx, extra)
            let refused = try LineWatcher(
                meshledgerBinary, ["record", "--store", fx.directory + "/" + name, "--kubeconfig", config],
                environment: [:])
            #expect(refused.wait(seconds: 20) { $0.contains("failedToValidateHostname") }, "\(refused.seen.suffix(3))")
            #expect(try Self.events(fx.directory + "/" + name).isEmpty)
        }
    }

    /// Inside a cluster (no kubeconfig, `KUBERNETES_SERVICE_HOST` set) the recorder uses the
    /// pod's service account, read again when the token rotates; a merged `KUBECONFIG` works as
    /// kubectl merges it.
    @Test func inClusterConfigurationAndAMergedKubeconfig() throws {
        let (fx, alice) = try Self.serverWithFleet()
        let root = fx.directory + "/pod"
        let account = root + "/var/run/secrets/kubernetes.io/serviceaccount"
        try FileManager.default.createDirectory(atPath: account, withIntermediateDirectories: true)
        try "reader-token\n".write(toFile: account + "/token", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: fx.certificates.caCertificate, toPath: account + "/ca.crt")
        try "bookinfo".write(toFile: account + "/namespace", atomically: true, encoding: .utf8)
        let home = fx.directory + "/empty-home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let port = String(fx.url.split(separator: ":").last ?? "")
        let b = fx.directory + "/in-cluster"
        let recorder = try LineWatcher(
            meshledgerBinary, ["record", "--store", b],
            environment: [
                "HOME": home, "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port,
                "MESHLEDGER_SERVICE_ACCOUNT_ROOT": root,
            ])
        #expect(try Self.converge(fx.store, b), "in-cluster: \(recorder.seen.suffix(5))")
        #expect(try Self.events(b).first?["actor"]?.stringValue == "record:in-cluster")

        // KUBECONFIG with two files: the first names the context and cluster (its CA relative to
        // its own directory), the second the user and another current-context, which loses.
        let first = fx.directory + "/merge/a"
        let second = fx.directory + "/merge/b/config"
        try FileManager.default.createDirectory(atPath: first, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: (second as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fx.certificates.caCertificate, toPath: first + "/ca.crt")
        try """
        apiVersion: v1
        kind: Config
        current-context: meshledger
        clusters:
        - name: a
          cluster: {server: "\(fx.url)", certificate-authority: ca.crt}
        contexts:
        - name: meshledger
          context: {cluster: a, user: reader}
        """.write(toFile: first + "/config", atomically: true, encoding: .utf8)
        try """
        apiVersion: v1
        kind: Config
        current-context: elsewhere
        users:
        - name: reader
          user: {token: operator-token}
        """.write(toFile: second, atomically: true, encoding: .utf8)
        let merged = fx.directory + "/merged"
        let mergedRecorder = try LineWatcher(
            meshledgerBinary, ["record", "--store", merged],
            environment: ["HOME": home, "KUBECONFIG": "\(first)/config:\(fx.directory)/missing:\(second)"])
        #expect(try Self.converge(fx.store, merged), "merged KUBECONFIG: \(mergedRecorder.seen.suffix(5))")
        // The token rotates: the old one is revoked while A is down, the new one is in the file.
        try "operator-token\n".write(toFile: account + "/token", atomically: true, encoding: .utf8)
        try fx.restart {
            let tokens = KubeFixture.tokens.split(separator: "\n").filter { !$0.hasPrefix("reader-token") }
            try tokens.joined(separator: "\n").write(
                toFile: fx.directory + "/tokens.csv", atomically: true, encoding: .utf8)
        }
        #expect(try fx.kubectl(alice, ["apply", "-f", "\(Self.fleet)/user/reviews-edit.yaml"]).status == 0)
        #expect(try Self.converge(fx.store, b), "after the rotation: \(recorder.seen.suffix(5))")
        #expect(try Self.converge(fx.store, merged), "merged, after: \(mergedRecorder.seen.suffix(5))")

        withExtendedLifetime((recorder, mergedRecorder)) {}
    }

    @Test func recordsALiveServerLikeAnInformer() throws {
        let (fx, alice) = try Self.serverWithFleet()
        let b = fx.directory + "/recorded"
        let recorder = try Self.recorder(fx, store: b, snapshotEvery: 5)
        #expect(try Self.converge(fx.store, b), "B never reached A's state digest: \(recorder.seen.suffix(5))")

        // Changes through kubectl: apply, edit, delete, apply; and by a discovery agent's identity.
        let agent = try fx.kubeconfig(token: "agent-token")
        #expect(try fx.kubectl(alice, ["apply", "-f", "\(Self.fleet)/user/reviews-edit.yaml"]).status == 0)
        let edited = try runProgram(
            "kubectl", ["edit", "vd", "ratings-global"],
            environment: ["KUBECONFIG": alice, "HOME": fx.directory, "KUBE_EDITOR": "sed -i -e s/9080/9081/"])
        #expect(edited.status == 0, "kubectl edit: \(edited.stderr)")
        #expect(try fx.kubectl(alice, ["delete", "vd", "productpage-global"]).status == 0)
        #expect(try fx.kubectl(alice, ["apply", "-f", "\(Self.fleet)/user/virtualdestinations.yaml"]).status == 0)
        let gone = try fx.kubectl(agent, ["-n", "gloo-mesh", "delete", "destination", "reviews-bookinfo-cluster-2"])
        #expect(gone.status == 0, "agent delete: \(gone.stderr)")
        #expect(try Self.converge(fx.store, b), "B did not follow A's changes: \(recorder.seen.suffix(5))")

        // What B recorded: the kind's source, record:<context> as actor, the field manager kept,
        // the API server's generation.
        let events = try Self.events(b)
        #expect(events.allSatisfy { $0["actor"]?.stringValue == "record:meshledger" })
        let destinationDelete = events.last {
            $0["kind"]?.stringValue == "Destination" && $0["change"]?.stringValue == "delete"
        }
        #expect(destinationDelete?["source"]?.stringValue == "discovery")
        #expect(destinationDelete?["name"]?.stringValue == "reviews-bookinfo-cluster-2")
        let edit = events.first {
            $0["name"]?.stringValue == "ratings-global" && $0["fieldManager"]?.stringValue == "kubectl-edit"
        }
        #expect(edit?["source"]?.stringValue == "user")
        #expect(edit?["generation"]?.intValue == 2)
        #expect(
            events.contains { $0["name"]?.stringValue == "productpage-global" && $0["change"]?.stringValue == "delete" }
        )
        let reviews = try meshledger([
            "get", "--store", b, "--read-only", "vd", "reviews-global", "-n", "bookinfo", "-o", "json",
        ])
        let served = try fx.kubectl(alice, ["get", "vd", "reviews-global", "-o", "json"])
        #expect(
            try JSONText.parse(Array(reviews.stdout.utf8))[path: ["status", "observedGeneration"]]
                == JSONText.parse(Array(served.stdout.utf8))[path: ["status", "observedGeneration"]])

        // A serves its derived status, so the recorded statuses agree with B's derived ones.
        let drift = try meshledger(["drift", "--store", b, "--read-only", "-o", "json"])
        #expect(drift.status == 0)
        #expect(try JSONText.parse(Array(drift.stdout.utf8)) == .array([]))

        // The recorder takes snapshots by the writer's policy (here one every 5 events), and
        // each agrees with a full replay.
        let head = UInt64(events.count)
        let snapshots = try meshledger(["snapshot", "list", "--store", b, "--read-only"]).stdout
            .split(separator: "\n").dropFirst().compactMap { UInt64($0.split(separator: " ").first ?? "") }
        #expect(snapshots.count >= Int(head / 5) / 2 && snapshots.count > 2, "\(snapshots) of \(head) events")
        #expect(zip(snapshots, snapshots.dropFirst()).allSatisfy { $1 - $0 >= 5 }, "\(snapshots)")
        let verified = try meshledger(["verify", "--store", b, "--read-only"])
        #expect(verified.status == 0 && verified.stdout.contains("agree with a full replay"), "\(verified.stdout)")

        // The recorder's metrics.
        let address = recorder.seen.first { $0.hasPrefix("metrics on ") }.map { String($0.dropFirst(11)) }
        let metrics = try runProgram("curl", ["-s", "http://\(address ?? "")/metrics"]).stdout
        #expect(metrics.contains("meshledger_record_events_total{kind=\"VirtualDestination\"}"))
        #expect(metrics.contains("meshledger_record_relists_total{kind=\"Mesh\"} 1"))
        #expect(metrics.contains("meshledger_record_lag{kind=\"Destination\"}"))
        #expect(metrics.contains("meshledger_record_snapshot_sequence \(snapshots.last ?? 0)"), "\(metrics)")
    }

    @Test func aRestartedServerAGoneWatchAndAKilledRecorderLoseNothingAndRecordNothingTwice() throws {
        let (fx, alice) = try Self.serverWithFleet()
        let b = fx.directory + "/recorded"
        var recorder: LineWatcher? = try Self.recorder(fx, store: b)
        #expect(try Self.converge(fx.store, b))

        // A stops; while B cannot reach it, a VirtualDestination is deleted and another created
        // (in A's store directly); A comes back keeping one event of watch history, so B's resume
        // is 410 Gone and B lists again.
        let documents = try String(contentsOfFile: "\(Self.fleet)/user/virtualdestinations.yaml", encoding: .utf8)
            .components(separatedBy: "\n---\n")
        try documents[1].write(toFile: fx.directory + "/reviews.yaml", atomically: true, encoding: .utf8)
        let extra = documents.last!
            .replacingOccurrences(of: "productpage-global", with: "details-global")
            .replacingOccurrences(of: "productpage.global", with: "details.global")
        try extra.write(toFile: fx.directory + "/details.yaml", atomically: true, encoding: .utf8)
        // reviews-global is edited twice meanwhile (generation 3): B takes A's generation, not
        // its own count of the changes it saw (2).
        try fx.restart(extra: ["--watch-retention", "1"]) { () throws in
            let results = try [
                meshledger(["delete", "--store", fx.store, "vd", "ratings-global", "-n", "bookinfo"]),
                meshledger(["apply", "--store", fx.store, "-f", fx.directory + "/details.yaml"]),
                meshledger(["apply", "--store", fx.store, "-f", "\(Self.fleet)/user/reviews-edit.yaml"]),
                meshledger(["apply", "--store", fx.store, "-f", fx.directory + "/reviews.yaml"]),
            ]
            for result in results where result.status != 0 {
                throw TestFailure("changes while A was down: \(result.stderr)")
            }
        }
        #expect(try Self.converge(fx.store, b), "B did not relist: \(recorder!.seen.suffix(8))")
        #expect(recorder!.wait(seconds: 5) { $0.contains("410 Gone") })
        #expect(recorder!.seen.contains { $0.contains("relisted virtualdestinations (410 Gone") })
        let events = try Self.events(b)
        let missed = events.filter {
            $0["name"]?.stringValue == "ratings-global" && $0["change"]?.stringValue == "delete"
        }
        #expect(missed.count == 1, "the delete missed while disconnected is recorded once, by the relist")
        #expect(events.contains { $0["name"]?.stringValue == "details-global" })
        let reviews = events.last { $0["name"]?.stringValue == "reviews-global" }
        #expect(reviews?["generation"]?.intValue == 3)

        // SIGKILL while recording, with changes in flight; then a restart lists again.
        #expect(try fx.kubectl(alice, ["label", "vd", "reviews-global", "tier=gold"]).status == 0)
        kill(recorder!.process.processIdentifier, SIGKILL)
        recorder = nil
        #expect(try fx.kubectl(alice, ["label", "vd", "details-global", "tier=silver"]).status == 0)
        let verified = try meshledger(["verify", "--store", b])
        #expect(verified.status == 0, "verify after SIGKILL: \(verified.stderr)")
        // The restarted recorder authenticates with a client certificate (kubeconfig -data).
        recorder = try Self.recorder(fx, store: b, certificate: true)
        // The label changed while no recorder ran: its start relist records it. (The state digest
        // alone does not say so: labels derive nothing, so it can converge before.)
        #expect(recorder!.wait(seconds: 20) { $0.contains("relisted virtualdestinations (start)") })
        #expect(try Self.converge(fx.store, b), "\(recorder!.seen.suffix(5))")
        #expect(try meshledger(["verify", "--store", b, "--read-only"]).status == 0)

        // Nothing twice: a graceful stop (SIGTERM) and another start list everything again and
        // append nothing.
        let settled = try head(of: b)
        recorder!.process.terminate()
        recorder!.process.waitUntilExit()
        #expect(recorder!.process.terminationStatus == 0)
        #expect(recorder!.seen.contains { $0.contains("recorder stopped") })
        recorder = try Self.recorder(fx, store: b)
        #expect(recorder!.wait(seconds: 20) { $0.contains("relisted virtualdestinations (start)") })
        #expect(try head(of: b) == settled)
        #expect(recorder!.seen.contains { $0.contains("relisted virtualdestinations (start): 3 listed, 0 recorded") })
    }

    @Test func badInputFromTheServerIsReportedAndSkippedOrRetried() throws {
        let directory = temporaryDirectory("record-bad")
        let requests = directory + "/requests.log"
        let server = try LineWatcher(
            "python3", ["\(packageRoot)/Tests/MeshLedgerCLITests/Fixtures/bad_apiserver.py", requests],
            environment: [:])
        #expect(server.wait(seconds: 10) { $0.hasPrefix("listening on ") })
        let port = server.seen.first { $0.hasPrefix("listening on ") }!.dropFirst(13)
        let config = directory + "/kubeconfig"
        try meshledger(["kubeconfig", "--server", "http://127.0.0.1:\(port)"]).stdout.write(
            toFile: config, atomically: true, encoding: .utf8)
        let store = directory + "/store"
        let recorder = try LineWatcher(
            meshledgerBinary,
            ["record", "--store", store, "--kubeconfig", config, "--kinds", "virtualdestinations"], environment: [:])
        let deadline = Date().addingTimeInterval(20)
        var names: [String] = []
        while Date() < deadline {
            let listed = try meshledger(["get", "--store", store, "--read-only", "vd", "-A", "-o", "json"])
            let items = (try? JSONText.parse(Array(listed.stdout.utf8)))?["items"]?.arrayValue ?? []
            names = items.compactMap { $0[path: ["metadata", "name"]]?.stringValue }
            if names.contains("fourth") { break }
            usleep(200_000)
        }
        // The good events are recorded; the unknown kind is skipped; the malformed line made it
        // list again; the truncated event is not recorded and the watch resumed after the last good one.
        #expect(names == ["first", "fourth", "second"])
        let second = try meshledger([
            "get", "--store", store, "--read-only", "vd", "second", "-n", "bookinfo", "-o", "json",
        ])
        #expect(try JSONText.parse(Array(second.stdout.utf8))[path: ["spec", "hostname"]] == "second-changed.global")
        let log = recorder.seen.joined(separator: "\n")
        #expect(log.contains("a Gadget") || log.contains("unknown kind"), "\(log)")
        #expect(log.contains("a line that is not a watch event"))
        #expect(log.contains("relisted virtualdestinations (a malformed watch event)"))
        #expect(log.contains("truncated"))
        let paths = try String(contentsOfFile: requests, encoding: .utf8).split(separator: "\n")
        let watches = paths.filter { $0.contains("watch=1") }
        #expect(watches.count >= 3)
        #expect(watches.first?.contains("resourceVersion=10&") == true, "the first watch from the first list's version")
        #expect(
            watches.dropFirst().first?.contains("resourceVersion=13") == true,
            "after the relist, from the list's version")
        #expect(
            watches.dropFirst(2).first?.contains("resourceVersion=14") == true,
            "after the truncation, from the last good event")
        #expect(paths.filter { !$0.contains("watch=1") }.count == 2, "one list at start, one relist")
        #expect(try meshledger(["verify", "--store", store, "--read-only"]).status == 0)
    }
}

/// `drift`: a watch stream whose VirtualDestinations carry statuses that differ from the derived
/// ones in chosen ways, and `drift`, `explain` and `history` on it.
@Suite struct DriftTests {
    static let fleet = packageRoot + "/Examples/fleet"

    /// A store with the fleet's discovery, VirtualMesh and TrafficPolicies.
    static func storeWithoutVirtualDestinations(_ directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = directory + "/store"
        for c in ["cluster-1", "cluster-2", "cluster-3"] {
            let result = try meshledger(
                ["discover", "--store", store, "--agent", "agent-\(c)", "-f", "\(fleet)/discovery/\(c).yaml"])
            guard result.status == 0 else { throw TestFailure("discover: \(result.stderr)") }
        }
        let result = try meshledger(
            [
                "apply", "--store", store, "-f", "\(fleet)/user/virtualmesh.yaml", "-f",
                "\(fleet)/user/trafficpolicies.yaml",
            ])
        guard result.status == 0 else { throw TestFailure("apply: \(result.stderr)") }
        return store
    }

    static func drift(_ store: String, at: UInt64? = nil) throws -> [JSONValue] {
        let result = try meshledger(
            ["drift", "--store", store, "-o", "json"] + (at.map { ["--at", String($0)] } ?? []))
        return try JSONText.parse(Array(result.stdout.utf8)).arrayValue ?? []
    }

    @Test func driftReportsExactlyTheChosenDisagreementsWithTheirStart() throws {
        let directory = temporaryDirectory("drift")
        // The derived statuses, from a store where the VirtualDestinations are applied.
        let reference = try Self.storeWithoutVirtualDestinations(directory + "/reference")
        try meshledger(["apply", "--store", reference, "-f", "\(Self.fleet)/user/virtualdestinations.yaml"])
        let listed = try JSONText.parse(
            Array(try meshledger(["get", "--store", reference, "vd", "-A", "-o", "json"]).stdout.utf8))
        var byName: [String: JSONValue] = [:]
        for item in listed["items"]?.arrayValue ?? [] { byName[item[path: ["metadata", "name"]]!.stringValue!] = item }

        // The controller's statuses: productpage-global agrees; ratings-global is INVALID on one
        // mesh; reviews-global lists an extra error and one destination fewer.
        func with(_ name: String, _ change: (inout JSONObject) -> Void) -> JSONValue {
            guard case .object(var root) = byName[name]!, case .object(var status)? = root["status"] else {
                return .null
            }
            change(&status)
            root["status"] = .object(status)
            return .object(root)
        }
        let ratingsMesh = byName["ratings-global"]![path: ["status", "meshes"]]!.objectValue!.map(\.key).sorted().first!
        let ratings = with("ratings-global") { status in
            var meshes = status["meshes"]!.objectValue!
            var entry = meshes[ratingsMesh]!.objectValue!
            entry["state"] = "INVALID"
            meshes[ratingsMesh] = .object(entry)
            status["meshes"] = .object(meshes)
        }
        let dropped = byName["reviews-global"]![path: ["status", "selectedDestinations"]]!.arrayValue!.last!
        let reviews = with("reviews-global") { status in
            status["errors"] = ["Destination reviews.bookinfo.cluster-9 not found"]
            status["selectedDestinations"] = .array(status["selectedDestinations"]!.arrayValue!.dropLast())
        }
        let productpage = with("productpage-global") { _ in }
        let stream = [productpage, ratings, reviews].map { (object: JSONValue) -> String in
            JSONText.string(["type": "ADDED", "object": object]) + "\n"
        }.joined()
        try stream.write(toFile: directory + "/watch.json", atomically: true, encoding: .utf8)

        let store = try Self.storeWithoutVirtualDestinations(directory)
        let ingested = try meshledger([
            "ingest", "--store", store, "--actor", "watch-mgmt", "-f", directory + "/watch.json",
        ])
        #expect(ingested.status == 0, "\(ingested.stderr)")
        let events = try meshledger(["log", "--store", store, "-o", "jsonl", "--kind", "virtualdestination"]).stdout
            .split(separator: "\n").map { try JSONText.parse(Array($0.utf8)) }
        func sequence(_ name: String) -> Int64? {
            events.last { $0["name"]?.stringValue == name }?["sequence"]?.intValue
        }

        let drift = try Self.drift(store)
        #expect(drift.map { $0["name"]?.stringValue ?? "" } == ["ratings-global", "reviews-global"])
        #expect(drift.first?["since"]?.intValue == sequence("ratings-global"))
        #expect(drift.last?["since"]?.intValue == sequence("reviews-global"))
        #expect(
            drift.first?["differences"] == .array([.string("mesh \(ratingsMesh): recorded INVALID, derived ACCEPTED")]))
        let droppedRef = dropped["ref"]!
        let droppedName = [droppedRef["name"], droppedRef["namespace"], droppedRef["clusterName"]]
            .compactMap { $0?.stringValue }.joined(separator: ".")
        #expect(
            drift.last?["differences"]
                == .array([
                    .string("error only recorded: Destination reviews.bookinfo.cluster-9 not found"),
                    .string("selected only derived: \(droppedName)"),
                ]))

        // The controller catches up on ratings-global: its drift ends; `--at` still sees it.
        let before = try head(of: store)
        let agreed = JSONText.string(["type": "MODIFIED", "object": byName["ratings-global"]!]) + "\n"
        try agreed.write(toFile: directory + "/agreed.json", atomically: true, encoding: .utf8)
        #expect(try meshledger(["ingest", "--store", store, "-f", directory + "/agreed.json"]).status == 0)
        #expect(try Self.drift(store).map { $0["name"]?.stringValue ?? "" } == ["reviews-global"])
        #expect(try Self.drift(store, at: before).count == 2)
        // The same status again is unchanged: nothing appended.
        let again = try meshledger(["ingest", "--store", store, "-f", directory + "/agreed.json"])
        #expect(again.stdout.contains("unchanged") || again.stdout.contains("nothing"), "\(again.stdout)")

        // explain and history show the recorded status beside the derived one.
        let explained = try meshledger(["explain", "--store", store, "vd", "reviews-global", "-n", "bookinfo"]).stdout
        #expect(explained.contains("Recorded status (written by the cluster's controller): ACCEPTED, differs"))
        #expect(explained.contains("error only recorded: Destination reviews.bookinfo.cluster-9 not found"))
        let history = try meshledger(["history", "--store", store, "vd", "ratings-global", "-n", "bookinfo"]).stdout
        #expect(history.contains("recorded status: ACCEPTED"))
        #expect(history.contains("recorded mesh \(ratingsMesh): INVALID → ACCEPTED"))
        // A recorded status is an observation: the generation stays 1 throughout.
        let ratingsEvents = try meshledger(
            ["log", "--store", store, "-o", "jsonl", "--kind", "virtualdestination", "--name", "ratings-global"]).stdout
            .split(separator: "\n").map { try JSONText.parse(Array($0.utf8)) }
        #expect(ratingsEvents.count == 2)
        #expect(ratingsEvents.allSatisfy { $0["generation"]?.intValue == 1 })
    }

    @Test func applyDoesNotStoreAStatusAndARecordedOneNeverBecomesTheSpec() throws {
        let directory = temporaryDirectory("drift-apply")
        let store = try Self.storeWithoutVirtualDestinations(directory)
        try meshledger(["apply", "--store", store, "-f", "\(Self.fleet)/user/virtualdestinations.yaml"])
        let got = try meshledger(["get", "--store", store, "vd", "reviews-global", "-n", "bookinfo", "-o", "json"])
            .stdout
        // Applying what `get` printed (derived status included) stores no status: no drift, no event.
        try got.write(toFile: directory + "/got.json", atomically: true, encoding: .utf8)
        let applied = try meshledger(["apply", "--store", store, "-f", directory + "/got.json"])
        #expect(applied.stdout.contains("unchanged"), "\(applied.stdout)")
        #expect(try Self.drift(store).isEmpty)
        let last = try meshledger(["log", "--store", store, "-o", "jsonl", "--name", "reviews-global"]).stdout
            .split(separator: "\n").last.map { try JSONText.parse(Array($0.utf8)) }
        #expect(last?[path: ["object", "status"]] == nil)
    }
}
