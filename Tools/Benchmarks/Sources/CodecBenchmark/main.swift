// Measures the storage encoding of event objects (docs/decisions/0002-event-encoding.md):
// encode and decode speed and size of the packed binary format against canonical JSON read with
// MeshLedger's own parser and with Foundation's JSONSerialization, on the example fleet's objects.
import Foundation
import MeshModel

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Runs `body` over all objects `rounds` times; returns objects per second.
func measure(_ label: String, rounds: Int, count: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()  // warm up
    let start = now()
    for _ in 0..<rounds { try body() }
    let rate = Double(rounds * count) / (now() - start)
    return rate
}

let root = CommandLine.arguments.dropFirst().first ?? "Examples/fleet"
var objects: [JSONValue] = []
for directory in ["discovery", "user"] {
    let path = "\(root)/\(directory)"
    for file in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
        let bytes = Array(FileManager.default.contents(atPath: "\(path)/\(file)")!)
        objects += try ManifestReader.manifests(bytes, name: file).map(\.object)
    }
}
precondition(!objects.isEmpty, "no objects found under \(root)")

let packed = objects.map(PackedValue.encode)
let json = objects.map(JSONText.canonical)
let packedBytes = packed.reduce(0) { $0 + $1.count }
let jsonBytes = json.reduce(0) { $0 + $1.count }
let rounds = max(1, 200_000 / objects.count)
var sink = 0

let encodePacked = measure("encode packed", rounds: rounds, count: objects.count) {
    for object in objects { sink &+= PackedValue.encode(object).count }
}
let encodeJSON = measure("encode json", rounds: rounds, count: objects.count) {
    for object in objects { sink &+= JSONText.canonical(object).count }
}
let decodePacked = try measure("decode packed", rounds: rounds, count: objects.count) {
    for record in packed { if case .object(let o) = try PackedValue.decode(record) { sink &+= o.count } }
}
let decodeJSON = try measure("decode json", rounds: rounds, count: objects.count) {
    for record in json { if case .object(let o) = try JSONText.parse(record) { sink &+= o.count } }
}
let decodeFoundation = try measure("decode foundation", rounds: rounds, count: objects.count) {
    for record in json {
        if let o = try JSONSerialization.jsonObject(with: Data(record)) as? [String: Any] { sink &+= o.count }
    }
}

// A fold reads a Destination's typed view only: whole decode against a decode with its shape.
let destinations = objects.indices.filter { objects[$0]["kind"] == "Destination" }.map { packed[$0] }
// A large service: the first Destination with its first endpoint repeated 200 times.
var large: [[UInt8]] = []
if let first = objects.first(where: { $0["kind"] == "Destination" }),
    let endpoint = first[path: ["spec", "kubeService", "endpointSubsets"]]?.arrayValue?.first?["endpoints"]?
        .arrayValue?.first,
    case .object(var root) = first, case .object(var spec)? = root["spec"],
    case .object(var kube)? = spec["kubeService"]
{
    kube["endpointSubsets"] = [["endpoints": .array(Array(repeating: endpoint, count: 200))]]
    spec["kubeService"] = .object(kube)
    root["spec"] = .object(spec)
    large = [PackedValue.encode(.object(root))]
}
/// Decoding and typing `records` whole and with `Destination.shape`, alternating, fastest of 5 each
/// (the machine's noise is larger than the difference).
@MainActor func wholeAndShaped(_ records: [[UInt8]], rounds: Int) throws -> (whole: Double, shaped: Double) {
    var whole: [Double] = []
    var shaped: [Double] = []
    for _ in 0..<5 {
        whole.append(
            try measure("whole", rounds: rounds, count: records.count) {
                for record in records { sink &+= Destination(object: try PackedValue.decode(record)).ports.count }
            })
        shaped.append(
            try measure("shaped", rounds: rounds, count: records.count) {
                for record in records {
                    sink &+= Destination(object: try PackedValue.decode(record, shape: Destination.shape)).ports.count
                }
            })
    }
    return (whole.max() ?? 0, shaped.max() ?? 0)
}
let large200 = try wholeAndShaped(large, rounds: 2000)
let typed = try wholeAndShaped(destinations, rounds: max(1, 400_000 / max(destinations.count, 1)))

func row(_ name: String, _ rate: Double, _ base: Double) -> String {
    name.padding(toLength: 44, withPad: " ", startingAt: 0)
        + String(format: "%12.0f objects/s   %5.2fx", rate, rate / base)
}
print("objects: \(objects.count) from \(root), \(rounds) rounds each")
print(
    "size: packed \(packedBytes / objects.count) B/object, canonical JSON \(jsonBytes / objects.count) B/object"
        + String(format: " (packed is %.0f%% of JSON)", Double(packedBytes) / Double(jsonBytes) * 100))
print(row("decode packed (stored format)", decodePacked, decodePacked))
print(row("decode canonical JSON, MeshLedger parser", decodeJSON, decodePacked))
print(row("decode canonical JSON, JSONSerialization", decodeFoundation, decodePacked))
print(row("Destination (\(destinations.count)): whole, then typed", typed.whole, typed.whole))
print(row("Destination: with Destination.shape, typed", typed.shaped, typed.whole))
print(row("Destination, 200 endpoints: whole, typed", large200.whole, large200.whole))
print(row("Destination, 200 endpoints: shaped, typed", large200.shaped, large200.whole))
print(row("encode packed", encodePacked, encodePacked))
print(row("encode canonical JSON", encodeJSON, encodePacked))
if sink == 42 { print("") }
