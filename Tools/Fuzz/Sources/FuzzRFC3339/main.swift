import CFuzzerDriver
import Glibc
import MeshModel

/// RFC 3339 times (`--since`, `--until`, `metadata.creationTimestamp`). A parsed time in years
/// 0000 to 9999 is formatted again and must read back as the same time.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzRFC3339(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    if let time = RFC3339.parse(text) {
        let formatted = RFC3339.format(time)
        if formatted.utf8.count == 27 && RFC3339.parse(formatted) != time {
            fatalError("\(text) formats as \(formatted), which does not read back")
        }
        _ = RFC3339.formatSeconds(time)
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzRFC3339))
