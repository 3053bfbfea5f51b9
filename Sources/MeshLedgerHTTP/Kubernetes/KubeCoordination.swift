import EventLog
import Foundation
import Hummingbird
import MeshLedger
import MeshModel

/// Leases (`coordination.k8s.io/v1`) and ConfigMaps (`v1`): what leader election (client-go,
/// controller-runtime, the Python client's `leaderelection`) and a controller's configuration
/// need from the API server it uses as its store. They are kept in the coordination table, not
/// in the log (decision 0017): get, list, create, update (a resourceVersion, when given, is a
/// precondition; without one the update is unconditional, as kube-apiserver allows for both
/// kinds), merge and JSON patch, delete (with DeleteOptions' preconditions); `dryRun=All` writes
/// nothing. Not served: watch, server-side apply, deletecollection.
struct KubeCoordination: Sendable {
    static let verbs = ["create", "delete", "get", "list", "patch", "update"]
    static let kinds = ["ConfigMap", "Lease"]

    let endpoints: Endpoints
    let writes: KubeWrites
    var reads: KubeObjects { writes.reads }

    /// What a dry run would have written (thrown to abort the write transaction).
    struct DryRun: Error { let object: JSONValue }

    func addRoutes(to router: Router<ServerContext>) {
        for resource in KubeRegistry.resources where Self.kinds.contains(resource.kind) {
            let root = router.group(RouterPath(resource.rootPath)).add(middleware: ErrorMiddleware(kubernetes: true))
            root.get(RouterPath(resource.plural)) { request, _ in try list(resource, namespace: nil, request) }
            let collection = "namespaces/:namespace/\(resource.plural)"
            root.get(RouterPath(collection)) { request, context in
                try list(resource, namespace: try context.parameters.require("namespace"), request)
            }
            root.post(RouterPath(collection)) { request, context in
                try await create(resource, namespace: try context.parameters.require("namespace"), request)
            }
            let item = collection + "/:name"
            root.get(RouterPath(item)) { request, context in
                let key = try Self.key(resource, context)
                guard let object = try table().get(key) else { throw KubeError.notFound(resource, key.name) }
                if reads.wantsTable(request) {
                    return kubeJSON(
                        Self.printed(
                            resource, [object], metadata: [:], includeObject: reads.query(request, "includeObject")))
                }
                return kubeJSON(object)
            }
            root.put(RouterPath(item)) { request, context in
                try await update(resource, try Self.key(resource, context), request)
            }
            root.patch(RouterPath(item)) { request, context in
                try await patch(resource, try Self.key(resource, context), request)
            }
            root.delete(RouterPath(item)) { request, context in
                try await delete(resource, try Self.key(resource, context), request)
            }
        }
    }

    static func key(_ resource: KubeResource, _ context: ServerContext) throws -> CoordinationTable.Key {
        CoordinationTable.Key(
            kind: resource.kind, namespace: try context.parameters.require("namespace"),
            name: try context.parameters.require("name"))
    }

    /// The table, or 503 where there is none (a replicated deployment: decision 0017).
    func table() throws -> CoordinationTable {
        guard let table = endpoints.coordination else {
            throw KubeError(
                code: 503, reason: "ServiceUnavailable",
                message: "Leases and ConfigMaps are not served by a replicated deployment (decision 0017)")
        }
        return table
    }

    // MARK: - Reads

    func list(_ resource: KubeResource, namespace: String?, _ request: Request) throws -> Response {
        try reads.validateListOptions(request, watch: false)
        if reads.flag(request, "watch") {
            throw KubeError(
                code: 405, reason: "MethodNotAllowed",
                message: "the server does not allow this method on the requested resource (watch \(resource.plural))")
        }
        let filter = try reads.filter(request, namespace: namespace)
        let (all, version) = try table().list(kind: resource.kind, namespace: namespace)
        let items = all.filter(filter.matches)
        if reads.wantsTable(request) {
            return kubeJSON(
                Self.printed(
                    resource, items, metadata: ["resourceVersion": .string(String(version))],
                    includeObject: reads.query(request, "includeObject")))
        }
        return kubeJSON([
            "kind": .string("\(resource.kind)List"), "apiVersion": .string(resource.groupVersion),
            "metadata": ["resourceVersion": .string(String(version))], "items": .array(items),
        ])
    }

