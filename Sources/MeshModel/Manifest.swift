/// An input object that passed structural validation: one of the five kinds, with its key.
///
/// The full object is kept as given (unknown fields included); `spec` is checked against the
/// kind's CRD schema, `metadata` against Kubernetes' naming rules.
public struct Manifest: Sendable, Hashable {
    /// The object's identity.
    public let key: ObjectKey
    /// The whole object as given, with `metadata.namespace` filled in when it was missing.
    public let object: JSONValue

    /// Validates `object` and builds a manifest; `defaultNamespace` fills a missing namespace.
    public init(object: JSONValue, defaultNamespace: String = "default") throws(ManifestError) {
        guard case .object(var root) = object else {
            throw ManifestError(.schema, "expected an object, found \(object.typeName)")
        }
        guard let apiVersion = root["apiVersion"]?.stringValue, !apiVersion.isEmpty else {
            throw ManifestError(.schema, "missing apiVersion")
        }
        guard let kindName = root["kind"]?.stringValue, !kindName.isEmpty else {
            throw ManifestError(.schema, "missing kind")
        }
        guard let kind = ResourceKind(apiVersion: apiVersion, kind: kindName) else {
            if let known = ResourceKind(rawValue: kindName) {
                throw ManifestError(
                    .unknownKind,
                    "unsupported apiVersion \"\(apiVersion)\" for kind \(kindName) (expected \(known.apiVersion))")
            }
            let kinds = ResourceKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ManifestError(
                .unknownKind, "unknown kind \"\(kindName)\" (apiVersion \(apiVersion)); MeshLedger takes \(kinds)")
        }
        let (metadata, namespace, name) = try Manifest.checkedMetadata(
            root["metadata"], kindName: kindName, defaultNamespace: defaultNamespace)
        root["metadata"] = .object(metadata)
        let key = ObjectKey(kind: kind, namespace: namespace, name: name)
        let problems = CRDSchemas.shared.validate(root["spec"] ?? .null, of: kind, path: "spec")
        if let first = problems.first {
            let more = problems.count > 1 ? " (and \(problems.count - 1) more)" : ""
            var error = ManifestError(.schema, "\(kindName) \(namespace)/\(name): \(first)\(more)")
            error.problems = problems
            throw error
        }
        self.key = key
        self.object = .object(root)
    }

    /// An object's `metadata` checked as kube-apiserver checks it (`ValidateObjectMeta`): a name
    /// that is a DNS-1123 subdomain, a namespace that is a DNS-1123 label (`defaultNamespace` when
    /// missing), label and annotation keys that are qualified names, label values, and at most
    /// 256 KiB of annotations. Returns it with the namespace filled in, and the namespace and name.
    public static func checkedMetadata(
        _ value: JSONValue?, kindName: String, defaultNamespace: String
    ) throws(ManifestError) -> (metadata: JSONObject, namespace: String, name: String) {
        guard case .object(var metadata) = value ?? .null else {
            throw ManifestError(.schema, "\(kindName): metadata must be an object with a name")
        }
        guard let name = metadata["name"]?.stringValue, !name.isEmpty else {
            throw ManifestError(.schema, "\(kindName): metadata.name is required")
        }
        if let problem = Naming.subdomainProblem(name) {
            throw ManifestError(.schema, "\(kindName) \(name): metadata.name is invalid: \(problem)")
        }
        let namespace: String
        switch metadata["namespace"] {
        case nil, .null?:
            namespace = defaultNamespace
            metadata["namespace"] = .string(namespace)
        case .string(let value)?:
            if let problem = Naming.labelProblem(value) {
                throw ManifestError(.schema, "\(kindName) \(name): metadata.namespace is invalid: \(problem)")
            }
            namespace = value
        case let other?:
            throw ManifestError(
                .schema, "\(kindName) \(name): metadata.namespace: expected string, got \(other.typeName)")
        }
        for field in ["labels", "annotations"] {
            guard let value = metadata[field], value != .null else { continue }
            guard case .object(let map) = value else {
                throw ManifestError(
                    .schema, "\(kindName) \(name): metadata.\(field): expected object, got \(value.typeName)")
            }
            var size = 0
            for member in map {
                let at = "\(kindName) \(namespace)/\(name): metadata.\(field)"
                guard let value = member.value.stringValue else {
                    throw ManifestError(
                        .schema, "\(at).\(member.key): expected string, got \(member.value.typeName)")
                }
                // Keys are qualified names, label values label values, as kube-apiserver checks them.
                if let problem = Naming.qualifiedNameProblem(member.key) {
                    throw ManifestError(.schema, "\(at): Invalid value: \"\(member.key)\": \(problem)")
                }
                if field == "labels", let problem = Naming.labelValueProblem(value) {
                    throw ManifestError(.schema, "\(at): Invalid value: \"\(value)\": \(problem)")
                }
                size += member.key.utf8.count + value.utf8.count
            }
            if field == "annotations" && size > 256 << 10 {
                throw ManifestError(
                    .schema,
                    "\(kindName) \(namespace)/\(name): metadata.annotations: Too long: must have at most 262144 bytes")
            }
        }
        return (metadata, namespace, name)
    }

