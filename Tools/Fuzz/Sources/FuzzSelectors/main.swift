import CFuzzerDriver
import Glibc
import MeshModel

/// Label and field selectors (`labelSelector=`, `fieldSelector=`, `-l`), matched against a few
/// fixed objects.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSelectors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    if let selector = try? LabelSelector(text) {
        _ = selector.matches([:])
        _ = selector.matches(["app": "reviews", "tier": "db", "env": "a"])
    }
    if let selector = try? FieldSelector(text) {
        _ = selector.matches(name: "reviews", namespace: "default")
        _ = selector.pinned("metadata.name")
        _ = selector.pinned("metadata.namespace")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzSelectors))
