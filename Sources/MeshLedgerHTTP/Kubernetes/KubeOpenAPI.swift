import Crypto
import Foundation
import Hummingbird
import MeshModel

/// OpenAPI v3, built from the bundled CRD schemas: what `kubectl explain` reads, and what
/// `kubectl apply`'s default validation looks for (an operation-level `fieldValidation` parameter
/// on PATCH; no strategic merge patch in its request body, so kubectl sends merge patches).
/// OpenAPI v2 is not served (404): kubectl 1.28 and later do not need it.
struct KubeOpenAPI: Sendable {
    func addRoutes(to router: Router<ServerContext>) {
        let group = router.group("/openapi").add(middleware: ErrorMiddleware(kubernetes: true))
        group.get("v3") { _, _ in
            var paths = JSONObject()
            for (apiGroup, version) in KubeRegistry.schemaGroups {
                paths["apis/\(apiGroup)/\(version)"] = [
                    "serverRelativeURL": .string(
                        "/openapi/v3/apis/\(apiGroup)/\(version)?hash=\(Self.hash(apiGroup, version))")
                ]
            }
            return kubeJSON(["paths": .object(paths)])
        }
        for (apiGroup, version) in KubeRegistry.schemaGroups {
            group.get("v3/apis/\(apiGroup)/\(version)") { _, _ in kubeJSON(Self.document(apiGroup, version)) }
        }
    }

    /// A stable cache key for a group-version's document (it changes only with the document).
    static func hash(_ group: String, _ version: String) -> String {
        let bytes = JSONText.canonical(document(group, version))
        return SHA256.hash(data: bytes).prefix(8).map { String(format: "%02X", $0) }.joined()
    }

    static func schemaName(_ kind: ResourceKind) -> String {
        let reversed = kind.group.split(separator: ".").reversed().joined(separator: ".")
        return "\(reversed).\(kind.version).\(kind.rawValue)"
    }

    static func document(_ group: String, _ version: String) -> JSONValue {
        if group == KubeOutputs.group { return outputsDocument() }
        var paths = JSONObject()
        var schemas: JSONObject = ["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": objectMeta]
        for kind in ResourceKind.served where kind.group == group {
            let gvk: JSONValue = ["group": .string(group), "version": .string(version), "kind": .string(kind.rawValue)]
            let ref: JSONValue = ["$ref": .string("#/components/schemas/\(schemaName(kind))")]
            let ok: JSONValue = ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]]
            let queryParameters: [JSONValue] = ["fieldValidation", "fieldManager", "dryRun", "force"].map {
                ["name": .string($0), "in": "query", "schema": ["type": .string($0 == "force" ? "boolean" : "string")]]
            }
            let namedParameters: JSONValue = [
                ["name": "name", "in": "path", "required": true, "schema": ["type": "string"]],
                ["name": "namespace", "in": "path", "required": true, "schema": ["type": "string"]],
            ]
            func operation(_ action: String, body: [String]? = nil) -> JSONValue {
                var op: JSONObject = [
                    "x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": gvk, "responses": ok,
                ]
                if let body {
                    op["parameters"] = .array(queryParameters)
                    var content = JSONObject()
                    for type in body { content[type] = ["schema": ref] }
                    op["requestBody"] = ["content": .object(content)]
                }
                return .object(op)
            }
            let patchTypes = [
                "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml",
            ]
            paths["/apis/\(group)/\(version)/namespaces/{namespace}/\(kind.plural)/{name}"] = [
                "parameters": namedParameters, "get": operation("get"),
                "put": operation("put", body: ["application/json"]),
                "patch": operation("patch", body: patchTypes), "delete": operation("delete"),
            ]
            paths["/apis/\(group)/\(version)/namespaces/{namespace}/\(kind.plural)"] = [
                "parameters": [["name": "namespace", "in": "path", "required": true, "schema": ["type": "string"]]],
                "get": operation("list"), "post": operation("post", body: ["application/json"]),
            ]
            paths["/apis/\(group)/\(version)/namespaces/{namespace}/\(kind.plural)/{name}/status"] = [
                "parameters": namedParameters, "get": operation("get"),
                "put": operation("put", body: ["application/json"]), "patch": operation("patch", body: patchTypes),
            ]
            schemas[schemaName(kind)] = [
                "type": "object",
                "description": .string("\(kind.rawValue) of Gloo Mesh (\(kind.apiVersion)), served by MeshLedger."),
                "x-kubernetes-group-version-kind": [gvk],
                "properties": [
                    "apiVersion": [
                        "type": "string",
                        "description": "APIVersion defines the versioned schema of this representation of an object.",
                    ],
                    "kind": [
                        "type": "string", "description": "Kind is a string value representing the REST resource.",
                    ],
                    "metadata": [
                        "description": "Standard object's metadata.",
                        "allOf": [["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]],
                    ],
                    "spec": CRDSchemas.shared.specSchema(of: kind),
                    "status": [
                        "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                        "description": .string(
                            kind == .virtualDestination
                                ? "Derived by MeshLedger from the log: selected destinations and the approval state per mesh."
                                : "Status of the object."),
                    ],
                ],
            ]
        }
        return [
            "openapi": "3.0.0", "info": ["title": "MeshLedger", "version": "v1.32.0-meshledger"],
            "paths": .object(paths), "components": ["schemas": .object(schemas)],
        ]
    }

    /// The derived Istio outputs (`networking.istio.io/v1alpha3`): read-only (get, list), with
    /// Istio's own schemas.
    static func outputsDocument() -> JSONValue {
        let (group, version) = (KubeOutputs.group, KubeOutputs.version)
        var paths = JSONObject()
        var schemas: JSONObject = ["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": objectMeta]
        for (kind, plural, _) in KubeOutputs.kinds {
            let gvk: JSONValue = ["group": .string(group), "version": .string(version), "kind": .string(kind)]
            let name = "io.istio.networking.\(version).\(kind)"
            let ref: JSONValue = ["$ref": .string("#/components/schemas/\(name)")]
            func operation(_ action: String) -> JSONValue {
                [
                    "x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": gvk,
                    "responses": ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]],
                ]
            }
            let namespace: JSONValue = [
                "name": "namespace", "in": "path", "required": true, "schema": ["type": "string"],
            ]
            paths["/apis/\(group)/\(version)/namespaces/{namespace}/\(plural)/{name}"] = [
                "parameters": [
                    namespace, ["name": "name", "in": "path", "required": true, "schema": ["type": "string"]],
                ],
                "get": operation("get"),
            ]
            paths["/apis/\(group)/\(version)/namespaces/{namespace}/\(plural)"] = [
                "parameters": [namespace], "get": operation("list"),
            ]
            var schema = CRDSchemas.istioSchemas[kind]?.objectValue ?? [:]
            schema["x-kubernetes-group-version-kind"] = [gvk]
            schema["description"] = .string("\(kind) (\(group)/\(version)), derived by MeshLedger; read-only.")
            var properties = schema["properties"]?.objectValue ?? [:]
            properties["metadata"] = [
                "description": "Standard object's metadata.",
                "allOf": [["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]],
            ]
            schema["properties"] = .object(properties)
            schemas[name] = .object(schema)
        }
        return [
            "openapi": "3.0.0", "info": ["title": "MeshLedger", "version": "v1.32.0-meshledger"],
            "paths": .object(paths), "components": ["schemas": .object(schemas)],
        ]
    }

    static let objectMeta: JSONValue = [
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have.",
        "properties": [
            "name": ["type": "string", "description": "Name must be unique within a namespace."],
            "namespace": [
                "type": "string", "description": "Namespace defines the space within which each name must be unique.",
            ],
            "labels": [
                "type": "object", "additionalProperties": ["type": "string"],
                "description": "Map of string keys and values that can be used to organize and categorize objects.",
            ],
            "annotations": [
                "type": "object", "additionalProperties": ["type": "string"],
                "description": "Annotations is an unstructured key value map stored with a resource.",
            ],
            "resourceVersion": [
                "type": "string",
                "description":
                    "An opaque value that represents the internal version of this object: in MeshLedger, the log sequence of its last change.",
            ],
            "generation": [
                "type": "integer", "format": "int64",
                "description": "A sequence number representing a specific generation of the desired state.",
            ],
            "uid": ["type": "string", "description": "UID is the unique in time and space value for this object."],
            "creationTimestamp": [
                "type": "string", "format": "date-time", "description": "The time this object was created.",
            ],
            "generateName": ["type": "string", "description": "An optional prefix used to generate a unique name."],
            "finalizers": [
                "type": "array", "items": ["type": "string"],
                "description": "Must be empty before the object is deleted.",
            ],
            "managedFields": [
                "type": "array", "items": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
                "description": "Field ownership.",
            ],
        ],
    ]
}

