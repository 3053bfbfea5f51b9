import EventLog
import Foundation
import HTTPTypes
import Hummingbird
import MeshLedger
import MeshModel
import Projection

/// Writes of the Kubernetes API: create, update (resourceVersion precondition), merge patch,
/// JSON patch, server-side apply, delete, and the status subresource. Each write is one batch
/// (`Batch.put`, `Batch.delete`) for the server's single writer, under the caller's identity; a
/// refused write appends nothing.
struct KubeWrites: Sendable {
    let endpoints: Endpoints
    let reads: KubeObjects

    func actor(_ context: ServerContext) -> String { (context.identity ?? .anonymous).user }

    /// The request body as JSON (YAML too, for server-side apply); with `optional`, an empty body
    /// is null.
    func body(_ request: Request, yaml: Bool = false, optional: Bool = false) async throws -> JSONValue {
        let bytes = try await endpoints.body(request)
        if optional && JSONText.isBlank(bytes) { return .null }
        do {
            if yaml {
                guard let document = try YAMLText.parseDocuments(String(decoding: bytes, as: UTF8.self)).first else {
                    throw KubeError.badRequest("empty body")
                }
                return document.value
            }
            return try JSONText.parse(bytes)
        } catch let error as JSONText.SyntaxError {
            throw KubeError.badRequest("the request body is not valid JSON: \(error)")
        } catch let error as ManifestError where error.code != .tooLarge {
            throw KubeError.badRequest("the request body is not valid YAML: \(error.description)")
        }
    }

    /// The object as it is written to the log: without server-set metadata (field ownership
    /// kept) and status.
    static func stripped(_ object: JSONValue) -> JSONValue {
        guard case .object(var root) = object else { return object }
        root["status"] = nil
        if case .object(var metadata)? = root["metadata"] {
            for field in Manifest.serverMetadata where field != "managedFields" { metadata[field] = nil }
            root["metadata"] = .object(metadata)
        }
        return .object(root)
    }

    /// Checks that a body names this resource and namespace (filling in what it leaves out), and
    /// reads it as a manifest (schema problems are 422).
    func manifest(_ object: JSONValue, _ kind: ResourceKind, namespace: String, name: String?) throws -> Manifest {
        let root = try Self.identified(
            Self.stripped(object), apiVersion: kind.apiVersion, kind: kind.rawValue, namespace: namespace, name: name)
        let metadata = root["metadata"]?.objectValue ?? JSONObject()
        do {
            return try Manifest(object: .object(root))
        } catch {
            // A schema problem names its field (`spec.port.number: ...`): one cause each.
            let causes = error.problems.map { problem -> (field: String, message: String) in
                guard let colon = problem.range(of: ": ") else { return ("spec", problem) }
                return (String(problem[..<colon.lowerBound]), String(problem[colon.upperBound...]))
            }
            if !causes.isEmpty { throw KubeError.invalid(kind, metadata["name"]?.stringValue, causes: causes) }
            let field = error.message.contains("metadata.name") ? "metadata.name" : "spec"
            throw KubeError.invalid(kind, metadata["name"]?.stringValue, field: field, error.message)
        }
    }

    /// A write's body checked against its URL, as kube-apiserver checks it: a JSON object whose
    /// apiVersion and kind (filled in when absent) are the resource's, and whose namespace and
    /// name (filled in when absent; a create's name from `generateName`) are the URL's.
    static func identified(
        _ object: JSONValue, apiVersion: String, kind: String, namespace: String, name: String?
    ) throws -> JSONObject {
        guard case .object(var root) = object else {
            throw KubeError.badRequest("the request body must be a JSON object")
        }
        if root["apiVersion"] == nil { root["apiVersion"] = .string(apiVersion) }
        if root["kind"] == nil { root["kind"] = .string(kind) }
        guard root["apiVersion"]?.stringValue == apiVersion, root["kind"]?.stringValue == kind else {
            throw KubeError.badRequest(
                "the API version in the data (\(root["apiVersion"]?.stringValue ?? "")) and kind (\(root["kind"]?.stringValue ?? "")) do not match the request (\(apiVersion), \(kind))"
            )
        }
        var metadata = root["metadata"]?.objectValue ?? JSONObject()
        if let given = metadata["namespace"]?.stringValue, given != namespace {
            throw KubeError.badRequest(
                "the namespace of the provided object does not match the namespace sent on the request")
        }
        metadata["namespace"] = .string(namespace)
        if let name {
            if let given = metadata["name"]?.stringValue, given != name {
                throw KubeError.badRequest(
                    "the name of the object (\(given)) does not match the name on the URL (\(name))")
            }
            metadata["name"] = .string(name)
        } else if metadata["name"]?.stringValue == nil, let prefix = metadata["generateName"]?.stringValue {
            let letters = Array("bcdfghjklmnpqrstvwxz2456789")
            metadata["name"] = .string(prefix + String((0..<5).map { _ in letters.randomElement()! }))
        }
        root["metadata"] = .object(metadata)
        return root
    }

