import CFuzzerDriver
import EventLog
import Glibc
import MeshModel

/// The replication wire format (`LogEntry`, `BatchWire`; its source file is compiled into this
/// target, see docs/fuzzing.md): what a replica reads from etcd and what the writer reads from a
/// follower. The first byte picks the reader: 0, a log entry (bytes); 1, a forwarded batch
/// (JSON); 2, an append's outcome (JSON). What decodes must encode and decode to the same.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzWire(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let mode = bytes.first else { return 0 }
    let rest = Array(bytes.dropFirst())
    switch mode % 3 {
    case 0:
        guard let records = LogEntry.decode(rest) else { return 0 }
        guard LogEntry.decode(LogEntry.encode(records)) == records else {
            fatalError("a log entry does not round-trip: \(rest)")
        }
    case 1:
        guard let value = try? JSONText.parse(rest), let batch = try? BatchWire.decode(value) else { return 0 }
        let encoded = BatchWire.encode(batch)
        guard let again = try? BatchWire.decode(encoded), BatchWire.encode(again) == encoded else {
            fatalError("a forwarded batch does not round-trip: \(JSONText.string(value))")
        }
    default:
        guard let value = try? JSONText.parse(rest), let result = try? BatchWire.decodeResult(value) else { return 0 }
        let encoded = BatchWire.encode(result)
        guard let again = try? BatchWire.decodeResult(encoded), BatchWire.encode(again) == encoded else {
            fatalError("an append's outcome does not round-trip: \(JSONText.string(value))")
        }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzWire))
