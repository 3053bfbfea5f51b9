import MeshModel

/// One resource the Kubernetes API serves, declared once: discovery (legacy and aggregated) and
/// the OpenAPI index are derived from these declarations, and a test checks that every declared
/// verb is routed (`KubeRegistryTests`). CONTRIBUTING.md says how to serve a new kind.
struct KubeResource: Sendable {
    /// The API group ("" for the core group, `/api/v1`).
    var group: String
    var version: String
    var kind: String
    var plural: String
    var singular: String
    var namespaced: Bool
    var verbs: [String]
    var shortNames: [String] = []
    var categories: [String] = []
    /// Subresources and their verbs (`status`).
    var subresources: [Subresource] = []
    /// Whether `/openapi/v3` describes it (the kinds with a bundled schema).
    var hasSchema = false

    struct Subresource: Sendable {
        var name: String
        var verbs: [String]
    }

    var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `plural.group` (`plural` in the core group), as Kubernetes names a resource in messages.
    var groupResource: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// The path of its group-version: `/api/v1` or `/apis/G/V`.
    var rootPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The path of its collection: in `namespace`, or across all namespaces when nil.
    func collectionPath(namespace: String?) -> String {
        guard namespaced, let namespace else { return "\(rootPath)/\(plural)" }
        return "\(rootPath)/namespaces/\(namespace)/\(plural)"
    }
}

extension KubeResource {
    /// A kind of the log, as served: every verb, the status subresource, its CRD's schema.
    init(_ kind: ResourceKind) {
        self.init(
            group: kind.group, version: kind.version, kind: kind.rawValue, plural: kind.plural,
            singular: kind.singular, namespaced: true, verbs: KubeRegistry.readWrite, shortNames: kind.shortNames,
            categories: kind.categories, subresources: [.init(name: "status", verbs: ["get", "patch", "update"])],
            hasSchema: true)
    }
}

/// Every resource served, and the discovery documents made from them.
enum KubeRegistry {
    static let readWrite = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// The five Gloo Mesh kinds of the log.
    static let logKinds: [KubeResource] = ResourceKind.served.map(KubeResource.init)

    /// The derived Istio outputs, read-only.
    static let outputs: [KubeResource] = KubeOutputs.kinds.map { kind, plural, singular in
        KubeResource(
            group: KubeOutputs.group, version: KubeOutputs.version, kind: kind, plural: plural, singular: singular,
            namespaced: true, verbs: ["get", "list", "watch"], categories: ["meshledger-outputs"], hasSchema: true)
    }

    /// The access reviews: creates only.
    static let reviews: [KubeResource] = KubeAuthReviews.groups.flatMap { group, version, resources in
        resources.map {
            KubeResource(
                group: group, version: version, kind: $0.kind, plural: $0.plural, singular: "", namespaced: false,
                verbs: ["create"])
        }
    }

    /// Namespaces (every namespace the log names) and the coordination objects (decision 0017).
    static let core: [KubeResource] = [
        KubeResource(
            group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace",
            namespaced: false, verbs: ["get", "list", "watch"], shortNames: ["ns"]),
        KubeResource(
            group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", singular: "configmap", namespaced: true,
            verbs: KubeCoordination.verbs, shortNames: ["cm"]),
        KubeResource(
            group: "", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true,
            verbs: ["get", "list"], shortNames: ["ev"]),
    ]

    static let coordination: [KubeResource] = [
        KubeResource(
            group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", singular: "lease",
            namespaced: true, verbs: KubeCoordination.verbs)
    ]

    /// Events from history (`KubeEvents`), read-only.
    static let events: [KubeResource] = [
        KubeResource(
            group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", singular: "event",
            namespaced: true, verbs: ["get", "list"], shortNames: ["ev"])
    ]

    /// Everything served, core first, then the groups in their preferred order.
    static let resources: [KubeResource] = core + logKinds + outputs + reviews + coordination + events

    /// The named groups and their version, in order.
    static var groups: [(group: String, version: String)] {
        var seen: [(String, String)] = []
        for resource in resources where !resource.group.isEmpty && !seen.contains(where: { $0.0 == resource.group }) {
            seen.append((resource.group, resource.version))
        }
        return seen
    }

    /// The group-versions `/openapi/v3` describes.
    static var schemaGroups: [(group: String, version: String)] {
        groups.filter { group in resources.contains { $0.group == group.group && $0.hasSchema } }
    }

    /// `/apis` (APIGroupList).
    static func groupList() -> JSONValue {
        let groups = Self.groups.map { group, version -> JSONValue in
            let gv: JSONValue = ["groupVersion": .string("\(group)/\(version)"), "version": .string(version)]
            return ["name": .string(group), "versions": [gv], "preferredVersion": gv]
        }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)]
    }

    /// `/api/v1` or `/apis/G/V` (APIResourceList).
    static func resourceList(group: String, version: String) -> JSONValue {
        var items: [JSONValue] = []
        for resource in resources where resource.group == group && resource.version == version {
            var item: JSONObject = [
                "name": .string(resource.plural), "singularName": .string(resource.singular),
                "namespaced": .bool(resource.namespaced), "kind": .string(resource.kind),
                "verbs": .array(resource.verbs.map(JSONValue.string)),
            ]
            if !resource.shortNames.isEmpty { item["shortNames"] = .array(resource.shortNames.map(JSONValue.string)) }
            if !resource.categories.isEmpty { item["categories"] = .array(resource.categories.map(JSONValue.string)) }
            items.append(.object(item))
            for sub in resource.subresources {
                items.append([
                    "name": .string("\(resource.plural)/\(sub.name)"), "singularName": "",
                    "namespaced": .bool(resource.namespaced), "kind": .string(resource.kind),
                    "verbs": .array(sub.verbs.map(JSONValue.string)),
                ])
            }
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(items),
        ]
    }

    /// Aggregated discovery (`apidiscovery.k8s.io/v2`) of the core group or of the named ones.
    static func aggregated(core: Bool) -> JSONValue {
        let groups: [(group: String, version: String)] = core ? [("", "v1")] : Self.groups
        let items = groups.map { group, version -> JSONValue in
            let entries = resources.filter { $0.group == group && $0.version == version }.map {
                resource -> JSONValue in
                let responseKind: JSONValue = [
                    "group": .string(group), "version": .string(version), "kind": .string(resource.kind),
                ]
                var entry: JSONObject = [
                    "resource": .string(resource.plural), "scope": resource.namespaced ? "Namespaced" : "Cluster",
                    "responseKind": responseKind, "verbs": .array(resource.verbs.map(JSONValue.string)),
                ]
                if !resource.singular.isEmpty { entry["singularResource"] = .string(resource.singular) }
                if !resource.shortNames.isEmpty {
                    entry["shortNames"] = .array(resource.shortNames.map(JSONValue.string))
                }
                if !resource.categories.isEmpty {
                    entry["categories"] = .array(resource.categories.map(JSONValue.string))
                }
                if !resource.subresources.isEmpty {
                    entry["subresources"] = .array(
                        resource.subresources.map {
                            [
                                "subresource": .string($0.name), "responseKind": responseKind,
                                "verbs": .array($0.verbs.map(JSONValue.string)),
                            ]
                        })
                }
                return .object(entry)
            }
            return [
                "metadata": ["name": .string(group)],
                "versions": [["version": .string(version), "freshness": "Current", "resources": .array(entries)]],
            ]
        }
        return [
            "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": [:],
            "items": .array(items),
        ]
    }
}
