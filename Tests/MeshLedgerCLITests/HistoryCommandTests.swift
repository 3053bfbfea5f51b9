import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Testing

@Suite(.serialized) struct HistoryCommandTests {
    @Test func historyListsTransitionsWithTheirCauses() throws {
        let store = try fleetStore()
        let table = try meshledger(["history", "vd", "reviews-global", "-n", "bookinfo", "--store", store])
        #expect(table.status == 0, "\(table.stderr)")
        let rows = table.stdout.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(rows.map { $0.split(separator: " ")[0] } == ["18", "22", "23"])
        #expect(rows[1].contains("delete Destination gloo-mesh/reviews-bookinfo-cluster-2"))
        #expect(rows[1].contains("selected −reviews.bookinfo.cluster-2"))
        let json = try JSONText.parse(
            Array(
                try meshledger([
                    "history", "vd", "reviews-global", "-n", "bookinfo", "-o", "json", "--since", "20", "--store",
                    store,
                ]).stdout.utf8))
        #expect(json.arrayValue?.map { $0[path: ["cause", "sequence"]] } == [22, 23])
        #expect(json.arrayValue?.last?[path: ["cause", "actor"]] == "alice")
    }

    @Test func theHistoryPageRendersInAHeadlessBrowser() throws {
        let store = try fleetStore()
        let dir = temporaryDirectory()
        let page = dir + "/history.html"
        let result = try meshledger([
            "history", "vd", "reviews-global", "-n", "bookinfo", "--html", page, "--store", store,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        // Self-contained: no external scripts, styles, images or links.
        #expect(!html.contains("src="))
        #expect(!html.contains("<link"))
        #expect(!html.contains("href="))

        let chromium = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]
        let dom = try run(chromium[0], Array(chromium.dropFirst()) + ["--dump-dom", "file://\(page)"])
        #expect(dom.status == 0, "chromium is needed (Tools/setup --tests installs it)")
        #expect(dom.output.contains("data-rendered=\"3\""), "the script did not run")
        let lanes = dom.output.components(separatedBy: "class=\"lane\"").count - 1
        #expect(lanes == 4, "overall plus three meshes")
        #expect(dom.output.contains("data-mesh=\"istiod-istio-system-cluster-2.gloo-mesh.\""))
        #expect(dom.output.components(separatedBy: "class=\"mark").count - 1 >= 3)
        #expect(dom.output.contains("data-state=\"ACCEPTED\""))
        #expect(dom.output.contains("seq 23"), "the details panel shows the last transition")

        let png = dir + "/history.png"
        let shot = try run(
            chromium[0],
            Array(chromium.dropFirst()) + ["--screenshot=\(png)", "--window-size=1200,500", "file://\(page)"])
        #expect(shot.status == 0)
        let bytes = try #require(FileManager.default.contents(atPath: png))
        #expect(bytes.count > 10_000)
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    @Test func snapshotsReplayVerifyAndTimeTravel() throws {
        let store = try fleetStore()
        let listEmpty = try meshledger(["snapshot", "list", "--store", store])
        #expect(listEmpty.stderr.contains("No snapshots."))
        #expect(
            try meshledger(["snapshot", "create", "--at", "15", "--store", store]).stdout.hasPrefix(
                "snapshot at seq 15"))
        #expect(try meshledger(["snapshot", "create", "--store", store]).stdout.hasPrefix("snapshot at seq 23"))
        let list = try meshledger(["snapshot", "list", "--store", store]).stdout
        #expect(list.split(separator: "\n").count == 3 && list.contains("yes"))
        let replay = try meshledger(["replay", "--verify", "--store", store])
        #expect(replay.status == 0)
        #expect(replay.stdout.contains("ok: 2 snapshots agree with the replay"))
        #expect(
            try meshledger(["verify", "--store", store]).stdout.contains("ok: 2 snapshots agree with a full replay"))
        let digest = try JSONText.parse(Array(try meshledger(["stats", "-o", "json", "--store", store]).stdout.utf8))[
            "stateDigest"]?.stringValue
        #expect(replay.stdout.contains("state digest \(digest ?? "?")"))

        // Time travel by recorded time: the time of event 20 gives the state at 20.
        let event20 = try JSONText.parse(
            Array(
                try meshledger(["log", "--since", "20", "--until", "20", "-o", "jsonl", "--store", store]).stdout.utf8))
        let time = try #require(event20["recordedAt"]?.stringValue)
        let atTime = try meshledger(["get", "vd", "-A", "--at", time, "--store", store])
        let atSeq = try meshledger(["get", "vd", "-A", "--at", "20", "--store", store])
        #expect(atTime.stdout == atSeq.stdout)
        #expect(
            try meshledger(["snapshot", "prune", "--keep", "1", "--store", store]).stdout.contains(
                "deleted snapshots at seq 15"))

        // Automatic snapshots every N events.
        let auto = temporaryDirectory() + "/store"
        let file = try write(
            virtualDestinationYAML("a") + "\n---\n" + virtualDestinationYAML("b"), to: temporaryDirectory(),
            name: "vds.yaml")
        let applied = try meshledger(
            ["apply", "-f", file, "--store", auto], environment: ["MESHLEDGER_SNAPSHOT_EVERY": "2"])
        #expect(applied.stderr.contains("snapshot taken at seq 2"))
        // An automatic snapshot translates nothing: it records the contributions already settled
        // (none here), and the list says so instead of showing a digest it does not have.
        let autoList = try meshledger(["snapshot", "list", "--store", auto]).stdout
        #expect(autoList.contains("partial (0 of 2 recorded)"), "\(autoList)")
        #expect(try meshledger(["verify", "--store", auto]).stdout.contains("ok: 1 snapshot agree with a full replay"))

        let diff = try meshledger([
            "diff", "--from", "20", "--to", "23", "vd", "reviews-global", "-n", "bookinfo", "--cluster", "cluster-1",
            "--store", store,
        ])
        #expect(diff.stdout.hasPrefix("--- seq 20\n+++ seq 23\n"))
        #expect(diff.stdout.contains("\n-  observedGeneration: 1\n"))
        #expect(diff.stdout.contains("\n+  observedGeneration: 2\n"))
    }
}
