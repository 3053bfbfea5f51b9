import EventLog
import Foundation
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore

/// The kinds served under `/apis`, as Kubernetes resources.
extension ResourceKind {
    /// The five Gloo Mesh kinds (SyncResult stays MeshLedger's own, under /v1).
    static let served: [ResourceKind] = [.destination, .mesh, .virtualMesh, .trafficPolicy, .virtualDestination]

    /// The resource's categories (`kubectl get gloo-mesh -A` lists them all).
    var categories: [String] { ["gloo-mesh"] }

    /// The kind served for a group, version and plural.
    static func served(group: String, version: String, plural: String) -> ResourceKind? {
        served.first { $0.group == group && $0.version == version && $0.plural == plural }
    }
}

/// An error answered as a Kubernetes `Status` object.
struct KubeError: Error {
    let code: Int
    let reason: String
    let message: String
    var details: JSONValue?

    /// The `Status` object.
    var status: JSONValue {
        var object: JSONObject = [
            "kind": "Status", "apiVersion": "v1", "metadata": .object(JSONObject()), "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ]
        if let details { object["details"] = details }
        return .object(object)
    }

    /// A Status's details: the group (none for the core group), the resource (or with `byKind`,
    /// the kind), the name, causes.
    static func details(
        _ resource: KubeResource, _ name: String?, causes: [JSONValue] = [], byKind: Bool = false
    ) -> JSONValue {
        var details: JSONObject = ["kind": .string(byKind ? resource.kind : resource.plural)]
        if !resource.group.isEmpty { details["group"] = .string(resource.group) }
        if let name { details["name"] = .string(name) }
        if !causes.isEmpty { details["causes"] = .array(causes) }
        return .object(details)
    }

    static func notFound(_ resource: KubeResource, _ name: String) -> KubeError {
        KubeError(
            code: 404, reason: "NotFound", message: "\(resource.groupResource) \"\(name)\" not found",
            details: details(resource, name))
    }

    static func conflict(_ resource: KubeResource, _ name: String) -> KubeError {
        KubeError(
            code: 409, reason: "Conflict",
            message:
                "Operation cannot be fulfilled on \(resource.groupResource) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
            details: details(resource, name))
    }

    static func alreadyExists(_ resource: KubeResource, _ name: String) -> KubeError {
        KubeError(
            code: 409, reason: "AlreadyExists", message: "\(resource.groupResource) \"\(name)\" already exists",
            details: details(resource, name))
    }

    static func invalid(_ resource: KubeResource, _ name: String?, field: String, _ message: String) -> KubeError {
        invalid(resource, name, causes: [(field, message)])
    }

    /// kube-apiserver's 422 for an invalid object: one cause per field, the message naming each
    /// (`[f1: m1, f2: m2]` for several, as `ToAggregate` prints them).
    static func invalid(
        _ resource: KubeResource, _ name: String?, causes: [(field: String, message: String)]
    ) -> KubeError {
        let list = causes.map { cause -> JSONValue in
            ["reason": "FieldValueInvalid", "message": .string(cause.message), "field": .string(cause.field)]
        }
        let texts = causes.map { "\($0.field): \($0.message)" }
        let summary = texts.count == 1 ? texts[0] : "[\(texts.joined(separator: ", "))]"
        // An Invalid names the kind (kubectl prints "The VirtualDestination "x" is invalid"), where
        // NotFound and Conflict name the resource.
        let qualified = resource.group.isEmpty ? resource.kind : "\(resource.kind).\(resource.group)"
        return KubeError(
            code: 422, reason: "Invalid", message: "\(qualified) \"\(name ?? "")\" is invalid: \(summary)",
            details: details(resource, name, causes: list, byKind: true))
    }

    // The same for the log's kinds.
    static func details(
        _ kind: ResourceKind, _ name: String?, causes: [JSONValue] = [], byKind: Bool = false
    ) -> JSONValue {
        details(KubeResource(kind), name, causes: causes, byKind: byKind)
    }

    static func notFound(_ kind: ResourceKind, _ name: String) -> KubeError { notFound(KubeResource(kind), name) }

    static func conflict(_ kind: ResourceKind, _ name: String) -> KubeError { conflict(KubeResource(kind), name) }

    static func alreadyExists(_ kind: ResourceKind, _ name: String) -> KubeError {
        alreadyExists(KubeResource(kind), name)
    }

    static func invalid(_ kind: ResourceKind, _ name: String?, field: String, _ message: String) -> KubeError {
        invalid(KubeResource(kind), name, causes: [(field, message)])
    }

    static func invalid(_ kind: ResourceKind, _ name: String?, causes: [(field: String, message: String)]) -> KubeError
    {
        invalid(KubeResource(kind), name, causes: causes)
    }

    /// One invalid field of a request's options: its path, the cause's reason and its message
    /// (`field: Type: detail`, as kube-apiserver's field errors print).
    struct OptionError {
        let field: String
        let reason: String
        let message: String

        static func forbidden(_ field: String, _ detail: String) -> OptionError {
            OptionError(field: field, reason: "FieldValueForbidden", message: "\(field): Forbidden: \(detail)")
        }

        static func required(_ field: String, _ detail: String) -> OptionError {
            OptionError(field: field, reason: "FieldValueRequired", message: "\(field): Required value: \(detail)")
        }

        static func notSupported(_ field: String, _ value: String, _ supported: [String]) -> OptionError {
            let values = supported.map { "\"\($0)\"" }.joined(separator: ", ")
            return OptionError(
                field: field, reason: "FieldValueNotSupported",
                message: "\(field): Unsupported value: \(value): supported values: \(values)")
        }

        static func invalid(_ field: String, _ value: String, _ detail: String) -> OptionError {
            OptionError(
                field: field, reason: "FieldValueInvalid", message: "\(field): Invalid value: \(value): \(detail)")
        }
    }

    /// kube-apiserver's 422 for invalid options (`ListOptions`, `PatchOptions`, ...) of group
    /// `meta.k8s.io`; nil when there are none.
    static func invalidOptions(_ kind: String, _ errors: [OptionError]) -> KubeError? {
        guard !errors.isEmpty else { return nil }
        let summary = errors.count == 1 ? errors[0].message : "[\(errors.map(\.message).joined(separator: ", "))]"
        return KubeError(
            code: 422, reason: "Invalid", message: "\(kind).meta.k8s.io \"\" is invalid: \(summary)",
            details: [
                "group": "meta.k8s.io", "kind": .string(kind),
                "causes": .array(
                    errors.map {
                        [
                            "reason": .string($0.reason), "field": .string($0.field),
                            "message": .string(String($0.message.dropFirst($0.field.count + 2))),
                        ]
                    }),
            ])
    }

    static func badRequest(_ message: String) -> KubeError {
        KubeError(code: 400, reason: "BadRequest", message: message)
    }
}

/// A JSON response with a Kubernetes content type.
func kubeJSON(
    _ value: JSONValue, status: HTTPResponse.Status = .ok, contentType: String = "application/json"
)
    -> Response
{
    var bytes = JSONText.canonical(value)
    bytes.append(UInt8(ascii: "\n"))
    return Response(
        status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// `object` at `sequence`: its `metadata.resourceVersion` set (a watch event's, a deleted object's).
func withResourceVersion(_ object: JSONValue, _ sequence: UInt64) -> JSONValue {
    guard case .object(var root) = object, case .object(var metadata)? = root["metadata"] else { return object }
    metadata["resourceVersion"] = .string(String(sequence))
    root["metadata"] = .object(metadata)
    return .object(root)
}
