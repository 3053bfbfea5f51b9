import CFuzzerDriver
import Foundation
import Glibc
import MeshModel

/// kube-apiserver's access files as `serve` reads them (`AccessFiles`; its source file is compiled
/// into this target, see docs/fuzzing.md): the static token file (CSV with quoted groups) and the
/// ABAC policy file (a JSON policy a line, v1beta1 or v0). The same text is read as both. A token
/// line read must name its token and user.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzAccessFiles(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    if let tokens = try? AccessFiles.tokens(text, path: "tokens.csv") {
        for (token, identity) in tokens where token.isEmpty || identity.user.isEmpty {
            fatalError("a token line without its token or user was read: \(text)")
        }
    }
    _ = try? AccessFiles.policies(text, path: "policy.jsonl")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzAccessFiles))
