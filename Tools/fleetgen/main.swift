// fleetgen: writes a seeded, realistic fleet workload as files the meshledger CLI ingests.
//
//   fleetgen [--clusters C] [--services S] [--vds V] [--churn N] [--seed N] [-o DIR]
//
// DIR/discovery/cluster-K.yaml   what each cluster's agent reports (`meshledger discover -f`)
// DIR/user/fleet.yaml            VirtualMesh, TrafficPolicies, VirtualDestinations (`meshledger apply -f`)
// DIR/watch/churn.json           N changes after that as a watch stream (`meshledger ingest -f`)
import EventLog
import Foundation
import MeshModel
import Workload

var values: [String: String] = [:]
var arguments = Array(CommandLine.arguments.dropFirst())
while let flag = arguments.first {
    arguments.removeFirst()
    guard let value = arguments.first, flag.hasPrefix("-") else {
        FileHandle.standardError.write(
            Data("usage: fleetgen [--clusters C] [--services S] [--vds V] [--churn N] [--seed N] [-o DIR]\n".utf8))
        exit(2)
    }
    arguments.removeFirst()
    values[flag == "-o" ? "output" : String(flag.drop { $0 == "-" })] = value
}
@MainActor func int(_ name: String, _ fallback: Int) -> Int {
    guard let text = values[name] else { return fallback }
    guard let value = Int(text), value > 0 else {
        FileHandle.standardError.write(Data("fleetgen: --\(name) takes a positive number, not \(text)\n".utf8))
        exit(2)
    }
    return value
}

let parameters = FleetWorkload.Parameters(
    clusters: int("clusters", 3), servicesPerCluster: int("services", 10), virtualDestinations: int("vds", 10),
    seed: UInt64(int("seed", 1)))
let directory = values["output"] ?? "fleet"
var workload = FleetWorkload(parameters)
let batches = workload.initialBatches()
let fileManager = FileManager.default
for sub in ["discovery", "user", "watch"] {
    try fileManager.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
}

func object(_ change: Change) -> JSONValue? {
    if case .upsert(let manifest) = change.operation { return manifest.object }
    return nil
}

var user: [JSONValue] = []
for batch in batches {
    let objects = batch.compactMap(object)
    if batch.first?.source == .discovery, let first = batch.first {
        let cluster = first.actor.replacingOccurrences(of: "agent-", with: "")
        try YAMLText.emitDocuments(objects).write(
            toFile: "\(directory)/discovery/\(cluster).yaml", atomically: true, encoding: .utf8)
    } else {
        user += objects
    }
}
try YAMLText.emitDocuments(user).write(toFile: "\(directory)/user/fleet.yaml", atomically: true, encoding: .utf8)

var lines: [String] = []
var seen = Set(batches.flatMap { $0.map(\.key) })
for _ in 0..<int("churn", 1000) {
    for change in workload.nextBatch() {
        switch change.operation {
        case .upsert(let manifest):
            let type = seen.insert(manifest.key).inserted ? "ADDED" : "MODIFIED"
            lines.append(JSONText.string(["type": .string(type), "object": manifest.object]))
        case .delete(let key, _):
            seen.remove(key)
            let stub: JSONValue = [
                "apiVersion": .string(key.kind.apiVersion), "kind": .string(key.kind.rawValue),
                "metadata": ["name": .string(key.name), "namespace": .string(key.namespace)],
            ]
            lines.append(JSONText.string(["type": "DELETED", "object": stub]))
        }
    }
}
try (lines.joined(separator: "\n") + "\n").write(
    toFile: "\(directory)/watch/churn.json", atomically: true, encoding: .utf8)
print(
    "wrote \(directory): \(parameters.clusters) clusters x \(parameters.servicesPerCluster) services, \(parameters.virtualDestinations) VirtualDestinations, \(lines.count) watch events"
)
