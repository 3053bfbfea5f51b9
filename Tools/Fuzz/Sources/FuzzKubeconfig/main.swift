import CFuzzerDriver
import Foundation
import Glibc
import MeshModel

/// kubeconfig files (`KubeconfigContext`, what `record` and `kubeconfig` read; its source file is
/// compiled into this target, see docs/fuzzing.md): YAML, the current or a named context, its
/// cluster and user, inline `-data` fields in base64. Files it names are read from the fuzz
/// directory only (relative paths), so the input cannot name a device.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzKubeconfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    for context in [nil, "dev", "prod"] as [String?] {
        _ = try? KubeconfigContext(yaml: text, path: directory + "/config", context: context)
    }
    return 0
}

/// An empty directory for the kubeconfig's relative file names, one for every run (fork mode
/// starts a process per job).
let directory: String = {
    let path = FileManager.default.temporaryDirectory.path + "/meshledger-fuzz-kubeconfig"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzKubeconfig))
