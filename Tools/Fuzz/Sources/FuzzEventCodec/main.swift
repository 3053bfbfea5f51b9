import CFuzzerDriver
import EventLog
import Glibc
import MeshModel
import Projection

/// The event codec's decoder over stored records (unverified: a checksum would stop every
/// mutation), whole and with the fold's shapes. A record that decodes is encoded again, and that
/// encoding must decode and encode to the same bytes.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzEventCodec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? EventCodec.decode(bytes, objects: Projection.foldShapes)
    guard let event = try? EventCodec.decode(bytes) else { return 0 }
    let record = EventCodec.encode(event).record
    guard let again = try? EventCodec.decode(record, verify: true), EventCodec.encode(again).record == record else {
        fatalError("a decoded event does not encode and decode to the same record")
    }
    return 0
}

/// `FuzzEventCodec --write-seeds DIR` writes a few encoded events (the committed seeds).
if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "--write-seeds" {
    let key = ObjectKey(kind: .destination, namespace: "bookinfo", name: "reviews")
    let object: JSONValue = .object([
        "apiVersion": .string("discovery.mesh.gloo.solo.io/v1"), "kind": .string("Destination"),
        "metadata": .object(["name": .string("reviews"), "namespace": .string("bookinfo")]),
        "spec": .object(["ports": .array([.int(9080), .double(1.5), .bool(true), .null])]),
    ])
    let events = [
        Event(
            sequence: 1, recordedAt: Timestamp(microseconds: 1_796_000_000_000_000), source: .discovery,
            actor: "agent", originCluster: "cluster-1", key: key, change: .upsert, generation: 0, object: object),
        Event(
            sequence: 2, recordedAt: Timestamp(microseconds: 1_796_000_000_000_001), source: .user, actor: "alice",
            originCluster: nil, key: ObjectKey(kind: .trafficPolicy, namespace: "default", name: "p"),
            change: .delete, generation: 3, object: .object([:]), groups: ["system:masters", "dev"]),
    ]
    for (index, event) in events.enumerated() {
        let path = CommandLine.arguments[2] + "/event-\(index + 1).bin"
        let record = EventCodec.encode(event).record
        guard let file = fopen(path, "wb"), fwrite(record, 1, record.count, file) == record.count else {
            fatalError("cannot write \(path)")
        }
        fclose(file)
    }
    exit(0)
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzEventCodec))
