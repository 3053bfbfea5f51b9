import CFuzzerDriver
import Glibc
import MeshModel

/// Manifests as `apply -f` and the API read them: YAML or JSON, several documents, `kind: List`.
/// YAML that reads is also emitted again and must read back as the same values.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzManifests(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? ManifestReader.manifests(bytes, name: "fuzz")
    if let text = String(validatingUTF8Bytes: bytes), !text.contains("\0"),
        let documents = try? YAMLText.parseDocuments(text)
    {
        let values = documents.map(\.value)
        let emitted = YAMLText.emitDocuments(values)
        guard let again = try? YAMLText.parseDocuments(emitted), again.map(\.value) == values else {
            fatalError("emitted YAML does not read back:\n\(emitted)")
        }
    }
    return 0
}

extension String {
    /// The text, if the bytes are valid UTF-8.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        self = text
    }
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzManifests))
