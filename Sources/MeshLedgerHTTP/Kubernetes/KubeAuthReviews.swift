import Hummingbird
import MeshModel

/// `kubectl auth whoami`, `kubectl auth can-i` and `kubectl auth can-i --list`: SelfSubjectReview
/// (`authentication.k8s.io/v1`), SelfSubjectAccessReview and SelfSubjectRulesReview
/// (`authorization.k8s.io/v1`), answered from the same authorizer every request passes
/// (`AccessControl`), for the identity the request runs as (the impersonated one when it
/// impersonates), as kube-apiserver's registry for them answers.
struct KubeAuthReviews: Sendable {
    let endpoints: Endpoints
    let writes: KubeWrites

    static let groups: [(group: String, version: String, resources: [(plural: String, kind: String)])] = [
        ("authentication.k8s.io", "v1", [("selfsubjectreviews", "SelfSubjectReview")]),
        (
            "authorization.k8s.io", "v1",
            [
                ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
                ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
            ]
        ),
    ]

    func addRoutes(to apis: RouterGroup<ServerContext>) {
        apis.post("authentication.k8s.io/v1/selfsubjectreviews") { request, context in
            _ = try await body(request)
            let identity = context.identity ?? .anonymous
            return kubeJSON(
                [
                    "kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                    "metadata": ["creationTimestamp": .null],
                    "status": [
                        "userInfo": [
                            "username": .string(identity.user), "groups": .array(identity.groups.map(JSONValue.string)),
                        ]
                    ],
                ], status: .created)
        }
        apis.post("authorization.k8s.io/v1/selfsubjectaccessreviews") { request, context in
            try await accessReview(try await body(request), context.identity ?? .anonymous)
        }
        apis.post("authorization.k8s.io/v1/selfsubjectrulesreviews") { request, context in
            try await rulesReview(try await body(request), context.identity ?? .anonymous)
        }
    }

    /// A review as JSON, sent in JSON or (as kubectl sends the built-in kinds) in protobuf.
    func body(_ request: Request) async throws -> JSONValue {
        guard (request.headers[.contentType] ?? "").hasPrefix("application/vnd.kubernetes.protobuf") else {
            return try await writes.body(request)
        }
        guard let review = KubeProtobuf.review(try await endpoints.body(request)) else {
            throw KubeError.badRequest("the request body is not a protobuf-encoded review")
        }
        return review
    }

    /// Whether the identity may do what the review's `spec` describes: exactly one of
    /// `resourceAttributes` and `nonResourceAttributes` (kube's validation), then the authorizer.
    func accessReview(_ body: JSONValue, _ identity: Identity) async throws -> Response {
        let spec = body["spec"] ?? .null
        let resource = spec["resourceAttributes"].flatMap { $0 == .null ? nil : $0 }
        let nonResource = spec["nonResourceAttributes"].flatMap { $0 == .null ? nil : $0 }
        guard (resource == nil) != (nonResource == nil) else {
            let message = "exactly one of nonResourceAttributes or resourceAttributes must be specified"
            throw KubeError(
                code: 422, reason: "Invalid",
                message:
                    "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": \(message)",
                details: [
                    "group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview",
                    "causes": [
                        [
                            "reason": "FieldValueInvalid", "field": "spec.resourceAttributes",
                            "message": .string("Invalid value: \"null\": \(message)"),
                        ]
                    ],
                ])
        }
        func string(_ value: JSONValue?, _ field: String) -> String { value?[field]?.stringValue ?? "" }
        let attributes: AccessRequest
        if let resource {
            attributes = AccessRequest(
                path: "", verb: string(resource, "verb"),
                resource: .init(
                    group: string(resource, "group"), resource: string(resource, "resource"),
                    subresource: string(resource, "subresource"), namespace: string(resource, "namespace"),
                    name: string(resource, "name")))
        } else {
            attributes = AccessRequest(
                path: string(nonResource, "path"), verb: string(nonResource, "verb"), resource: nil)
        }
        var status: JSONObject = ["allowed": false]
        switch endpoints.configuration.access.authorize(identity, attributes) {
        case .allow: status["allowed"] = true
        case .deny(let reason): status["reason"] = .string(reason)
        }
        return kubeJSON(
            [
                "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": ["creationTimestamp": .null], "spec": spec, "status": .object(status),
            ], status: .created)
    }

    /// What the identity may do in `spec.namespace`, as the authorizer's rules list it.
    func rulesReview(_ body: JSONValue, _ identity: Identity) async throws -> Response {
        let spec = body["spec"] ?? [:]
        let rules = endpoints.configuration.access.rules(for: identity, namespace: spec["namespace"]?.stringValue ?? "")
        return kubeJSON(
            [
                "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": ["creationTimestamp": .null], "spec": spec,
                "status": [
                    "resourceRules": .array(
                        rules.resource.map {
                            [
                                "verbs": .array($0.verbs.map(JSONValue.string)),
                                "apiGroups": .array($0.apiGroups.map(JSONValue.string)),
                                "resources": .array($0.resources.map(JSONValue.string)),
                            ]
                        }),
                    "nonResourceRules": .array(
                        rules.nonResource.map {
                            [
                                "verbs": .array($0.verbs.map(JSONValue.string)),
                                "nonResourceURLs": .array($0.urls.map(JSONValue.string)),
                            ]
                        }),
                    "incomplete": false,
                ],
            ], status: .created)
    }
}
