public import MeshModel

/// What a write does with fields its kind's structural schema does not declare, as
/// kube-apiserver's `fieldValidation` (decision 0003): `Strict` refuses the write, `Warn` drops
/// them with a warning each, `Ignore` drops them silently. Every writer applies the same rule: the
/// Kubernetes API (`?fieldValidation=`, Warn when absent, as kube-apiserver), `/v1` and
/// `meshledger apply` (`--validate`, Strict by default, as kubectl).
public enum FieldValidation: String, Sendable, CaseIterable {
    case strict = "Strict"
    case warn = "Warn"
    case ignore = "Ignore"

    /// Reads kube-apiserver's parameter or kubectl's `--validate` value (`true`/`strict`,
    /// `warn`, `false`/`ignore`); nil for another.
    public init?(parameter: String) {
        switch parameter.lowercased() {
        case "strict", "true": self = .strict
        case "warn": self = .warn
        case "ignore", "false": self = .ignore
        default: return nil
        }
    }

    /// A write refused under `Strict`, in kube-apiserver's words (a 400 BadRequest).
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        /// The kind and version written.
        public var kind: ResourceKind
        /// The unknown fields, as `spec.port.nmber`.
        public var fields: [String]

        public var description: String {
            "\(kind.rawValue) in version \"\(kind.version)\" cannot be handled as a \(kind.rawValue): strict decoding error: "
                + fields.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
        }
    }

    /// `object` without its unknown fields, and the warnings to give (`unknown field "spec.x"`),
    /// or `Refusal` under `Strict`. Fields `current` (the object as stored) already had are
    /// dropped without a word: they were stored before this rule, and this write did not add them.
    /// `current` is asked for only when the object has unknown fields (reading it costs a read of
    /// the object's history).
    public func apply(
        _ object: JSONValue, kind: ResourceKind, current: () throws -> JSONValue? = { nil }
    ) throws -> (object: JSONValue, warnings: [String]) {
        let (fields, pruned) = CRDSchemas.shared.unknownFields(of: object, kind: kind)
        guard !fields.isEmpty else { return (object, []) }
        let before = try current().map { Set(CRDSchemas.shared.unknownFields(of: $0, kind: kind).fields) } ?? []
        let added = fields.filter { !before.contains($0) }
        switch self {
        case .strict where !added.isEmpty: throw Refusal(kind: kind, fields: added)
        case .strict, .ignore: return (pruned, [])
        case .warn: return (pruned, added.map { "unknown field \"\($0)\"" })
        }
    }
}

extension Store {
    /// The manifests of an `apply` under `validation` (each compared with the object as stored),
    /// and the warnings to give; throws `FieldValidation.Refusal` under `Strict`.
    public func validated(
        _ manifests: [Manifest], _ validation: FieldValidation
    ) throws -> (manifests: [Manifest], warnings: [String]) {
        var result: [Manifest] = []
        var warnings: [String] = []
        for manifest in manifests {
            let (object, more) = try validation.apply(
                manifest.object, kind: manifest.key.kind, current: { try storedObject(manifest.key) })
            result.append(object == manifest.object ? manifest : try Manifest(object: object))
            warnings += more.map {
                "\(manifest.key.kind.rawValue) \(manifest.key.namespace)/\(manifest.key.name): \($0)"
            }
        }
        return (result, warnings)
    }
}
