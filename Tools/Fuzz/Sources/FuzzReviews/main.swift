import CFuzzerDriver
import Glibc
import MeshModel

/// The protobuf bodies kubectl sends: `kubectl auth can-i` and `auth whoami`'s reviews, and
/// ConfigMaps, Leases and DeleteOptions (`KubeProtobuf`; its source file is compiled into this
/// target, see docs/fuzzing.md). What reads has the shape its endpoint reads: a review's `spec`
/// object, an object's kind.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzReviews(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    for input in [bytes, Array("k8s\u{0}".utf8) + bytes] {
        if let review = KubeProtobuf.review(input), review["spec"]?.objectValue == nil {
            fatalError("a review without a spec object: \(input)")
        }
        if let object = KubeProtobuf.object(input), object["kind"]?.stringValue == nil {
            fatalError("an object without its kind: \(input)")
        }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzReviews))
