import CFuzzerDriver
import EventLog
import Glibc
import MeshLedger
import MeshModel

/// Watch-event streams (`kubectl get -w -o json --output-watch-events`), as `ingest -f` and
/// `POST /v1/events?op=ingest` read them, turned into the ingest batch. The input is also read
/// the way `ingest --follow` reads standard input, in two arrivals split in the middle: when the
/// whole stream reads as objects, the arrivals must give the same events.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzWatch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let events = try? ManifestReader.watchEvents(bytes, name: "fuzz") {
        _ = Batch.ingest(events, actor: "fuzz")
    }
    guard let whole = try? JSONText.parseStream(bytes).map(\.value) else { return 0 }
    var buffer = Array(bytes[..<(bytes.count / 2)])
    var arrived: [JSONValue] = []
    for chunk in [bytes[(bytes.count / 2)...], []] {
        guard let parsed = try? JSONText.parseCompleteValues(buffer) else {
            if whole.allSatisfy({ $0.objectValue != nil }) {
                fatalError("a stream that reads whole fails in arrivals: \(String(decoding: bytes, as: UTF8.self))")
            }
            return 0
        }
        arrived += parsed.values
        buffer.removeFirst(parsed.consumed)
        buffer += chunk
    }
    if whole.allSatisfy({ $0.objectValue != nil }) && (arrived != whole || !JSONText.isBlank(buffer)) {
        fatalError("arrivals read other values than the whole stream: \(String(decoding: bytes, as: UTF8.self))")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzWatch))
