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

    @Test func everyGoldenOutputValidatesAgainstIstiosCRDSchemas() throws {
        let (status, output) = try validateIstio(
            GoldenTests.scenarios.map { "\(scenariosDirectory)/\($0)/expected-outputs.yaml" },
            crds: "\(scenariosDirectory)/istio-crds.yaml")
        #expect(status == 0, "\(output)")
        let summary = try #require(output.split(separator: "\n").last)
        #expect(summary.hasSuffix("passed, 0 failed"), "\(output)")
        #expect(Int(summary.split(separator: " ")[0]) ?? 0 >= 20, "too few objects validated: \(summary)")
    }
}
