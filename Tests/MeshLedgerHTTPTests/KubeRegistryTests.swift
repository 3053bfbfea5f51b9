import Foundation
import HTTPTypes
import HummingbirdTesting
import MeshLedger
import MeshModel
import Testing

/// One declaration per resource: legacy and aggregated discovery say the same, every verb
/// discovery advertises is routed, no other verb is, and OpenAPI describes every resource with a
/// schema. A resource added in one place only fails here.
@Suite struct KubeRegistryTests {
    struct Advertised: Hashable, CustomStringConvertible {
        var groupVersion: String
        var plural: String
        var kind: String
        var namespaced: Bool
        var verbs: [String]
        var subresources: [String]
        var description: String { "\(groupVersion) \(plural)" }
    }

    /// Discovery as kubectl's legacy reads give it: `/api/v1`, then `/apis/G/V` for each group.
    func legacy(_ client: any TestClientProtocol) async throws -> [Advertised] {
        var paths = ["/api/v1"]
        let groups = try await client.call(.get, "/apis").json["groups"]?.arrayValue ?? []
        for group in groups {
            if let gv = group[path: ["preferredVersion", "groupVersion"]]?.stringValue { paths.append("/apis/\(gv)") }
        }
        var advertised: [Advertised] = []
        for path in paths {
            let list = try await client.call(.get, path).json
            let resources = list["resources"]?.arrayValue ?? []
            for resource in resources {
                guard let name = resource["name"]?.stringValue, !name.contains("/") else { continue }
                let subresources = resources.compactMap { $0["name"]?.stringValue }.filter { $0.hasPrefix(name + "/") }
                    .map { String($0.dropFirst(name.count + 1)) }
                advertised.append(
                    Advertised(
                        groupVersion: list["groupVersion"]?.stringValue ?? "", plural: name,
                        kind: resource["kind"]?.stringValue ?? "", namespaced: resource["namespaced"] == true,
                        verbs: resource["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                        subresources: subresources))
            }
        }
        return advertised
    }

    /// Discovery as aggregated v2 gives it (client-go's default).
    func aggregated(_ client: any TestClientProtocol) async throws -> [Advertised] {
        let accept: HTTPFields = [
            .accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ]
        var advertised: [Advertised] = []
        for root in ["/api", "/apis"] {
            let items = try await client.call(.get, root, headers: accept).json["items"]?.arrayValue ?? []
            for item in items {
                let group = item[path: ["metadata", "name"]]?.stringValue ?? ""
                for version in item["versions"]?.arrayValue ?? [] {
                    let v = version["version"]?.stringValue ?? ""
                    for resource in version["resources"]?.arrayValue ?? [] {
                        advertised.append(
                            Advertised(
                                groupVersion: group.isEmpty ? v : "\(group)/\(v)",
                                plural: resource["resource"]?.stringValue ?? "",
                                kind: resource[path: ["responseKind", "kind"]]?.stringValue ?? "",
                                namespaced: resource["scope"] == "Namespaced",
                                verbs: resource["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                                subresources: resource["subresources"]?.arrayValue?.compactMap {
                                    $0["subresource"]?.stringValue
                                } ?? []))
                    }
                }
            }
        }
        return advertised
    }

    @Test func discoveryRoutesAndOpenAPIAgree() async throws {
        try await withServer(try fleetStore()) { client in
            let legacy = try await legacy(client)
            let aggregated = try await aggregated(client)
            #expect(legacy == aggregated)
            #expect(legacy.count >= 14, "\(legacy)")
            #expect(Set(legacy.map(\.kind)).isSuperset(of: ["Lease", "ConfigMap", "Namespace", "VirtualDestination"]))

            // Every advertised verb is routed; every other verb is refused (404 or 405).
            let all = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            for resource in legacy {
                let root = resource.groupVersion.contains("/") ? "/apis/\(resource.groupVersion)" : "/api/v1"
                let collection =
                    resource.namespaced
                    ? "\(root)/namespaces/bookinfo/\(resource.plural)" : "\(root)/\(resource.plural)"
                for verb in all {
                    let (method, path): (HTTPRequest.Method, String) =
                        switch verb {
                        case "create": (.post, collection)
                        case "delete": (.delete, collection + "/nothing-here")
                        case "deletecollection": (.delete, collection + "?labelSelector=nothing%3Dhere")
                        case "get": (.get, collection + "/nothing-here")
                        case "list": (.get, collection)
                        case "patch": (.patch, collection + "/nothing-here")
                        case "update": (.put, collection + "/nothing-here")
                        default: (.get, collection + "?watch=1&timeoutSeconds=1")
                        }
                    let answer = try await client.call(
                        method, path, body: method == .get ? nil : "{}",
                        headers: [.contentType: method == .patch ? "application/merge-patch+json" : "application/json"])
                    let unrouted =
                        answer.status == 405
                        || (answer.status == 404
                            && answer.json["message"] == "the server could not find the requested resource")
                    if resource.verbs.contains(verb) {
                        #expect(!unrouted, "\(resource) \(verb): \(answer.status) \(answer.text)")
                        if verb == "get" || (verb == "update" && resource.kind != "Namespace") {
                            // A routed read of a missing object names the resource.
                            #expect(
                                answer.json[path: ["details", "kind"]]?.stringValue == resource.plural
                                    || answer.json[path: ["details", "kind"]]?.stringValue == resource.kind,
                                "\(resource) \(verb): \(answer.text)")
                        }
                    } else if verb != "watch" || resource.verbs.contains("list") {
                        #expect(
                            unrouted || answer.status == 400 || answer.status == 422,
                            "\(resource) \(verb) is not advertised but answered \(answer.status) \(answer.text)")
                        #expect(answer.status >= 400, "\(resource) \(verb): \(answer.status)")
                    }
                }
            }

            // OpenAPI v3 describes every kind of every group-version it lists, and lists every
            // group-version that has a schema: the Gloo kinds and the Istio outputs.
            let index = try await client.call(.get, "/openapi/v3").json["paths"]?.objectValue ?? JSONObject()
            let described = Set(index.map(\.key))
            let withSchema = Set(
                legacy.filter {
                    $0.groupVersion.contains("solo.io") || $0.groupVersion.hasPrefix("networking.istio.io")
                }
                .map { "apis/\($0.groupVersion)" })
            #expect(described == withSchema, "\(described)")
            for path in described.sorted() {
                let document = try await client.call(.get, "/openapi/v3/\(path)").json
                let kinds = Set(
                    (document[path: ["components", "schemas"]]?.objectValue ?? JSONObject()).compactMap {
                        $0.value["x-kubernetes-group-version-kind"]?.arrayValue?.first?["kind"]?.stringValue
                    })
                let expected = Set(legacy.filter { "apis/\($0.groupVersion)" == path }.map(\.kind))
                #expect(kinds.isSuperset(of: expected), "\(path): \(kinds) lacks some of \(expected)")
            }
        }
    }
}
