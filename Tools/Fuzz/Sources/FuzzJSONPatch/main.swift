import CFuzzerDriver
import Glibc
import MeshModel

/// JSON patch (RFC 6902) and merge patch (RFC 7386). The input is one JSON array
/// `[document, patch]`: the patch is applied as a JSON patch and as a merge patch; merging the
/// same patch twice must change nothing more (RFC 7386 is idempotent).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzJSONPatch(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let input = try? JSONText.parse(bytes), case .array(let pair) = input, pair.count == 2 else { return 0 }
    let (document, patch) = (pair[0], pair[1])
    _ = try? JSONPatch.apply(patch, to: document)
    let merged = JSONPatch.merge(document, patch)
    guard JSONPatch.merge(merged, patch) == merged else {
        fatalError("merge patch is not idempotent: \(JSONText.string(input))")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzJSONPatch))