    /// kubectl's columns, as kube-apiserver prints them: a ConfigMap's DATA (its number of keys),
    /// a Lease's HOLDER.
    static func printed(
        _ resource: KubeResource, _ items: [JSONValue], metadata: JSONObject, includeObject: String?
    ) -> JSONValue {
        if resource.kind == "Lease" {
            return KubeObjects.table(
                [("Holder", 0, "spec.holderIdentity")], items, metadata: metadata, includeObject: includeObject
            ) { [$0[path: ["spec", "holderIdentity"]]?.stringValue ?? ""] }
        }
        return KubeObjects.table(
            [("Data", 0, "The number of keys in data and binaryData")], items, metadata: metadata,
            includeObject: includeObject
        ) {
            [String((($0["data"]?.objectValue?.count) ?? 0) + (($0["binaryData"]?.objectValue?.count) ?? 0))]
        }
    }

    // MARK: - Writes

    /// A request body in JSON, or in protobuf as kubectl sends the built-in kinds (and its
    /// DeleteOptions); with `optional`, an empty body is null.
    func body(_ request: Request, optional: Bool = false) async throws -> JSONValue {
        guard (request.headers[.contentType] ?? "").hasPrefix("application/vnd.kubernetes.protobuf") else {
            return try await writes.body(request, optional: optional)
        }
        let bytes = try await endpoints.body(request)
        if optional && bytes.isEmpty { return .null }
        guard let object = KubeProtobuf.object(bytes) else {
            throw KubeError(
                code: 415, reason: "UnsupportedMediaType",
                message: "the body of the request is not a protobuf-encoded ConfigMap, Lease or DeleteOptions")
        }
        return object
    }