    /// `spec`, or an empty object.
    public var spec: JSONValue { object["spec"] ?? .object(JSONObject()) }

    /// `metadata.resourceVersion` as a sequence number, when the manifest carries one.
    public var resourceVersion: UInt64? {
        guard let value = object[path: ["metadata", "resourceVersion"]] else { return nil }
        switch value {
        case .string(let s): return UInt64(s)
        case .int(let i): return i >= 0 ? UInt64(i) : nil
        default: return nil
        }
    }

    /// The cluster the object comes from, where the kind says it: a Destination's
    /// `kubeService.ref.clusterName`, a Mesh's installation cluster, or the
    /// `metadata.clusterName` of any object.
    public var originCluster: String? {
        let spec = self.spec
        switch key.kind {
        case .destination:
            if let cluster = spec[path: ["kubeService", "ref", "clusterName"]]?.stringValue { return cluster }
        case .mesh:
            for meshType in ["istio", "linkerd", "consulConnect", "osm"] {
                if let cluster = spec[path: [meshType, "installation", "cluster"]]?.stringValue { return cluster }
            }
            if let cluster = spec[path: ["awsAppMesh", "clusters"]]?.arrayValue?.first?.stringValue { return cluster }
        default:
            break
        }
        return object[path: ["metadata", "clusterName"]]?.stringValue
    }

    /// The object without what a server fills in (`metadata.resourceVersion`, `generation`,
    /// `uid`, `creationTimestamp`, `selfLink`, the `time` of each `managedFields` entry, and
    /// `status`, except a VirtualDestination's): what decides whether an upsert changes anything.
    /// Field ownership is content (who owns which field is worth an event: an apply of identical
    /// values makes its manager a co-owner), in a canonical order (by manager, operation and
    /// apiVersion), so that re-applying the same fields is no change. A VirtualDestination's
    /// `status` is a controller's status recorded from a live cluster (only recording keeps it;
    /// see `withoutStatus`), so a change of it alone is an observation worth an event (without a
    /// new generation).
    public var content: JSONValue {
        guard case .object(var root) = object else { return object }
        if key.kind != .virtualDestination { root["status"] = nil }
        if case .object(var metadata)? = root["metadata"] {
            for field in Manifest.bookkeepingMetadata where field != "managedFields" { metadata[field] = nil }
            if let entries = metadata["managedFields"]?.arrayValue {
                let timeless = entries.map { entry -> JSONValue in
                    guard case .object(var fields) = entry else { return entry }
                    fields["time"] = nil
                    return .object(fields)
                }
                func order(_ entry: JSONValue) -> [String] {
                    ["manager", "operation", "apiVersion", "subresource"].map { entry[$0]?.stringValue ?? "" }
                }
                metadata["managedFields"] = .array(
                    timeless.sorted { order($0).lexicographicallyPrecedes(order($1)) })
            }
            root["metadata"] = .object(metadata)
        }
        return .object(root)
    }

