import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Testing

func events(_ lines: [JSONValue]) -> [UInt64] {
    lines.filter { $0["type"] == "EVENT" }.compactMap { $0["sequence"]?.intValue.map(UInt64.init) }
}

@Suite(.serialized) struct ServerTests {
    let fleet = packageRoot + "/Examples/fleet"

    func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func appendListGetAndTimeTravelOverHTTP() throws {
        let server = try ServerProcess(store: temporaryDirectory() + "/store")
        #expect(try server.json("GET", "/healthz").value["status"] == "ok")
        for cluster in ["cluster-1", "cluster-2", "cluster-3"] {
            let (status, value) = try server.json(
                "POST", "/v1/events?op=discover&actor=agent-\(cluster)",
                body: try text("\(fleet)/discovery/\(cluster).yaml"))
            #expect(status == 200, "\(value)")
        }
        let user = try ["virtualmesh", "trafficpolicies", "virtualdestinations"].map {
            try text("\(fleet)/user/\($0).yaml")
        }.joined(separator: "\n---\n")
        let applied = try server.json("POST", "/v1/events?actor=platform", body: user)
        #expect(applied.status == 200)
        #expect(applied.value[path: ["range", "from"]] == 14 && applied.value[path: ["range", "to"]] == 20)
        #expect(applied.value["outcomes"]?.arrayValue?.count == 7)

        let list = try server.json("GET", "/v1/virtualdestinations")
        #expect(list.value["sequence"] == 20)
        #expect(list.value["items"]?.arrayValue?.count == 3)
        #expect(list.value["items"]?.arrayValue?.allSatisfy { $0[path: ["status", "state"]] == "ACCEPTED" } == true)
        let resync = try server.json(
            "POST", "/v1/events?op=resync&cluster=cluster-2", body: try text("\(fleet)/discovery/cluster-2-resync.yaml")
        )
        #expect(resync.value["head"] == 22)
        let now = try server.json("GET", "/v1/virtualdestinations/bookinfo/reviews-global")
        #expect(now.value[path: ["status", "selectedDestinations"]]?.arrayValue?.count == 2)
        let then = try server.json("GET", "/v1/virtualdestinations/bookinfo/reviews-global?at=20")
        #expect(then.value[path: ["status", "selectedDestinations"]]?.arrayValue?.count == 3)
        #expect(try server.json("GET", "/v1/virtualdestinations/bookinfo/nope").status == 404)
        let outputs = try server.json("GET", "/v1/outputs?cluster=cluster-1")
        #expect(outputs.value["items"]?.arrayValue?.isEmpty == false)
        let history = try server.json("GET", "/v1/virtualdestinations/bookinfo/reviews-global/history")
        #expect(history.value.arrayValue?.map { $0[path: ["cause", "sequence"]] } == [18, 22])
        let explain = try server.json("GET", "/v1/virtualdestinations/bookinfo/reviews-global/explain")
        #expect(explain.value["warnings"]?.arrayValue?.first?["inputs"]?.arrayValue?.count == 2)
        let log = try server.request("GET", "/v1/log?cluster=cluster-2&source=discovery")
        #expect(log.body.split(separator: "\n").count == 6)
        let metrics = try server.request("GET", "/metrics")
        #expect(metrics.body.contains("meshledger_head 22"))

        // Feedback: a failed write makes the parent FAILED.
        let name = try #require(
            outputs.value["items"]?.arrayValue?.first { $0["kind"] == "ServiceEntry" }?[path: ["metadata", "name"]]?
                .stringValue)
        let failed = try server.json(
            "POST", "/v1/feedback",
            body:
                #"{"result":"failed","cluster":"cluster-1","kind":"ServiceEntry","namespace":"istio-system","name":"\#(name)","error":"quota"}"#
        )
        #expect(failed.status == 200)
        let states = try server.json("GET", "/v1/virtualdestinations").value["items"]?.arrayValue?.map {
            $0[path: ["status", "state"]]
        }
        #expect(states?.contains("FAILED") == true)
    }

    @Test func failedPreconditionsAndBadInputAppendNothing() throws {
        let server = try ServerProcess(store: temporaryDirectory() + "/store")
        _ = try server.json("POST", "/v1/events", body: virtualDestinationYAML("a"))
        let conflict = try server.json("POST", "/v1/events?expectHead=7", body: virtualDestinationYAML("b"))
        #expect(conflict.status == 409)
        #expect(conflict.value["code"] == "Conflict")
        let stale = virtualDestinationYAML("a", port: 1).replacingOccurrences(
            of: "  namespace: bookinfo\n", with: "  namespace: bookinfo\n  resourceVersion: \"9\"\n")
        #expect(try server.json("POST", "/v1/events", body: stale).status == 409)
        // Input that does not read is 400; an object its schema refuses is 422 Invalid, as on the
        // Kubernetes API (one error mapping).
        for (bad, code) in [
            ("both-oneof.yaml", 422), ("wrong-type.yaml", 422), ("malformed.yaml", 400), ("unknown-kind.yaml", 422),
            ("unknown-field.yaml", 400),
        ] {
            let (status, value) = try server.json(
                "POST", "/v1/events", body: try text("\(packageRoot)/Examples/bad/\(bad)"))
            #expect(status == code, "\(bad): \(value)")
            #expect(value["error"]?.stringValue?.isEmpty == false)
        }
        #expect(try server.json("POST", "/v1/events?op=discover", body: virtualDestinationYAML("c")).status == 400)
        #expect(try server.json("POST", "/v1/events?op=teleport", body: virtualDestinationYAML("c")).status == 400)
        #expect(try server.json("GET", "/healthz").value["head"] == 1)
    }

    @Test func watchDeliversEveryEventOnceInOrderAndResumesFromABookmark() throws {
        let server = try ServerProcess(store: temporaryDirectory() + "/store")
        _ = try server.json("POST", "/v1/events", body: virtualDestinationYAML("seed"))
        // Four writers append while a watch from 1 is open (separate processes, no shell job
        // control: the test runner's children do not get SIGCHLD for `wait`).
        let writers = try (0..<4).map { client -> Process in
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/sh")
            writer.arguments = [
                "-c",
                "for i in $(seq 1 15); do printf 'apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1\\nkind: VirtualDestination\\nmetadata: {name: w\(client)-'$i', namespace: bookinfo}\\nspec: {hostname: w\(client)-'$i'.global, port: {number: 80, protocol: http}}\\n' | curl -s -o /dev/null --data-binary @- http://127.0.0.1:\(server.port)/v1/events; done",
            ]
            try writer.run()
            return writer
        }
        let lines = try server.watch(from: 1, timeout: 4)
        for writer in writers { writer.waitUntilExit() }
        var seen = events(lines)
        // Resume from the last bookmark: the rest, nothing twice.
        let bookmark = try #require(lines.last { $0["type"] == "BOOKMARK" }?["sequence"]?.intValue)
        seen += events(try server.watch(from: UInt64(bookmark), timeout: 1))
        #expect(seen == Array(2...61), "missing or repeated: \(seen.count) events")
        let withStatus = lines.filter { ($0["statusChanges"]?.arrayValue?.count ?? 0) > 0 }
        #expect(!withStatus.isEmpty, "status changes travel with their events")
    }

    @Test func tokensReadOnlyLimitsAndExpiredWatches() throws {
        let dir = temporaryDirectory()
        let tokenFile = try write("s3cret\n", to: dir, name: "token")
        let server = try ServerProcess(
            store: dir + "/store", arguments: ["--token-file", tokenFile, "--watch-retention", "5"])
        #expect(try server.json("POST", "/v1/events", body: virtualDestinationYAML("a")).status == 401)
        #expect(try server.json("POST", "/v1/events", body: virtualDestinationYAML("a"), token: "wrong").status == 401)
        #expect(try server.json("GET", "/healthz").status == 200)
        for i in 0..<10 {
            #expect(
                try server.json("POST", "/v1/events", body: virtualDestinationYAML("v\(i)"), token: "s3cret").status
                    == 200)
        }
        let gone = try server.json("GET", "/v1/watch?from=1&timeoutSeconds=1", token: "s3cret")
        #expect(gone.status == 410)
        #expect(gone.value["code"] == "Expired")
        #expect(try server.request("GET", "/v1/watch?from=8&timeoutSeconds=0.5", token: "s3cret").status == 200)
        let huge = String(repeating: "#", count: 9 << 20)
        #expect(try server.json("POST", "/v1/events", body: huge, token: "s3cret").status == 413)

        let limited = try ServerProcess(store: dir + "/store-watch", arguments: ["--max-watchers", "1"])
        let open = Process()
        open.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        open.arguments = [
            "curl", "-s", "-o", "/dev/null", "http://127.0.0.1:\(limited.port)/v1/watch?timeoutSeconds=3",
        ]
        try open.run()
        var refused = 0
        for _ in 0..<20 where refused == 0 {
            usleep(100_000)
            if try limited.json("GET", "/v1/watch?timeoutSeconds=0.2").status == 429 { refused += 1 }
        }
        #expect(refused == 1, "a second watch beyond --max-watchers 1 gets 429")
        open.waitUntilExit()
        #expect(try limited.request("GET", "/v1/watch?timeoutSeconds=0.2").status == 200, "the slot is given back")

        let readOnly = try ServerProcess(store: dir + "/store-ro-source", arguments: [])
        _ = try readOnly.json("POST", "/v1/events", body: virtualDestinationYAML("x"))
        let ro = try ServerProcess(store: dir + "/store", arguments: ["--read-only", "--token-file", tokenFile])
        #expect(try ro.json("POST", "/v1/events", body: virtualDestinationYAML("z"), token: "s3cret").status == 403)
        #expect(
            try ro.json("GET", "/v1/virtualdestinations?namespace=bookinfo", token: "s3cret").value["items"]?
                .arrayValue?.count == 10)
    }
}
