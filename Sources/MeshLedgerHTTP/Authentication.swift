import Foundation
import Hummingbird
import MeshModel
import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// Who may call, as kube-apiserver configures it: a static token file (`--token-auth-file`),
/// client certificates signed by a CA (`--client-ca-file`, user = CN, groups = O), and an ABAC
/// policy file (`--authorization-policy-file`). Nothing configured: every caller is anonymous
/// and allowed (the server then listens on loopback only).
public struct AccessControl: Sendable {
    /// A token's identity.
    struct TokenEntry: Sendable {
        let token: [UInt8]
        let identity: Identity
    }

    var tokens: [TokenEntry] = []
    /// Whether client certificates identify callers (a client CA is configured).
    var clientCertificates = false
    /// The ABAC policies; nil: every authenticated caller may do everything.
    var policies: [AccessPolicy]?

    /// No authentication, no authorization.
    public init() {}

    /// Whether any authentication is configured.
    public var authenticates: Bool { !tokens.isEmpty || clientCertificates }

    /// Reads kube-apiserver's static token file: `token,user,uid[,"group1,group2"]` per line.
    public mutating func addTokenFile(_ path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AccessError("\(path): cannot read the token file")
        }
        for (number, line) in text.split(separator: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = Self.csvFields(trimmed)
            guard fields.count >= 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw AccessError("\(path):\(number + 1): expected token,user,uid[,\"group1,group2\"]")
            }
            let groups = fields.count > 3 ? fields[3].split(separator: ",").map { String($0) } : []
            tokens.append(TokenEntry(token: Array(fields[0].utf8), identity: Identity(user: fields[1], groups: groups)))
        }
    }

    /// One all-powerful token (`--token-file`, kept as a shorthand): user `admin` in `system:masters`.
    public mutating func addSingleToken(_ token: String) {
        tokens.append(
            TokenEntry(token: Array(token.utf8), identity: Identity(user: "admin", groups: ["system:masters"])))
    }

    /// Client certificates identify callers (the TLS layer verifies them against the CA).
    public mutating func acceptClientCertificates() { clientCertificates = true }

    /// Reads an ABAC policy file: one JSON policy object a line.
    public mutating func addPolicyFile(_ path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AccessError("\(path): cannot read the policy file")
        }
        var policies: [AccessPolicy] = []
        for (number, line) in text.split(separator: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let value = try? JSONText.parse(Array(trimmed.utf8)), let spec = value["spec"] else {
                throw AccessError("\(path):\(number + 1): expected a JSON policy {\"spec\": {...}}")
            }
            policies.append(AccessPolicy(spec))
        }
        self.policies = policies
    }

    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        for character in line {
            if character == "\"" {
                quoted.toggle()
            } else if character == "," && !quoted {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The identity of a bearer token, compared in constant time against every known token.
    func identity(token: String) -> Identity? {
        let given = Array(token.utf8)
        var found: Identity?
        for entry in tokens {
            var difference = UInt8(given.count == entry.token.count ? 0 : 1)
            for i in 0..<entry.token.count { difference |= entry.token[i] ^ (i < given.count ? given[i] : 0) }
            if difference == 0 { found = entry.identity }
        }
        return found
    }
}

/// A configuration problem of the access files.
public struct AccessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One ABAC policy line (`abac.authorization.kubernetes.io/v1beta1` `Policy.spec`).
struct AccessPolicy: Sendable {
    var user: String?
    var group: String?
    var readonly: Bool
    var apiGroup: String?
    var resource: String?
    var namespace: String?
    var nonResourcePath: String?

    init(_ spec: JSONValue) {
        user = spec["user"]?.stringValue
        group = spec["group"]?.stringValue
        readonly = spec["readonly"]?.boolValue ?? false
        apiGroup = spec["apiGroup"]?.stringValue
        resource = spec["resource"]?.stringValue
        namespace = spec["namespace"]?.stringValue
        nonResourcePath = spec["nonResourcePath"]?.stringValue
    }

    /// Kubernetes' ABAC matching: the subject (user or group, `*` for any authenticated caller),
    /// read-only, then the resource attributes or the non-resource path.
    func allows(_ identity: Identity, _ request: AccessRequest) -> Bool {
        let subject =
            (user.map { $0 == "*" ? identity.user != Identity.anonymous.user : $0 == identity.user } ?? false)
            || (group.map { $0 == "*" ? identity.user != Identity.anonymous.user : identity.groups.contains($0) }
                ?? false)
        guard subject else { return false }
        if readonly && !request.readOnly { return false }
        if let resourceAttributes = request.resource {
            func matches(_ pattern: String?, _ value: String) -> Bool { pattern == "*" || pattern == value }
            return matches(apiGroup, resourceAttributes.group) && matches(resource, resourceAttributes.resource)
                && matches(namespace, resourceAttributes.namespace)
        }
        guard let pattern = nonResourcePath else { return false }
        if pattern == "*" { return true }
        if pattern.hasSuffix("*") { return request.path.hasPrefix(pattern.dropLast()) }
        return pattern == request.path
    }
}

/// What a request asks for, as authorization sees it.
struct AccessRequest {
    struct Resource {
        var group: String
        var resource: String
        var namespace: String
    }

    var path: String
    var verb: String
    var readOnly: Bool
    var resource: Resource?

    /// A request's attributes: `/api/v1/...` and `/apis/G/V/...` name resources (the core group
    /// is ""), everything else is a non-resource path.
    init(_ request: Request) {
        path = request.uri.path
        let method = request.method
        readOnly = method == .get || method == .head || method == .options
        let watch = request.uri.queryParameters["watch"].map { $0 == "true" || $0 == "1" } ?? false
        let parts = path.split(separator: "/").map(String.init)
        var resourceParts: ArraySlice<String>?
        var group = ""
        if parts.first == "apis", parts.count >= 4 {
            group = parts[1]
            resourceParts = parts[3...]
        } else if parts.first == "api", parts.count >= 3 {
            resourceParts = parts[2...]
        }
        if var rest = resourceParts {
            var namespace = ""
            if rest.first == "namespaces", rest.count >= 3 {
                namespace = rest[rest.startIndex + 1]
                rest = rest.dropFirst(2)
            } else if rest.first == "namespaces", rest.count == 2 {
                namespace = rest[rest.startIndex + 1]
            }
            let name = rest.count >= 2 ? rest[rest.startIndex + 1] : nil
            resource = Resource(group: group, resource: rest.first ?? "", namespace: namespace)
            switch method {
            case .get: verb = watch ? "watch" : (name == nil ? "list" : "get")
            case .post: verb = "create"
            case .put: verb = "update"
            case .patch: verb = "patch"
            case .delete: verb = "delete"
            default: verb = method.rawValue.lowercased()
            }
        } else {
            verb = method.rawValue.lowercased()
        }
    }
}

/// Authenticates every request (a bearer token, else a verified client certificate) and
/// authorizes it against the ABAC policies; the identity it finds is the actor of what the
/// request writes. `/healthz` and `/version` need no credentials.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let access: AccessControl

    /// Paths anyone may call; a forwarded write proves it comes from a replica with a secret.
    static let public_ = ["/healthz", "/livez", "/readyz", "/version", ReplicationRoutes.appendPath]

    func handle(
        _ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        guard access.authenticates else {
            context.identity = .anonymous
            return try await next(request, context)
        }
        if Self.public_.contains(request.uri.path) { return try await next(request, context) }
        var identity: Identity?
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            identity = access.identity(token: String(header.dropFirst(7)))
            if identity == nil { return Self.refusal(401, "Unauthorized", "Unauthorized") }
        } else if access.clientCertificates, let channel = context.channel {
            identity = await Self.certificateIdentity(channel)
        }
        guard let identity else { return Self.refusal(401, "Unauthorized", "Unauthorized") }
        context.identity = identity
        if let policies = access.policies {
            let attributes = AccessRequest(request)
            if !policies.contains(where: { $0.allows(identity, attributes) }) {
                return Self.forbidden(identity, attributes)
            }
        }
        return try await next(request, context)
    }

    /// The identity in the verified client certificate of the connection (HTTP/2 streams ask
    /// their parent connection): CN is the user, each O a group.
    static func certificateIdentity(_ channel: any Channel) async -> Identity? {
        for candidate in [channel, channel.parent].compactMap({ $0 }) {
            guard let certificate = try? await candidate.nioSSL_peerCertificate().get(),
                let der = try? certificate.toDERBytes(),
                let parsed = try? X509.Certificate(derEncoded: der)
            else { continue }
            let user = parsed.subject.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }
            let groups = parsed.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.organizationName }
            guard let user else { return nil }
            return Identity(user: "\(user.value)", groups: groups.map { "\($0.value)" })
        }
        return nil
    }

    static func refusal(_ code: Int, _ reason: String, _ message: String) -> Response {
        kubeJSON(KubeError(code: code, reason: reason, message: message).status, status: .init(code: code))
    }

    static func forbidden(_ identity: Identity, _ request: AccessRequest) -> Response {
        let message: String
        if let resource = request.resource {
            let scope =
                resource.namespace.isEmpty ? "at the cluster scope" : "in the namespace \"\(resource.namespace)\""
            let what = resource.group.isEmpty ? resource.resource : "\(resource.resource).\(resource.group)"
            message =
                "\(what) is forbidden: User \"\(identity.user)\" cannot \(request.verb) resource \"\(resource.resource)\" in API group \"\(resource.group)\" \(scope)"
        } else {
            message = "forbidden: User \"\(identity.user)\" cannot \(request.verb) path \"\(request.path)\""
        }
        return kubeJSON(
            KubeError(code: 403, reason: "Forbidden", message: message).status, status: .forbidden)
    }
}
