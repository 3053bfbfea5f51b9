import Foundation
import Synchronization

/// Structural validation of `spec` against the kind's CRD schema (openAPIV3Schema), as a
/// Kubernetes API server would do it: types, enums, bounds, and the oneOf/anyOf/allOf/not/required
/// combinations Gloo Mesh's CRDs use for proto oneofs. Unknown fields are allowed (and kept).
///
/// The CRDs are the ones of that era's Gloo Mesh, bundled as resources of this module.
public final class CRDSchemas: Sendable {
    /// The bundled schemas, loaded on first use of each kind.
    public static let shared = CRDSchemas()

    private let cache = Mutex<[ResourceKind: JSONValue]>([:])

    private static func file(for kind: ResourceKind) -> String {
        switch kind {
        case .destination, .mesh: "discovery.mesh.gloo.solo.io_v1alpha2_crds"
        case .virtualMesh, .trafficPolicy: "networking.mesh.gloo.solo.io_v1alpha2_crds"
        case .virtualDestination: "networking.enterprise.mesh.gloo.solo.io_v1alpha1_crds"
        case .syncResult: ""
        }
    }

    /// The schema of a SyncResult's spec (MeshLedger's own kind, docs/domain.md 4.6).
    static let syncResultSchema: JSONValue = [
        "type": "object",
        "required": ["cluster", "kind", "name", "namespace", "result"],
        "properties": [
            "cluster": ["type": "string"], "kind": ["type": "string"], "name": ["type": "string"],
            "namespace": ["type": "string"], "result": ["type": "string", "enum": ["applied", "failed"]],
            "digest": ["type": "string"], "error": ["type": "string"],
        ],
    ]

    /// The openAPIV3Schema of `spec` for a kind.
    public func specSchema(of kind: ResourceKind) -> JSONValue {
        if kind == .syncResult { return CRDSchemas.syncResultSchema }
        if let cached = cache.withLock({ $0[kind] }) { return cached }
        let name = CRDSchemas.file(for: kind)
        guard let url = Bundle.module.url(forResource: name, withExtension: "yaml", subdirectory: "crds"),
            let text = try? String(contentsOf: url, encoding: .utf8),
            let documents = try? YAMLText.parseDocuments(text)
        else {
            fatalError("bundled CRD \(name).yaml is missing or unreadable")
        }
        var found: [ResourceKind: JSONValue] = [:]
        for document in documents {
            guard let kindName = document.value[path: ["spec", "names", "kind"]]?.stringValue,
                let match = ResourceKind(rawValue: kindName)
            else { continue }
            found[match] =
                document.value[path: ["spec", "validation", "openAPIV3Schema", "properties", "spec"]]
                ?? .object(JSONObject())
        }
        cache.withLock { cache in cache.merge(found) { old, _ in old } }
        guard let schema = found[kind] else { fatalError("bundled CRD \(name).yaml has no schema for \(kind)") }
        return schema
    }

    /// Every structural problem of `value` (the `spec`) for `kind`, each as `path: problem`.
    public func validate(_ value: JSONValue, of kind: ResourceKind, path: String) -> [String] {
        var problems: [String] = []
        CRDSchemas.check(value, against: specSchema(of: kind), path: path, problems: &problems)
        return problems
    }

    /// Appends the problems of `value` against `schema` to `problems`.
    static func check(_ value: JSONValue, against schema: JSONValue, path: String, problems: inout [String]) {
        // Kubernetes prunes nulls of non-nullable fields; an explicit null is "not set".
        if value == .null { return }
        let intOrString = schema["x-kubernetes-int-or-string"] == .bool(true)
        if intOrString {
            switch value {
            case .int, .string: break
            case .double(let d) where d.rounded() == d: break
            default:
                problems.append("\(path): expected integer or string, got \(describe(value))")
                return
            }
        } else if let type = schema["type"]?.stringValue, !matches(value, type: type) {
            problems.append("\(path): expected \(type), got \(describe(value))")
            return
        }
        if let allowed = schema["enum"]?.arrayValue, case .string = value, !allowed.contains(value) {
            let list = allowed.compactMap(\.stringValue).joined(separator: ", ")
            problems.append("\(path): unsupported value \(describe(value)); expected one of \(list)")
        }
        if let number = numeric(value) {
            if let minimum = schema["minimum"].flatMap(numeric), number < minimum {
                problems.append("\(path): \(describe(value)) is below the minimum \(format(minimum))")
            }
            if let maximum = schema["maximum"].flatMap(numeric), number > maximum {
                problems.append("\(path): \(describe(value)) is above the maximum \(format(maximum))")
            }
            if schema["format"]?.stringValue == "int32", number < -2_147_483_648 || number > 2_147_483_647 {
                problems.append("\(path): \(describe(value)) does not fit in int32")
            }
        }
        switch value {
        case .object(let object):
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]
            for member in object {
                let memberPath = "\(path).\(member.key)"
                if let propertySchema = properties?[member.key] {
                    check(member.value, against: propertySchema, path: memberPath, problems: &problems)
                } else if let additional, case .object = additional {
                    check(member.value, against: additional, path: memberPath, problems: &problems)
                }
            }
            if let required = schema["required"]?.arrayValue {
                for field in required.compactMap(\.stringValue) where object[field] == nil {
                    problems.append("\(path).\(field): required")
                }
            }
        case .array(let elements):
            if let items = schema["items"] {
                for (i, element) in elements.enumerated() {
                    check(element, against: items, path: "\(path)[\(i)]", problems: &problems)
                }
            }
        default:
            break
        }
        checkCombinators(value, schema: schema, path: path, problems: &problems)
    }

    private static func checkCombinators(_ value: JSONValue, schema: JSONValue, path: String, problems: inout [String])
    {
        if let all = schema["allOf"]?.arrayValue {
            for branch in all { check(value, against: branch, path: path, problems: &problems) }
        }
        if let any = schema["anyOf"]?.arrayValue, !any.contains(where: { accepts(value, $0) }) {
            problems.append("\(path): must match at least one of its alternatives")
        }
        if let not = schema["not"], accepts(value, not) {
            problems.append("\(path): must not match \(JSONText.string(not))")
        }
        if let one = schema["oneOf"]?.arrayValue {
            let matching = one.filter { accepts(value, $0) }
            if matching.count != 1 {
                // The proto-oneof pattern: [not anyOf required..., required A, required B, ...].
                let members = one.compactMap { $0["required"]?.arrayValue?.first?.stringValue }
                let present = members.filter { value[$0] != nil && value[$0] != .null }
                if present.count > 1 {
                    problems.append(
                        "\(path): \(present.joined(separator: " and ")) are mutually exclusive (a oneof); set only one of \(members.joined(separator: ", "))"
                    )
                } else {
                    problems.append(
                        "\(path): must match exactly one of its oneOf alternatives, matched \(matching.count)")
                }
            }
        }
    }

    private static func accepts(_ value: JSONValue, _ schema: JSONValue) -> Bool {
        var problems: [String] = []
        check(value, against: schema, path: "", problems: &problems)
        return problems.isEmpty
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool): true
        case ("integer", .int), ("number", .int), ("number", .double): true
        case ("integer", .double(let d)): d.rounded() == d
        default: false
        }
    }

    private static func numeric(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    private static func format(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e18 ? String(Int64(number)) : String(number)
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): "string \"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case .int(let i): "\(i)"
        case .double(let d): JSONText.format(d)
        case .bool(let b): "boolean \(b)"
        default: value.typeName
        }
    }
}