    /// Whether the object carries `status` or server-set metadata (else `content == object`).
    public var hasServerFields: Bool {
        if object["status"] != nil && key.kind != .virtualDestination { return true }
        guard let metadata = object["metadata"]?.objectValue else { return false }
        return Manifest.bookkeepingMetadata.contains { metadata[$0] != nil }
    }

    /// The manifest without `status`: what a user's write stores (status is never the user's).
    public var withoutStatus: Manifest {
        guard case .object(var root) = object, root["status"] != nil else { return self }
        root["status"] = nil
        return Manifest(key: key, validated: .object(root))
    }

    /// The manifest of an object a verified event recorded (validated when it was appended):
    /// replicas rebuild an object's state from its record without validating it again.
    public init(recorded object: JSONValue, key: ObjectKey) {
        self.init(key: key, validated: object)
    }

    /// A manifest of an object already validated.
    private init(key: ObjectKey, validated object: JSONValue) {
        self.key = key
        self.object = object
    }

    /// The field manager that changed the object last: the `metadata.managedFields` entry with
    /// the latest `time` (the last entry among equal times), or nil without managed fields.
    public var lastFieldManager: String? { Manifest.lastFieldManager(of: object) }

    /// The last field manager of any object (see `lastFieldManager`).
    public static func lastFieldManager(of object: JSONValue) -> String? {
        guard let entries = object[path: ["metadata", "managedFields"]]?.arrayValue else { return nil }
        var best: (time: String, manager: String)?
        for entry in entries {
            guard let manager = entry["manager"]?.stringValue else { continue }
            let time = entry["time"]?.stringValue ?? ""
            if best == nil || time >= best!.time { best = (time, manager) }
        }
        return best?.manager
    }

    /// The largest generation kept: every reader shows it as a signed 64-bit integer (as
    /// Kubernetes does), and a write may add one to it.
    public static let maxGeneration = UInt64(Int64.max - 1)

    /// The object's `metadata.generation` as its API server gave it, if any (one from 1 to
    /// `maxGeneration`; another is not taken as given).
    public var givenGeneration: UInt64? {
        let given: UInt64? =
            switch object[path: ["metadata", "generation"]] {
            case .int(let value)? where value > 0: UInt64(value)
            case .string(let text)?: UInt64(text)
            default: nil
            }
        return given.flatMap { (1...Self.maxGeneration).contains($0) ? $0 : nil }
    }

    /// Metadata fields a server sets: a client's write never sets them.
    public static let serverMetadata = bookkeepingMetadata + deletionMark

    /// The server's bookkeeping, ignored when comparing content (of `managedFields`, only the times).
    public static let bookkeepingMetadata = [
        "resourceVersion", "generation", "uid", "creationTimestamp", "managedFields", "selfLink",
    ]

    /// The mark of an object being deleted, waiting for its finalizers: the server sets it, and
    /// it is content (setting it is a change that watchers see).
    public static let deletionMark = ["deletionTimestamp", "deletionGracePeriodSeconds"]