    func create(_ resource: KubeResource, namespace: String, _ request: Request) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        try writes.validateOptions(request, "CreateOptions")
        let object = try await body(request)
        let checked = try Self.checked(resource, object, namespace: namespace, name: nil, current: nil)
        let key = CoordinationTable.Key(
            kind: resource.kind, namespace: namespace, name: checked[path: ["metadata", "name"]]?.stringValue ?? "")
        let written = try write(resource, key, expectedVersion: 0, dryRun: writes.dryRun(request)) { _ in
            Self.withServerMetadata(checked, from: nil)
        }
        return kubeJSON(written, status: .created)
    }

    func update(_ resource: KubeResource, _ key: CoordinationTable.Key, _ request: Request) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        try writes.validateOptions(request, "UpdateOptions")
        let object = try await body(request)
        let given = object[path: ["metadata", "resourceVersion"]]?.stringValue
        guard given.map({ UInt64($0) != nil }) ?? true else { throw KubeError.conflict(resource, key.name) }
        let expected = given.flatMap(UInt64.init)
        return kubeJSON(
            try write(resource, key, expectedVersion: expected, dryRun: writes.dryRun(request)) { current in
                guard let current else { throw KubeError.notFound(resource, key.name) }
                let checked = try Self.checked(
                    resource, object, namespace: key.namespace, name: key.name, current: current)
                return Self.withServerMetadata(checked, from: current)
            })
    }

    func patch(_ resource: KubeResource, _ key: CoordinationTable.Key, _ request: Request) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        try writes.validateOptions(request, "PatchOptions")
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map(String.init) ?? ""
        let body = try await writes.body(request)
        let change: (JSONValue) throws -> JSONValue
        switch type {
        case "application/merge-patch+json":
            guard case .object = body else {
                throw KubeError(code: 422, reason: "Invalid", message: "a merge patch must be a JSON object")
            }
            change = { JSONPatch.merge($0, body) }
        case "application/json-patch+json":
            change = { current in
                do {
                    return try JSONPatch.apply(body, to: current)
                } catch let error as JSONPatch.Failure {
                    throw KubeError(
                        code: error.tooLarge ? 413 : 422, reason: error.tooLarge ? "RequestEntityTooLarge" : "Invalid",
                        message: error.message)
                }
            }
        default:
            throw KubeError(
                code: 415, reason: "UnsupportedMediaType",
                message:
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json"
            )
        }
        return kubeJSON(
            try write(resource, key, expectedVersion: nil, dryRun: writes.dryRun(request)) { current in
                guard let current else { throw KubeError.notFound(resource, key.name) }
                let patched = try change(current)
                // A resourceVersion in the patch is a precondition.
                if let given = patched[path: ["metadata", "resourceVersion"]],
                    given != current[path: ["metadata", "resourceVersion"]]
                {
                    throw KubeError.conflict(resource, key.name)
                }
                let checked = try Self.checked(
                    resource, patched, namespace: key.namespace, name: key.name, current: current)
                return Self.withServerMetadata(checked, from: current)
            })
    }

    func delete(_ resource: KubeResource, _ key: CoordinationTable.Key, _ request: Request) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        let options = try await body(request, optional: true)
        try writes.validateOptions(
            request, "DeleteOptions", dryRun: options["dryRun"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let table = try table()
        guard let current = try table.get(key) else { throw KubeError.notFound(resource, key.name) }
        if let uid = options[path: ["preconditions", "uid"]]?.stringValue,
            uid != current[path: ["metadata", "uid"]]?.stringValue
        {
            throw KubeError.conflict(resource, key.name)
        }
        let wanted = options[path: ["preconditions", "resourceVersion"]]?.stringValue
        let expected =
            try wanted.map {
                guard let version = UInt64($0) else { throw KubeError.conflict(resource, key.name) }
                return version
            }
            ?? current[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap(UInt64.init)
        let dry = writes.dryRun(request) || options["dryRun"]?.arrayValue?.contains("All") == true
        if !dry {
            do {
                _ = try table.delete(key, expectedVersion: expected)
            } catch let error as LogError {
                throw Self.kubeError(error, resource, key.name, creating: false)
            }
        }
        return kubeJSON([
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success",
            "details": [
                "name": .string(key.name), "group": .string(resource.group), "kind": .string(resource.plural),
                "uid": current[path: ["metadata", "uid"]] ?? .null,
            ],
        ])
    }

    /// One write to the table, compare-and-swap; with `dryRun`, what it would write, not written.
    func write(
        _ resource: KubeResource, _ key: CoordinationTable.Key, expectedVersion: UInt64?, dryRun: Bool,
        _ change: (JSONValue?) throws -> JSONValue
    ) throws -> JSONValue {
        do {
            return try table().put(key, expectedVersion: expectedVersion) { current in
                let object = try change(current)
                if dryRun { throw DryRun(object: object) }
                return object
            }
        } catch let dry as DryRun {
            return dry.object
        } catch let error as LogError {
            throw Self.kubeError(error, resource, key.name, creating: expectedVersion == 0)
        }
    }

    // MARK: - Rules

    /// An object as written: the body checked against the kind's rules, with the URL's namespace
    /// and name, and without the server's metadata (`withServerMetadata` sets it).
    static func checked(
        _ resource: KubeResource, _ object: JSONValue, namespace: String, name: String?, current: JSONValue?
    ) throws -> JSONValue {
        var root = try KubeWrites.identified(
            object, apiVersion: resource.groupVersion, kind: resource.kind, namespace: namespace, name: name)
        var metadata = root["metadata"]?.objectValue ?? JSONObject()
        let objectName = metadata["name"]?.stringValue
        do {
            (metadata, _, _) = try Manifest.checkedMetadata(
                .object(metadata), kindName: resource.kind, defaultNamespace: namespace)
        } catch {
            throw KubeError.invalid(resource, objectName, field: "metadata", error.message)
        }
        root["metadata"] = .object(metadata)
        switch resource.kind {
        case "Lease":
            try checkLease(resource, objectName, root["spec"])
            root["spec"] = microTimes(root["spec"])
        case "ConfigMap": try checkConfigMap(resource, objectName, root, current: current)
        default: break
        }
        root["status"] = nil
        return .object(root)
    }

    /// kube-apiserver's Lease validation: integer durations, `leaseDurationSeconds` above 0,
    /// `leaseTransitions` not negative, times as MicroTime (RFC 3339).
    static func checkLease(_ resource: KubeResource, _ name: String?, _ spec: JSONValue?) throws {
        guard let spec, spec != .null else { return }
        guard case .object(let fields) = spec else { throw KubeError.badRequest("Lease.spec: expected an object") }
        for member in fields where member.value != .null {
            let (field, value) = (member.key, member.value)
            switch field {
            case "holderIdentity", "strategy", "preferredHolder":
                guard value.stringValue != nil else {
                    throw KubeError.badRequest("Lease.spec.\(field): expected a string")
                }
            case "leaseDurationSeconds", "leaseTransitions":
                guard let number = value.intValue, Int32(exactly: number) != nil else {
                    throw KubeError.badRequest("Lease.spec.\(field): expected a 32-bit integer")
                }
                if field == "leaseDurationSeconds" && number <= 0 {
                    throw KubeError.invalid(
                        resource, name, field: "spec.leaseDurationSeconds",
                        "Invalid value: \(number): must be greater than 0")
                }
                if field == "leaseTransitions" && number < 0 {
                    throw KubeError.invalid(
                        resource, name, field: "spec.leaseTransitions",
                        "Invalid value: \(number): must be greater than or equal to 0")
                }
            case "acquireTime", "renewTime":
                guard let text = value.stringValue, RFC3339.parse(text) != nil else {
                    throw KubeError.badRequest("Lease.spec.\(field): expected an RFC 3339 time")
                }
            default:
                continue
            }
        }
    }

    /// A Lease's times as kube-apiserver serves a MicroTime: in UTC, with six fractional digits
    /// (clients send local offsets, or fewer digits).
    static func microTimes(_ spec: JSONValue?) -> JSONValue? {
        guard case .object(var fields)? = spec else { return spec }
        for field in ["acquireTime", "renewTime"] {
            if let time = fields[field]?.stringValue.flatMap(RFC3339.parse) {
                fields[field] = .string(RFC3339.format(time))
            }
        }
        return .object(fields)
    }

    /// kube-apiserver's ConfigMap validation: keys of `data` and `binaryData` are config keys
    /// (`[-._a-zA-Z0-9]+`, at most 253 bytes, not `.` or `..`) used once across both, values are
    /// strings, at most 1 MiB in all; an `immutable` ConfigMap keeps its data.
    static func checkConfigMap(
        _ resource: KubeResource, _ name: String?, _ root: JSONObject, current: JSONValue?
    ) throws {
        var size = 0
        var seen = Set<String>()
        for field in ["data", "binaryData"] {
            guard let value = root[field], value != .null else { continue }
            guard case .object(let map) = value else {
                throw KubeError.badRequest("ConfigMap.\(field): expected an object")
            }
            for member in map {
                let key = member.key
                guard let text = member.value.stringValue else {
                    throw KubeError.badRequest("ConfigMap.\(field).\(key): expected a string")
                }
                let allowed = key.unicodeScalars.allSatisfy(Self.configKeyCharacters.contains)
                if key.isEmpty || !allowed || key.utf8.count > 253 || key == "." || key == ".." {
                    throw KubeError.invalid(
                        resource, name, field: "\(field)[\(key)]",
                        "Invalid value: \"\(key)\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                    )
                }
                if !seen.insert(key).inserted {
                    throw KubeError.invalid(
                        resource, name, field: "data[\(key)]",
                        "Invalid value: \"\(key)\": duplicate of key present in binaryData")
                }
                size += text.utf8.count
            }
        }
        if size > 1 << 20 {
            throw KubeError.invalid(resource, name, field: "data", "Too long: must have at most 1048576 bytes")
        }
        if let current, current["immutable"] == true {
            for field in ["data", "binaryData", "immutable"] where (root[field] ?? .null) != (current[field] ?? .null) {
                throw KubeError.invalid(
                    resource, name, field: field, "Forbidden: field is immutable when `immutable` is set")
            }
        }
    }

    static let configKeyCharacters = CharacterSet(
        charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")

    /// The server's metadata: a new object's uid and creationTimestamp, or the current one's.
    static func withServerMetadata(_ object: JSONValue, from current: JSONValue?) -> JSONValue {
        guard case .object(var root) = object else { return object }
        var metadata = root["metadata"]?.objectValue ?? JSONObject()
        for field in Manifest.serverMetadata { metadata[field] = nil }
        if let current {
            metadata["uid"] = current[path: ["metadata", "uid"]]
            metadata["creationTimestamp"] = current[path: ["metadata", "creationTimestamp"]]
        } else {
            metadata["uid"] = .string(UUID().uuidString.lowercased())
            metadata["creationTimestamp"] = .string(RFC3339.formatSeconds(.now()))
        }
        root["metadata"] = .object(metadata)
        return .object(root)
    }

    // MARK: - Errors

    /// The Status of a write the table refused: a create of an object that exists already exists;
    /// another write at a version that moved conflicts; a write of one that is gone is not found.
    static func kubeError(_ error: LogError, _ resource: KubeResource, _ name: String, creating: Bool) -> any Error {
        switch error.code {
        case .notFound: KubeError.notFound(resource, name)
        case .conflict: creating ? KubeError.alreadyExists(resource, name) : KubeError.conflict(resource, name)
        default: error
        }
    }
}