    /// Submits a batch; a failed precondition becomes the Status `conflict` gives.
    func submit(
        _ batch: Batch, _ request: Request, _ context: ServerContext, conflict: KubeError
    ) async throws -> AppendResult {
        let result = await endpoints.committer.submit(
            batch.attributed(to: endpoints.groups(context), manager: manager(request)))
        guard case .failure(let error) = result else { return try result.get() }
        if error.code == .conflict { throw conflict }
        // A write the object's state forbids names its field: `field: Forbidden: ...`.
        if error.code == .forbidden, let key = batch.changes.first?.key, let colon = error.message.range(of: ": ") {
            throw KubeError.invalid(
                key.kind, key.name, field: String(error.message[..<colon.lowerBound]),
                String(error.message[colon.upperBound...]))
        }
        throw error
    }

    /// The answer to a write: the object as served now, or, when the write removed a deleting
    /// object's last finalizer and so deleted it, the object as that write left it.
    func answer(_ key: ObjectKey, _ result: AppendResult) async throws -> Response {
        if result.outcomes.first?.outcome == .deleted, let event = result.events.last {
            return kubeJSON(withResourceVersion(event.object, event.sequence))
        }
        return kubeJSON(try await written(key))
    }

    /// The object as served after a write.
    func written(_ key: ObjectKey) async throws -> JSONValue {
        guard let object = try reads.object(key, in: await reads.liveView()) else {
            throw KubeError.notFound(key.kind, key.name)
        }
        return object
    }

    func dryRun(_ request: Request) -> Bool { reads.query(request, "dryRun") == "All" }

