import CFuzzerDriver
import Foundation
import Glibc

/// Query strings (`QueryParameters`, the HTTP front ends' one reader of them; its source file is
/// compiled into this target, see docs/fuzzing.md). Every parameter a route reads is looked up.
/// A value found must not contain the pair separator it was split at, unless it was percent-encoded.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzQuery(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let query = String(decoding: bytes, as: UTF8.self)
    for name in [
        "watch", "labelSelector", "fieldSelector", "resourceVersion", "timeoutSeconds", "limit", "continue", "at",
        "since", "dryRun", "fieldManager", "", "a b", "%",
    ] {
        if let value = QueryParameters.value(of: name, in: query), value.contains("&"), !query.contains("%26") {
            fatalError("a value holds the separator: \(query)")
        }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzQuery))