    /// The object's `metadata.finalizers`.
    public static func finalizers(of object: JSONValue) -> [String] {
        object[path: ["metadata", "finalizers"]]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// Whether the object is marked for deletion.
    public static func isDeleting(_ object: JSONValue) -> Bool {
        object[path: ["metadata", "deletionTimestamp"]] != nil
    }

    /// `object` with the deletion mark of `mark` (none when `mark` has none).
    public static func withDeletionMark(_ object: JSONValue, from mark: JSONValue?) -> JSONValue {
        guard case .object(var root) = object, case .object(var metadata)? = root["metadata"] else { return object }
        for field in deletionMark { metadata[field] = mark?[path: ["metadata", field]] }
        root["metadata"] = .object(metadata)
        return .object(root)
    }
}

/// Kubernetes naming rules (DNS-1123).
public enum Naming {
    /// Why `name` is not a DNS-1123 subdomain, or nil if it is one.
    public static func subdomainProblem(_ name: String) -> String? {
        if name.utf8.count > 253 { return "must be no more than 253 characters" }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            if let problem = labelCharactersProblem(Substring(label)) {
                return problem
            }
        }
        return nil
    }

    /// Why `name` is not a DNS-1123 label, or nil if it is one.
    public static func labelProblem(_ name: String) -> String? {
        if name.utf8.count > 63 { return "must be no more than 63 characters" }
        return labelCharactersProblem(Substring(name))
    }

    /// Why `key` is not a qualified name (a label key: an optional DNS-1123 subdomain prefix and
    /// `/`, then a name of at most 63 characters), or nil if it is one.
    public static func qualifiedNameProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last else {
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
                + "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if parts.count == 2 {
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            if let problem = subdomainProblem(String(parts[0])) { return "prefix part \(problem)" }
        }
        if name.isEmpty { return "name part must be non-empty" }
        if name.utf8.count > 63 { return "name part must be no more than 63 characters" }
        if !isQualifiedNamePart(name) {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', "
                + "and must start and end with an alphanumeric character"
        }
        return nil
    }

    /// Why `value` is not a label value (empty, or at most 63 characters of a qualified name's
    /// part), or nil if it is one.
    public static func labelValueProblem(_ value: String) -> String? {
        if value.utf8.count > 63 { return "must be no more than 63 characters" }
        if !value.isEmpty && !isQualifiedNamePart(Substring(value)) {
            return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                + "and must start and end with an alphanumeric character"
        }
        return nil
    }

    private static func isQualifiedNamePart(_ text: Substring) -> Bool {
        let bytes = Array(text.utf8)
        let alnum: (UInt8) -> Bool = { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
        guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == 46 }
    }

    private static func labelCharactersProblem(_ label: Substring) -> String? {
        let bytes = Array(label.utf8)
        let alnum: (UInt8) -> Bool = { (48...57).contains($0) || (97...122).contains($0) }
        guard let first = bytes.first, let last = bytes.last else {
            return "a lowercase RFC 1123 subdomain must not have empty labels"
        }
        if !bytes.allSatisfy({ alnum($0) || $0 == UInt8(ascii: "-") }) || !alnum(first) || !alnum(last) {
            return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                + "and must start and end with an alphanumeric character"
        }
        return nil
    }
}

/// Why input was refused: one clear line.
public struct ManifestError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of problem.
    public enum Code: String, Sendable {
        /// Not text: invalid UTF-8 or NUL bytes.
        case notText
        /// YAML or JSON syntax.
        case syntax
        /// A kind or apiVersion MeshLedger does not take.
        case unknownKind
        /// A structurally wrong object (types, oneofs, names).
        case schema
        /// A document or input over the size limit.
        case tooLarge
        /// A watch event that is not `{"type": ..., "object": ...}`.
        case watchEvent
        /// The object is not allowed in this command (a user kind to `discover`, say).
        case notAllowed
    }

    /// What kind of problem.
    public let code: Code
    /// The message, without location.
    public let message: String
    /// Where: `file: document 2`, or empty.
    public var location: String
    /// Each schema problem as `path: problem` (`spec.port.number: ...`), when the schema decided.
    public var problems: [String] = []

    /// Creates an error.
    public init(_ code: Code, _ message: String, location: String = "") {
        self.code = code
        self.message = message
        self.location = location
    }

    public var description: String { location.isEmpty ? message : "\(location): \(message)" }
}
