import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Testing

/// The example fleet's story, through the binary, into a new store; returns the store path.
func fleetStore() throws -> String {
    let store = temporaryDirectory() + "/store"
    let fleet = packageRoot + "/Examples/fleet"
    let steps: [[String]] = [
        [
            "discover", "-f", "\(fleet)/discovery/cluster-1.yaml", "-f", "\(fleet)/discovery/cluster-2.yaml", "-f",
            "\(fleet)/discovery/cluster-3.yaml",
        ],
        [
            "apply", "--actor", "platform", "-f", "\(fleet)/user/virtualmesh.yaml", "-f",
            "\(fleet)/user/trafficpolicies.yaml", "-f", "\(fleet)/user/virtualdestinations.yaml",
        ],
        [
            "discover", "--agent", "agent-cluster-2", "--resync", "--cluster", "cluster-2", "-f",
            "\(fleet)/discovery/cluster-2-resync.yaml",
        ],
        ["apply", "--actor", "alice", "-f", "\(fleet)/user/reviews-edit.yaml"],
    ]
    for step in steps {
        let result = try meshledger(step + ["--store", store])
        #expect(result.status == 0, "\(step): \(result.stderr)")
    }
    return store
}

@Suite(.serialized) struct ProjectionCommandTests {
    @Test func getListsVirtualDestinationsWithTheirState() throws {
        let store = try fleetStore()
        let table = try meshledger(["get", "virtualdestinations", "-A", "--store", store])
        let lines = table.stdout.split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        #expect(lines.first == ["NAME", "NAMESPACE", "HOSTNAME", "STATE", "MESHES", "SELECTED"])
        #expect(lines.contains(["reviews-global", "bookinfo", "reviews.global", "ACCEPTED", "3/3", "2"]))
        let empty = try meshledger(["get", "vd", "--store", store])
        #expect(empty.stdout.isEmpty && empty.stderr.contains("No resources found in default namespace."))

        let yaml = try meshledger(["get", "vd", "reviews-global", "-n", "bookinfo", "-o", "yaml", "--store", store])
        let object = try #require(try YAMLText.parseDocuments(yaml.stdout).first?.value)
        #expect(object[path: ["metadata", "generation"]] == 2)
        #expect(object[path: ["metadata", "resourceVersion"]] == "23")
        #expect(object[path: ["status", "observedGeneration"]] == 2)
        #expect(
            object[path: ["status", "warnings"]] == [
                "Backing destination reviews.bookinfo.cluster-2 not found in discovery; skipped"
            ])
        let json = try meshledger(["get", "vd", "reviews-global", "-n", "bookinfo", "-o", "json", "--store", store])
        #expect(try JSONText.parse(Array(json.stdout.utf8)) == object)

        // The past: before the resync, cluster-2's reviews was selected.
        let before = try meshledger([
            "get", "vd", "reviews-global", "-n", "bookinfo", "-o", "json", "--at", "20", "--store", store,
        ])
        let past = try JSONText.parse(Array(before.stdout.utf8))
        #expect(past[path: ["status", "selectedDestinations"]]?.arrayValue?.count == 3)
        #expect(past[path: ["metadata", "generation"]] == 1)

