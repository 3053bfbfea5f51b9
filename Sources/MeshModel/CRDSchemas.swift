import Foundation
import Synchronization

/// Structural validation of `spec` against the kind's CRD schema (openAPIV3Schema), as a
/// Kubernetes API server would do it: types, enums, bounds, and the oneOf/anyOf/allOf/not/required
/// combinations Gloo Mesh's CRDs use for proto oneofs; and the fields a structural schema does not
/// declare (`unknownFields`), which the writers refuse, drop with a warning, or drop (decision 0003).
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
        let documents = CRDSchemas.bundled(name)
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

    /// The documents of a bundled CRD file (`crds/NAME.yaml`); a missing or unreadable one is a
    /// build defect.
    static func bundled(_ name: String) -> [YAMLText.Document] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "yaml", subdirectory: "crds"),
            let text = try? String(contentsOf: url, encoding: .utf8),
            let documents = try? YAMLText.parseDocuments(text)
        else { fatalError("bundled CRD \(name).yaml is missing or unreadable") }
        return documents
    }

    /// The whole openAPIV3Schema of each Istio output kind (`ServiceEntry`, `DestinationRule`,
    /// `EnvoyFilter`), version v1alpha3, from the bundled Istio CRDs: what the Kubernetes API's
    /// OpenAPI serves for the derived outputs.
    public static let istioSchemas: [String: JSONValue] = {
        let documents = bundled("networking.istio.io_v1alpha3_crds")
        var schemas: [String: JSONValue] = [:]
        for document in documents {
            guard let kind = document.value[path: ["spec", "names", "kind"]]?.stringValue else { continue }
            let version = document.value[path: ["spec", "versions"]]?.arrayValue?.first { $0["name"] == "v1alpha3" }
            schemas[kind] = version?[path: ["schema", "openAPIV3Schema"]] ?? .object(JSONObject())
        }
        return schemas
    }()

    private let compiled = Mutex<[ResourceKind: SchemaNode]>([:])

    private func node(_ kind: ResourceKind) -> SchemaNode {
        compiled.withLock { $0[kind] }
            ?? {
                let node = SchemaNode(specSchema(of: kind))
                compiled.withLock { $0[kind] = node }
                return node
            }()
    }

    /// The fields of `ObjectMeta` (`metadata`): any other is unknown.
    public static let objectMetaFields: Set<String> = [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
        "ownerReferences", "finalizers", "managedFields",
    ]

    /// The fields of an object of `kind` that its structural schema does not declare (kube-apiserver
    /// prunes them: the bundled CRDs set `preserveUnknownFields: false`), as kube-apiserver names
    /// them (`spec.port.nmber`, `metadata.lables`, `spec.list[1].x`), sorted; and the object
    /// without them. Subtrees marked `x-kubernetes-preserve-unknown-fields` keep theirs.
    public func unknownFields(of object: JSONValue, kind: ResourceKind) -> (fields: [String], pruned: JSONValue) {
        guard case .object(var root) = object else { return ([], object) }
        var unknown: [String] = []
        for member in root where !["apiVersion", "kind", "metadata", "spec", "status"].contains(member.key) {
            unknown.append(member.key)
            root[member.key] = nil
        }
        if case .object(var metadata)? = root["metadata"] {
            for member in metadata where !CRDSchemas.objectMetaFields.contains(member.key) {
                unknown.append("metadata.\(member.key)")
                metadata[member.key] = nil
            }
            root["metadata"] = .object(metadata)
        }
        if let spec = root["spec"] {
            root["spec"] = CRDSchemas.prune(spec, node(kind), path: "spec", unknown: &unknown)
        }
        return (unknown.sorted(), .object(root))
    }

    /// `value` without what `schema` does not declare; each field removed is added to `unknown`.
    static func prune(_ value: JSONValue, _ schema: SchemaNode, path: String, unknown: inout [String]) -> JSONValue {
        switch value {
        case .object(var members):
            if schema.intOrString { return value }
            for member in members {
                if let child = schema.properties?[member.key] ?? schema.additionalProperties {
                    members[member.key] = prune(member.value, child, path: "\(path).\(member.key)", unknown: &unknown)
                } else if !schema.preserveUnknown {
                    unknown.append("\(path).\(member.key)")
                    members[member.key] = nil
                }
            }
            return .object(members)
        case .array(let elements):
            guard let items = schema.items else { return value }
            return .array(
                elements.enumerated().map { prune($0.element, items, path: "\(path)[\($0.offset)]", unknown: &unknown) }
            )
        default:
            return value
        }
    }

    /// Every structural problem of `value` (the `spec`) for `kind`, each as `path: problem`.
    public func validate(_ value: JSONValue, of kind: ResourceKind, path: String) -> [String] {
        let schema = node(kind)
        var problems: [String] = []
        var location = Location(root: path)
        CRDSchemas.check(value, against: schema, at: &location, problems: &problems)
        return problems
    }

    /// Where the checker is in the value; the text of a path is built only for a problem.
    struct Location {
        enum Step {
            case member(String)
            case element(Int)
        }
        let root: String
        var steps: [Step] = []

        var text: String {
            var text = root
            for step in steps {
                switch step {
                case .member(let key): text += ".\(key)"
                case .element(let index): text += "[\(index)]"
                }
            }
            return text
        }
    }

    /// A schema node with its keywords read once (a CRD schema is checked on every write).
    final class SchemaNode: Sendable {
        let intOrString: Bool
        let type: String?
        let enumValues: [JSONValue]?
        let minimum: Double?
        let maximum: Double?
        let int32: Bool
        let properties: [String: SchemaNode]?
        let additionalProperties: SchemaNode?
        /// `x-kubernetes-preserve-unknown-fields`: members it does not declare are kept.
        let preserveUnknown: Bool
        let required: [String]
        let items: SchemaNode?
        let allOf: [SchemaNode]
        let anyOf: [SchemaNode]?
        let not: (node: SchemaNode, text: String)?
        let oneOf: [SchemaNode]?
        /// The first required member of each oneOf branch (the proto-oneof pattern's members).
        let oneOfMembers: [String]

        init(_ schema: JSONValue) {
            intOrString = schema["x-kubernetes-int-or-string"] == .bool(true)
            type = schema["type"]?.stringValue
            enumValues = schema["enum"]?.arrayValue
            minimum = schema["minimum"].flatMap(CRDSchemas.numeric)
            maximum = schema["maximum"].flatMap(CRDSchemas.numeric)
            int32 = schema["format"]?.stringValue == "int32"
            properties = schema["properties"]?.objectValue.map { object in
                Dictionary(object.map { ($0.key, SchemaNode($0.value)) }, uniquingKeysWith: { first, _ in first })
            }
            if let additional = schema["additionalProperties"], case .object = additional {
                additionalProperties = SchemaNode(additional)
            } else {
                additionalProperties = nil
            }
            // `additionalProperties: true` keeps any member too.
            preserveUnknown =
                schema["x-kubernetes-preserve-unknown-fields"] == .bool(true) || schema["additionalProperties"] == true
            required = schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
            items = schema["items"].map(SchemaNode.init)
            allOf = schema["allOf"]?.arrayValue?.map(SchemaNode.init) ?? []
            anyOf = schema["anyOf"]?.arrayValue?.map(SchemaNode.init)
            not = schema["not"].map { (SchemaNode($0), JSONText.string($0)) }
            let oneOf = schema["oneOf"]?.arrayValue
            self.oneOf = oneOf?.map(SchemaNode.init)
            oneOfMembers = oneOf?.compactMap { $0["required"]?.arrayValue?.first?.stringValue } ?? []
        }
    }

    /// Appends the problems of `value` against `schema` to `problems`.
    static func check(
        _ value: JSONValue, against schema: SchemaNode, at location: inout Location, problems: inout [String]
    ) {
        // Kubernetes prunes nulls of non-nullable fields; an explicit null is "not set".
        if value == .null { return }
        if schema.intOrString {
            switch value {
            case .int, .string: break
            case .double(let d) where d.rounded() == d: break
            default:
                problems.append("\(location.text): expected integer or string, got \(describe(value))")
                return
            }
        } else if let type = schema.type, !matches(value, type: type) {
            problems.append("\(location.text): expected \(type), got \(describe(value))")
            return
        }
        if let allowed = schema.enumValues, case .string = value, !allowed.contains(value) {
            let list = allowed.compactMap(\.stringValue).joined(separator: ", ")
            problems.append("\(location.text): unsupported value \(describe(value)); expected one of \(list)")
        }
        if let number = numeric(value) {
            if let minimum = schema.minimum, number < minimum {
                problems.append("\(location.text): \(describe(value)) is below the minimum \(format(minimum))")
            }
            if let maximum = schema.maximum, number > maximum {
                problems.append("\(location.text): \(describe(value)) is above the maximum \(format(maximum))")
            }
            if schema.int32, number < -2_147_483_648 || number > 2_147_483_647 {
                problems.append("\(location.text): \(describe(value)) does not fit in int32")
            }
        }
        switch value {
        case .object(let object):
            for member in object {
                guard let memberSchema = schema.properties?[member.key] ?? schema.additionalProperties else { continue }
                location.steps.append(.member(member.key))
                check(member.value, against: memberSchema, at: &location, problems: &problems)
                location.steps.removeLast()
            }
            for field in schema.required where object[field] == nil {
                problems.append("\(location.text).\(field): required")
            }
        case .array(let elements):
            if let items = schema.items {
                for (i, element) in elements.enumerated() {
                    location.steps.append(.element(i))
                    check(element, against: items, at: &location, problems: &problems)
                    location.steps.removeLast()
                }
            }
        default:
            break
        }
        checkCombinators(value, schema: schema, at: &location, problems: &problems)
    }

    private static func checkCombinators(
        _ value: JSONValue, schema: SchemaNode, at location: inout Location, problems: inout [String]
    ) {
        for branch in schema.allOf { check(value, against: branch, at: &location, problems: &problems) }
        if let any = schema.anyOf, !any.contains(where: { accepts(value, $0) }) {
            problems.append("\(location.text): must match at least one of its alternatives")
        }
        if let not = schema.not, accepts(value, not.node) {
            problems.append("\(location.text): must not match \(not.text)")
        }
        if let one = schema.oneOf {
            let matching = one.filter { accepts(value, $0) }
            if matching.count != 1 {
                // The proto-oneof pattern: [not anyOf required..., required A, required B, ...].
                let members = schema.oneOfMembers
                let present = members.filter { value[$0] != nil && value[$0] != .null }
                if present.count > 1 {
                    problems.append(
                        "\(location.text): \(present.joined(separator: " and ")) are mutually exclusive (a oneof); set only one of \(members.joined(separator: ", "))"
                    )
                } else {
                    problems.append(
                        "\(location.text): must match exactly one of its oneOf alternatives, matched \(matching.count)")
                }
            }
        }
    }

    private static func accepts(_ value: JSONValue, _ schema: SchemaNode) -> Bool {
        var problems: [String] = []
        var location = Location(root: "")
        check(value, against: schema, at: &location, problems: &problems)
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