/// The routes of the Kubernetes API for the served kinds.
struct KubeRoutes: Sendable {
    let endpoints: Endpoints

    func addRoutes(to router: Router<ServerContext>) {
        KubeDiscovery(endpoints: endpoints).addRoutes(to: router)
        KubeOpenAPI().addRoutes(to: router)
        let reads = KubeObjects(endpoints: endpoints)
        let writes = KubeWrites(endpoints: endpoints, reads: reads)
        KubeOutputs(endpoints: endpoints, reads: reads).addRoutes(to: router)
        let apis = router.group("/apis").add(middleware: ErrorMiddleware(kubernetes: true))
        KubeAuthReviews(endpoints: endpoints, writes: writes).addRoutes(to: apis)
        KubeCoordination(endpoints: endpoints, writes: writes).addRoutes(to: router)
        KubeEvents(endpoints: endpoints, reads: reads).addRoutes(to: router)
        for kind in ResourceKind.served {
            let base = "\(kind.group)/\(kind.version)"
            apis.get(RouterPath("\(base)/\(kind.plural)")) { request, context in
                try await reads.list(kind, namespace: nil, request, context)
            }
            let collection = "\(base)/namespaces/:namespace/\(kind.plural)"
            apis.get(RouterPath(collection)) { request, context in
                try await reads.list(kind, namespace: try context.parameters.require("namespace"), request, context)
            }
            apis.post(RouterPath(collection)) { request, context in
                try await writes.create(kind, namespace: try context.parameters.require("namespace"), request, context)
            }
            for status in [false, true] {
                let path = "\(collection)/:name" + (status ? "/status" : "")
                apis.get(RouterPath(path)) { request, context in
                    try await reads.get(
                        kind, namespace: try context.parameters.require("namespace"),
                        name: try context.parameters.require("name"), request)
                }
                apis.put(RouterPath(path)) { request, context in
                    try await writes.update(
                        kind, namespace: try context.parameters.require("namespace"),
                        name: try context.parameters.require("name"), status: status, request, context)
                }
                apis.patch(RouterPath(path)) { request, context in
                    try await writes.patch(
                        kind, namespace: try context.parameters.require("namespace"),
                        name: try context.parameters.require("name"), status: status, request, context)
                }
            }
            apis.delete(RouterPath(collection)) { request, context in
                try await writes.deleteCollection(
                    kind, namespace: try context.parameters.require("namespace"), request, context)
            }
            apis.delete(RouterPath("\(collection)/:name")) { request, context in
                try await writes.delete(
                    kind, namespace: try context.parameters.require("namespace"),
                    name: try context.parameters.require("name"), request, context)
            }
        }
    }
}
