import CFuzzerDriver
import Glibc
import MeshLedger
import MeshModel

/// The bounds `log`, `history` and `/v1/log` take in `--since` and `--until`: a sequence, an
/// RFC 3339 time, or a duration before now (`90s`, `1h30m`, `7d`).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzLogBound(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    _ = LogBound.parse(text, now: Timestamp(microseconds: 1_796_000_000_000_000))
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzLogBound))
