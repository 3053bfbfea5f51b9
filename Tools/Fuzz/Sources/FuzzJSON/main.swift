import CFuzzerDriver
import Glibc
import MeshModel

/// JSON text: one value, a stream of values, and the complete values of a growing stream. What
/// parses is written canonically and must read back as the same value.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let value = try? JSONText.parse(bytes) {
        let canonical = JSONText.canonical(value)
        guard let again = try? JSONText.parse(canonical), again == value else {
            fatalError("canonical JSON does not read back: \(String(decoding: canonical, as: UTF8.self))")
        }
        _ = JSONText.string(value, pretty: true)
    }
    _ = try? JSONText.parseStream(bytes)
    _ = try? JSONText.parseCompleteValues(bytes)
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzJSON))