    /// What a write answers without writing (`dryRun=All`): the object as it would be stored, with
    /// the server's metadata it would carry, so that `kubectl diff` shows only what the write
    /// changes. An update keeps the current uid, creationTimestamp, resourceVersion and status, and
    /// its generation, one more when the spec changes; a create gets a new uid, the time now and
    /// generation 1, and no resourceVersion (as kube-apiserver's dry run, which reaches no storage).
    func dryRunAnswer(_ manifest: Manifest, current: JSONValue?) -> JSONValue {
        guard case .object(var root) = manifest.object, case .object(var metadata)? = root["metadata"] else {
            return manifest.object
        }
        if let current {
            for field in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
                metadata[field] = current[path: ["metadata", field]]
            }
            if manifest.key.kind.hasGeneration, manifest.object["spec"] != current["spec"],
                let generation = current[path: ["metadata", "generation"]]?.intValue
            {
                metadata["generation"] = .int(min(generation, Int64(Manifest.maxGeneration) - 1) + 1)
            }
            root["status"] = current["status"]
        } else {
            metadata["uid"] = .string(UUID().uuidString.lowercased())
            metadata["creationTimestamp"] = .string(RFC3339.formatSeconds(.now()))
            if manifest.key.kind.hasGeneration { metadata["generation"] = 1 }
        }
        root["metadata"] = .object(metadata)
        return .object(root)
    }

    /// kube-apiserver's checks of a write's options (`CreateOptions`, `UpdateOptions`,
    /// `PatchOptions`, `DeleteOptions`): `dryRun` only `All`, `fieldValidation` one of its values, a
    /// `fieldManager` of at most 128 printable characters (required for apply), `force` only for
    /// apply. 422 Invalid naming each field.
    func validateOptions(_ request: Request, _ kind: String, apply: Bool = false, dryRun: [String] = []) throws {
        var errors: [KubeError.OptionError] = []
        let manager = reads.query(request, "fieldManager") ?? ""
        if kind == "PatchOptions" {
            if apply && manager.isEmpty {
                errors.append(.required("fieldManager", "is required for apply patch"))
            } else if !apply && reads.query(request, "force") != nil {
                errors.append(.forbidden("force", "may not be specified for non-apply patch"))
            }
        }
        if manager.utf8.count > 128 {
            errors.append(
                KubeError.OptionError(
                    field: "fieldManager", reason: "FieldValueTooLong",
                    message: "fieldManager: Too long: may not be more than 128 bytes"))
        }
        // Printable as Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols, ASCII space.
        let unprintable: Set<Unicode.GeneralCategory> = [
            .control, .format, .surrogate, .privateUse, .unassigned, .spaceSeparator, .lineSeparator,
            .paragraphSeparator,
        ]
        if let bad = manager.unicodeScalars.first(where: {
            $0 != " " && unprintable.contains($0.properties.generalCategory)
        }) {
            let hex = String(bad.value, radix: 16, uppercase: true)
            let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            errors.append(.invalid("fieldManager", "\"\(manager)\"", "invalid character \(code)"))
        }
        let dryRuns = dryRun + [reads.query(request, "dryRun")].compactMap { $0 }
        if let unsupported = dryRuns.first(where: { $0 != "All" }) {
            errors.append(.notSupported("dryRun", "[\"\(unsupported)\"]", ["All"]))
        }
        let validation = reads.query(request, "fieldValidation") ?? ""
        if !["", "Ignore", "Warn", "Strict"].contains(validation) {
            errors.append(.notSupported("fieldValidation", "\"\(validation)\"", ["", "Ignore", "Strict", "Warn"]))
        }
        if let invalid = KubeError.invalidOptions(kind, errors) { throw invalid }
    }

    /// The field manager of a write: `fieldManager`, else the User-Agent's program name.
    func manager(_ request: Request) -> String {
        if let manager = reads.query(request, "fieldManager"), !manager.isEmpty { return manager }
        let agent = request.headers[.userAgent] ?? "unknown"
        return String(agent.split(separator: "/").first ?? "unknown")
    }

    /// Records which fields an ordinary write by `request`'s manager changed.
    func owned(_ request: Request, _ kind: ResourceKind, from before: JSONValue?, to after: JSONValue) -> JSONValue {
        // Ownership the client wrote itself (kubectl's client-side to server-side apply upgrade, or an
        // empty list that resets it) stands; a body without managedFields keeps the existing entries.
        if let before, let given = after[path: ["metadata", "managedFields"]],
            given != before[path: ["metadata", "managedFields"]]
        {
            return after
        }
        return FieldOwnership.update(
            from: before, to: after, manager: manager(request), apiVersion: kind.apiVersion,
            time: RFC3339.formatSeconds(.now()))
    }

    // MARK: - Create, update, delete

    /// POST /apis/G/V/namespaces/NS/P
    func create(
        _ kind: ResourceKind, namespace: String, _ request: Request, _ context: ServerContext
    ) async throws
        -> Response
    {
        try endpoints.refuseWritesIfReadOnly()
        try validateOptions(request, "CreateOptions")
        let (body, warnings) = try fieldValidation(request).apply(try await body(request), kind: kind)
        let given = Store.withOperatorStatusRecord(body, nil)
        let manifest = try manifest(owned(request, kind, from: nil, to: given), kind, namespace: namespace, name: nil)
        if try endpoints.store.storedObject(manifest.key) != nil {
            throw KubeError.alreadyExists(kind, manifest.key.name)
        }
        if dryRun(request) {
            return withWarnings(kubeJSON(dryRunAnswer(manifest, current: nil), status: .created), warnings)
        }
        _ = try await submit(
            Batch.put(manifest, actor: actor(context), expectedVersion: 0), request, context,
            conflict: .alreadyExists(kind, manifest.key.name))
        return withWarnings(kubeJSON(try await written(manifest.key), status: .created), warnings)
    }

    /// The request's `fieldValidation` (kube-apiserver's default when absent: Warn).
    func fieldValidation(_ request: Request) -> FieldValidation {
        reads.query(request, "fieldValidation").flatMap { $0.isEmpty ? nil : FieldValidation(rawValue: $0) } ?? .warn
    }

    /// A response with kube-apiserver's `Warning` headers (`299 - "text"`), which kubectl prints.
    func withWarnings(_ response: Response, _ warnings: [String]) -> Response {
        var response = response
        for warning in warnings {
            let quoted = warning.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                of: "\"", with: "\\\"")
            response.headers.append(HTTPField(name: HTTPField.Name("Warning")!, value: "299 - \"\(quoted)\""))
        }
        return response
    }

    /// PUT /apis/G/V/namespaces/NS/P/NAME: the whole object, with its resourceVersion.
    func update(
        _ kind: ResourceKind, namespace: String, name: String, status: Bool, _ request: Request,
        _ context: ServerContext
    ) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        try validateOptions(request, "UpdateOptions")
        let object = try await body(request)
        guard let given = object[path: ["metadata", "resourceVersion"]]?.stringValue, !given.isEmpty else {
            throw KubeError.invalid(
                kind, name, field: "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")
        }
        return try await write(kind, namespace: namespace, name: name, status: status, request, context) { _ in object }
    }

    /// PATCH /apis/G/V/namespaces/NS/P/NAME: merge patch, JSON patch or server-side apply.
    func patch(
        _ kind: ResourceKind, namespace: String, name: String, status: Bool, _ request: Request,
        _ context: ServerContext
    ) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        let type = (request.headers[.contentType] ?? "").split(separator: ";").first.map(String.init) ?? ""
        try validateOptions(request, "PatchOptions", apply: type == "application/apply-patch+yaml")
        switch type {
        case "application/merge-patch+json":
            let patch = try await body(request)
            guard case .object = patch else {
                throw KubeError(code: 422, reason: "Invalid", message: "a merge patch must be a JSON object")
            }
            return try await write(kind, namespace: namespace, name: name, status: status, request, context) {
                JSONPatch.merge($0, patch)
            }
        case "application/json-patch+json":
            let operations = try await body(request)
            return try await write(kind, namespace: namespace, name: name, status: status, request, context) {
                do {
                    return try JSONPatch.apply(operations, to: $0)
                } catch let error as JSONPatch.Failure {
                    if error.tooLarge {
                        throw KubeError(code: 413, reason: "RequestEntityTooLarge", message: error.message)
                    }
                    throw KubeError(code: 422, reason: "Invalid", message: error.message)
                }
            }
        case "application/apply-patch+yaml":
            let manager = reads.query(request, "fieldManager") ?? ""
            // Unknown fields of the applied configuration are refused or dropped before anyone
            // owns them.
            let (applied, warnings) = try fieldValidation(request).apply(
                Self.stripped(try await body(request, yaml: true)), kind: kind)
            let force = reads.flag(request, "force")
            let time = RFC3339.formatSeconds(.now())
            func apply(_ current: JSONValue) throws -> JSONValue {
                do {
                    return try FieldOwnership.apply(
                        applied, to: current, manager: manager, force: force, apiVersion: kind.apiVersion, time: time)
                } catch {
                    let fields = error.conflicts.map(\.field)
                    let managers = Set(error.conflicts.map(\.manager)).sorted()
                    let message =
                        "Apply failed with \(fields.count) conflict\(fields.count == 1 ? "" : "s"): "
                        + managers.map { m in
                            "conflict with \"\(m)\" using \(kind.apiVersion): "
                                + error.conflicts.filter { $0.manager == m }.map(\.field).joined(separator: ", ")
                        }.joined(separator: "; ")
                    let causes = error.conflicts.map { conflict -> JSONValue in
                        [
                            "reason": "FieldManagerConflict",
                            "message": .string("conflict with \"\(conflict.manager)\" using \(kind.apiVersion)"),
                            "field": .string(conflict.field),
                        ]
                    }
                    throw KubeError(
                        code: 409, reason: "Conflict", message: message,
                        details: KubeError.details(kind, name, causes: causes))
                }
            }
            let key = ObjectKey(kind: kind, namespace: namespace, name: name)
            if try endpoints.store.storedObject(key) == nil {
                let manifest = try manifest(
                    Store.withOperatorStatusRecord(
                        try apply([
                            "apiVersion": .string(kind.apiVersion), "kind": .string(kind.rawValue),
                            "metadata": ["name": .string(name), "namespace": .string(namespace)],
                        ]), nil),
                    kind, namespace: namespace, name: name)
                if dryRun(request) {
                    return withWarnings(kubeJSON(dryRunAnswer(manifest, current: nil), status: .created), warnings)
                }
                _ = try await submit(
                    Batch.put(manifest, actor: actor(context), expectedVersion: 0), request, context,
                    conflict: .conflict(kind, name))
                return withWarnings(kubeJSON(try await written(key), status: .created), warnings)
            }
            return withWarnings(
                try await write(
                    kind, namespace: namespace, name: name, status: status, request, context, tracksOwnership: false,
                    apply), warnings)
        default:
            throw KubeError(
                code: 415, reason: "UnsupportedMediaType",
                message:
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )
        }
    }

    /// The object as served and as stored (read once), and the sequence of its last write, which
    /// is the precondition of a write; 404 when it does not exist.
    /// The object as stored and the sequence of its last write (404 when it does not exist).
    func storedAt(_ key: ObjectKey) throws -> (stored: JSONValue, writtenAt: UInt64) {
        guard let stored = try endpoints.store.storedObject(key),
            let writtenAt = stored[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap(UInt64.init)
        else { throw KubeError.notFound(key.kind, key.name) }
        return (stored, writtenAt)
    }

    func existing(_ key: ObjectKey) async throws -> (served: JSONValue, stored: JSONValue, writtenAt: UInt64) {
        let view = await reads.liveView()
        let (stored, writtenAt) = try storedAt(key)
        let served = endpoints.store.withDerivedStatus(stored, kind: key.kind, from: view.projection)
        return (served, stored, writtenAt)
    }

    /// Reads the object as served, changes it, checks the result's resourceVersion (a
    /// precondition when it differs from the served one), and writes it with the served
    /// version's write as the precondition, so a concurrent write conflicts instead of being lost.
    func write(
        _ kind: ResourceKind, namespace: String, name: String, status: Bool, _ request: Request,
        _ context: ServerContext, tracksOwnership: Bool = true, _ change: (JSONValue) throws -> JSONValue
    ) async throws -> Response {
        let key = ObjectKey(kind: kind, namespace: namespace, name: name)
        let (current, stored, writtenAt) = try await existing(key)
        // Unknown fields the write adds are refused, or dropped (with a warning); ones stored
        // before this rule are dropped.
        let (result, warnings) = try fieldValidation(request).apply(
            try change(current), kind: kind, current: { stored })
        if let given = result[path: ["metadata", "resourceVersion"]]?.stringValue,
            given != current[path: ["metadata", "resourceVersion"]]?.stringValue
        {
            throw KubeError.conflict(kind, name)
        }
        // The operator's status fields as recorded now (kept by main-resource writes).
        let recorded = stored[path: ["metadata", "annotations", Store.operatorStatusAnnotation]]
        var toWrite: JSONValue
        if status {
            // The status subresource: only .status counts, and the derived part is MeshLedger's;
            // the other fields are recorded as the writer's.
            for field in Store.derivedStatusFields
            where result[path: ["status", field]] != current[path: ["status", field]] {
                throw KubeError.invalid(
                    kind, name, field: "status.\(field)",
                    "Forbidden: derived by MeshLedger from the log; it cannot be written")
            }
            toWrite = Store.recordingOperatorStatus(current, result["status"])
        } else {
            // The main resource: a status in the request is ignored (the status subresource's rule).
            toWrite = Store.withOperatorStatusRecord(
                tracksOwnership ? owned(request, kind, from: current, to: result) : result, recorded)
        }
        let manifest = try manifest(toWrite, kind, namespace: namespace, name: name)
        if dryRun(request) { return withWarnings(kubeJSON(dryRunAnswer(manifest, current: current)), warnings) }
        let appended = try await submit(
            Batch.put(manifest, actor: actor(context), expectedVersion: writtenAt), request, context,
            conflict: .conflict(kind, name))
        return withWarnings(try await answer(key, appended), warnings)
    }

    /// DELETE /apis/G/V/namespaces/NS/P/NAME (DeleteOptions `preconditions.resourceVersion`).
    func delete(
        _ kind: ResourceKind, namespace: String, name: String, _ request: Request, _ context: ServerContext
    ) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        let key = ObjectKey(kind: kind, namespace: namespace, name: name)
        // DeleteOptions: an empty body is none; a body that is not JSON is a 400, as on kube-apiserver.
        let options = try await body(request, optional: true)
        try validateOptions(
            request, "DeleteOptions", dryRun: options["dryRun"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let (current, _, writtenAt) = try await existing(key)
        if let wanted = options[path: ["preconditions", "resourceVersion"]]?.stringValue,
            wanted != current[path: ["metadata", "resourceVersion"]]?.stringValue
        {
            throw KubeError.conflict(kind, name)
        }
        if let uid = options[path: ["preconditions", "uid"]]?.stringValue,
            uid != current[path: ["metadata", "uid"]]?.stringValue
        {
            throw KubeError.conflict(kind, name)
        }
        let details: JSONValue = [
            "name": .string(name), "group": .string(kind.group), "kind": .string(kind.plural),
            "uid": current[path: ["metadata", "uid"]] ?? .null,
        ]
        let success: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "details": details,
        ]
        // kubectl and the Python client send `dryRun` in the DeleteOptions body, not the URL.
        if dryRun(request) || options["dryRun"]?.arrayValue?.contains("All") == true { return kubeJSON(success) }
        let result = try await submit(
            try Batch.delete([Batch.DeleteTarget(key, expectedVersion: writtenAt)], actor: actor(context)), request,
            context,
            conflict: .conflict(kind, name))
        // An object waiting for its finalizers stays: the answer is the object, marked, as
        // kube-apiserver's (200; the delete completes when the last finalizer is removed).
        if result.outcomes.first?.outcome == .deleting { return kubeJSON(try await written(key)) }
        return kubeJSON(success)
    }

    /// DELETE /apis/G/V/namespaces/NS/P (deletecollection, controller-runtime's `DeleteAllOf`):
    /// every object of the kind in the namespace that the label and field selectors select, in one
    /// batch, each at the version it was read at (a concurrent write conflicts: 409, nothing
    /// deleted). The answer is the list of what was deleted, as kube-apiserver's registry returns
    /// it; with `dryRun=All`, what would be.
    func deleteCollection(
        _ kind: ResourceKind, namespace: String, _ request: Request, _ context: ServerContext
    ) async throws -> Response {
        try endpoints.refuseWritesIfReadOnly()
        let options = try await body(request, optional: true)
        try validateOptions(
            request, "DeleteOptions", dryRun: options["dryRun"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        try reads.validateListOptions(request, watch: false)
        let filter = try reads.filter(request, namespace: namespace)
        let view = await reads.liveView()
        let items = try reads.objects(kind, namespace: namespace, in: view).filter(filter.matches)
        var targets: [Batch.DeleteTarget] = []
        for item in items {
            let key = ObjectKey(
                kind: kind, namespace: namespace, name: item[path: ["metadata", "name"]]?.stringValue ?? "")
            targets.append(Batch.DeleteTarget(key, expectedVersion: try storedAt(key).writtenAt))
        }
        var head = view.sequence
        let dry = dryRun(request) || options["dryRun"]?.arrayValue?.contains("All") == true
        if !dry && !targets.isEmpty {
            head = try await submit(
                try Batch.delete(targets, actor: actor(context)), request, context, conflict: .conflict(kind, "")
            ).head
        }
        return kubeJSON([
            "kind": .string("\(kind.rawValue)List"), "apiVersion": .string(kind.apiVersion),
            "metadata": ["resourceVersion": .string(String(head))], "items": .array(items),
        ])
    }
}
