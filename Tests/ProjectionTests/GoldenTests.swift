import EventLog
import Foundation
import MeshLedgerTesting
import MeshModel
import Testing
import Workload

@testable import Projection

/// Where the golden scenarios live in the source tree.
let scenariosDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scenarios")
    .path

/// Istio's CRDs for the three output kinds (bundled: the Kubernetes API's OpenAPI serves them).
let istioCRDs = packageRoot + "/Sources/MeshModel/Resources/crds/networking.istio.io_v1alpha3_crds.yaml"

/// Runs a scenario's steps.txt and returns the projection.
func runScenario(_ name: String) throws -> Projection {
    let directory = "\(scenariosDirectory)/\(name)"
    let steps = try String(contentsOfFile: "\(directory)/steps.txt", encoding: .utf8)
    let ledger = try Ledger()
    for line in steps.split(separator: "\n")
    where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
        let words = line.split(separator: " ").map(String.init)
        let text = { (path: String) in try String(contentsOfFile: "\(directory)/\(path)", encoding: .utf8) }
        switch words[0] {
        case "apply": try ledger.apply(text(words[1]))
        case "delete": try ledger.delete(text(words[1]))
        case "resync": try ledger.resync(cluster: words[1], text(words[2]))
        case "watch": try ledger.watch(text(words[1]))
        default: Issue.record("unknown step \(line)")
        }
    }
    return ledger.project()
}

/// Compares `actual` with the file, or writes it when MESHLEDGER_UPDATE_GOLDEN=1.
func checkGolden(_ actual: String, _ path: String) throws {
    if ProcessInfo.processInfo.environment["MESHLEDGER_UPDATE_GOLDEN"] == "1" {
        try actual.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    let expected = try String(contentsOfFile: path, encoding: .utf8)
    #expect(actual == expected, "\(path) differs; rerun with MESHLEDGER_UPDATE_GOLDEN=1 and review the diff")
}

@Suite struct GoldenTests {
    static let scenarios = ["fleet-story", "hostname-conflict", "partial-export"]

    @Test(arguments: scenarios)
    func scenarioStatusesAndOutputsMatchTheGoldenFiles(_ name: String) throws {
        let projection = try runScenario(name)
        var statuses = JSONObject()
        for (ref, state) in projection.states { statuses["\(ref.namespace)/\(ref.name)"] = state.status.json }
        try checkGolden(YAMLText.emit(.object(statuses)), "\(scenariosDirectory)/\(name)/expected-status.yaml")
        try checkGolden(
            YAMLText.emitDocuments(projection.outputObjects.map(\.manifest)),
            "\(scenariosDirectory)/\(name)/expected-outputs.yaml")
    }

    /// A snapshot records each VirtualDestination's digest contribution, which covers its
    /// outputs, and a restore trusts it instead of translating everything again (decision 0006,
    /// addendum). So a change to what translation (or a status) produces must also change
    /// `Projection.snapshotFormat`, or older snapshots would restore a digest that a replay does
    /// not give. This pins the golden scenarios' state digests to the format.
    @Test func aChangeToTheDerivedStateBumpsTheSnapshotFormat() throws {
        let digests = try GoldenTests.scenarios.map { try runScenario($0).digest.hex }.joined(separator: " ")
        let pins: [UInt8: String] = [
            3: """
            df179a2e18ecf52c7905367bba56325675f2ec736788e488dc03ecc17a5d4af9 \
            4ae1d498ff745816a3f026b6a56817efda6a25e00c4cfbac99f86e7e95ef5586 \
            ee6170c8d3665ea5566be713ed33de903ee9aca1bad06ce726adfe2bae991fff
            """,
            // Format 4 changed what a snapshot holds (inputs by their events), not the state.
            4: """
            df179a2e18ecf52c7905367bba56325675f2ec736788e488dc03ecc17a5d4af9 \
            4ae1d498ff745816a3f026b6a56817efda6a25e00c4cfbac99f86e7e95ef5586 \
            ee6170c8d3665ea5566be713ed33de903ee9aca1bad06ce726adfe2bae991fff
            """,
            // Format 5 lets a snapshot leave contributions out, not the state.
            5: """
            df179a2e18ecf52c7905367bba56325675f2ec736788e488dc03ecc17a5d4af9 \
            4ae1d498ff745816a3f026b6a56817efda6a25e00c4cfbac99f86e7e95ef5586 \
            ee6170c8d3665ea5566be713ed33de903ee9aca1bad06ce726adfe2bae991fff
            """,
            // Format 6 (decision 0014, 0015) changed the state only where names collide, names are
            // long, or the new rules apply: none of the golden scenarios.
            6: """
            df179a2e18ecf52c7905367bba56325675f2ec736788e488dc03ecc17a5d4af9 \
            4ae1d498ff745816a3f026b6a56817efda6a25e00c4cfbac99f86e7e95ef5586 \
            ee6170c8d3665ea5566be713ed33de903ee9aca1bad06ce726adfe2bae991fff
            """,
            // Format 7 records when each status last changed, not another state.
            7: """
            df179a2e18ecf52c7905367bba56325675f2ec736788e488dc03ecc17a5d4af9 \
            4ae1d498ff745816a3f026b6a56817efda6a25e00c4cfbac99f86e7e95ef5586 \
            ee6170c8d3665ea5566be713ed33de903ee9aca1bad06ce726adfe2bae991fff
            """,
        ]
        #expect(
            pins[Projection.snapshotFormat] == digests,
            """
            the golden scenarios derive another state (\(digests)): bump Projection.snapshotFormat and \
            pin the new digests here
            """)
    }

    @Test func everyGoldenOutputValidatesAgainstIstiosCRDSchemas() throws {
        let (status, output) = try validateIstio(
            GoldenTests.scenarios.map { "\(scenariosDirectory)/\($0)/expected-outputs.yaml" },
            crds: istioCRDs)
        #expect(status == 0, "\(output)")
        let summary = try #require(output.split(separator: "\n").last)
        #expect(summary.hasSuffix("passed, 0 failed"), "\(output)")
        #expect(Int(summary.split(separator: " ")[0]) ?? 0 >= 20, "too few objects validated: \(summary)")
    }
}
