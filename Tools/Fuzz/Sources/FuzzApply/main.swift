import CFuzzerDriver
import Glibc
import MeshLedger
import MeshModel

/// Server-side apply (`FieldOwnership.apply`, what `kubectl apply --server-side` and a PATCH with
/// `application/apply-patch+yaml` reach) and the ownership of ordinary writes
/// (`FieldOwnership.update`). The input is one JSON array `[applied, current]`; `current` may carry
/// `metadata.managedFields`. Applying the same object again by the same manager must not conflict
/// and must change nothing.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzApply(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let input = try? JSONText.parse(bytes), case .array(let pair) = input, pair.count == 2 else { return 0 }
    let (applied, current) = (pair[0], pair[1])
    _ = FieldOwnership.update(from: current, to: applied, manager: "editor", apiVersion: "v1", time: "t")
    _ = FieldOwnership.update(from: nil, to: applied, manager: "editor", apiVersion: "v1", time: "t")
    for force in [false, true] {
        guard
            let once = try? FieldOwnership.apply(
                applied, to: current, manager: "fuzz", force: force, apiVersion: "v1", time: "t")
        else { continue }
        guard
            let twice = try? FieldOwnership.apply(
                applied, to: once, manager: "fuzz", force: false, apiVersion: "v1", time: "t"),
            twice == once
        else {
            fatalError("applying the same object twice changed it or conflicted: \(JSONText.string(input))")
        }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzApply))