        let destinations = try meshledger(["get", "destinations", "-n", "gloo-mesh", "--store", store])
        #expect(destinations.stdout.contains("reviews-bookinfo-cluster-1"))
        #expect(!destinations.stdout.contains("reviews-bookinfo-cluster-2"))
        let missing = try meshledger(["get", "vd", "nope", "-n", "bookinfo", "--store", store])
        #expect(missing.status == 1 && missing.stderr.contains("not found"))
        let badKind = try meshledger(["get", "gateways", "--store", store])
        #expect(badKind.status == 1 && badKind.stderr.contains("doesn't have a resource type"))
    }

    @Test func outputsAreGroupedByClusterAndReadyToApply() throws {
        let store = try fleetStore()
        let all = try meshledger(["outputs", "--store", store])
        #expect(all.stdout.hasPrefix("# cluster: cluster-1\n---\n"))
        let documents = try YAMLText.parseDocuments(all.stdout).map(\.value)
        #expect(documents.count > 10)
        #expect(documents.allSatisfy { $0["apiVersion"] == "networking.istio.io/v1alpha3" })
        let one = try meshledger(["outputs", "--cluster", "cluster-3", "-o", "json", "--store", store])
        let list = try JSONText.parse(Array(one.stdout.utf8))
        let items = try #require(list["items"]?.arrayValue)
        #expect(!items.isEmpty)
        #expect(items.allSatisfy { $0[path: ["metadata", "labels", "cluster.multicluster.solo.io"]] == "cluster-3" })

        // The CLI's outputs validate against Istio's CRD schemas too.
        let file = temporaryDirectory() + "/outputs.yaml"
        try all.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, report) = try validateIstio([file])
        #expect(status == 0, "\(report)")
        #expect(report.contains("\(documents.count) passed, 0 failed"), "\(report)")
    }

    @Test func explainNamesTheEventsBehindEachIssue() throws {
        let store = try fleetStore()
        let explain = try meshledger(["explain", "vd", "reviews-global", "-n", "bookinfo", "--store", store])
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("VirtualDestination bookinfo/reviews-global: ACCEPTED at seq 23"))
        #expect(
            explain.stdout.contains(
                "warning (all meshes): Backing destination reviews.bookinfo.cluster-2 not found in discovery; skipped"))
        #expect(
            explain.stdout.contains(
                "Destination gloo-mesh/reviews-bookinfo-cluster-2: deleted at seq 22 by agent-cluster-2 (discovery"))
        #expect(explain.stdout.contains("changed at seq 23 by alice (user"))
    }

    @Test func aFailedWriteReportMakesItFailedAndAnAppliedOneClearsIt() throws {
        let store = try fleetStore()
        let outputs = try JSONText.parse(
            Array(try meshledger(["outputs", "--cluster", "cluster-1", "-o", "json", "--store", store]).stdout.utf8))
        let entry = try #require(
            outputs["items"]?.arrayValue?.first {
                $0["kind"] == "ServiceEntry" && $0[path: ["metadata", "name"]] == "reviews-global-bookinfo"
            })
        let name = try #require(entry[path: ["metadata", "name"]]?.stringValue)
        let failed = try meshledger([
            "report", "failed", "--cluster", "cluster-1", "--kind", "ServiceEntry", "--name", name, "-n",
            "istio-system", "--error", "denied by webhook", "--store", store,
        ])
        #expect(failed.status == 0, "\(failed.stderr)")
        let status = try JSONText.parse(
            Array(
                try meshledger(["get", "vd", "reviews-global", "-n", "bookinfo", "-o", "json", "--store", store]).stdout
                    .utf8))["status"]
        #expect(status?["state"] == "FAILED")
        #expect(status?["errors"] == ["write error: denied by webhook"])
        #expect(
            try meshledger(["explain", "vd", "reviews-global", "-n", "bookinfo", "--store", store]).stdout.contains(
                "SyncResult istio-system/"))
        _ = try meshledger([
            "report", "applied", "--cluster", "cluster-1", "--kind", "ServiceEntry", "--name", name, "-n",
            "istio-system", "--store", store,
        ])
        let cleared = try JSONText.parse(
            Array(
                try meshledger(["get", "vd", "reviews-global", "-n", "bookinfo", "-o", "json", "--store", store]).stdout
                    .utf8))["status"]
        #expect(cleared?["state"] == "ACCEPTED")
        let usage = try meshledger([
            "report", "failed", "--cluster", "c", "--kind", "ServiceEntry", "--name", "x", "-n", "y", "--store", store,
        ])
        #expect(usage.status != 0 && usage.stderr.contains("a failed result needs the error text"))
    }

    @Test func theStateDigestIsTheSameInTwoProcesses() throws {
        let store = try fleetStore()
        let first = try JSONText.parse(Array(try meshledger(["stats", "-o", "json", "--store", store]).stdout.utf8))
        let second = try JSONText.parse(Array(try meshledger(["stats", "-o", "json", "--store", store]).stdout.utf8))
        let digest = try #require(first["stateDigest"]?.stringValue)
        #expect(digest.count == 64)
        #expect(second["stateDigest"]?.stringValue == digest)
        // A second store built from the same inputs in other processes agrees too.
        let other = try fleetStore()
        #expect(
            try JSONText.parse(Array(try meshledger(["stats", "-o", "json", "--store", other]).stdout.utf8))[
                "stateDigest"]?.stringValue == digest)
        // And a change moves it.
        _ = try meshledger(["delete", "vd", "ratings-global", "-n", "bookinfo", "--store", other])
        #expect(
            try JSONText.parse(Array(try meshledger(["stats", "-o", "json", "--store", other]).stdout.utf8))[
                "stateDigest"]?.stringValue != digest)
    }
}
