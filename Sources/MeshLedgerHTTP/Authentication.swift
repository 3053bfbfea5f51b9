import EventLog
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
        for (token, identity) in try AccessFiles.tokens(text, path: path) {
            tokens.append(TokenEntry(token: Array(token.utf8), identity: identity))
        }
    }

    /// One all-powerful token (`--token-file`, kept as a shorthand): user `admin` in `system:masters`.
    public mutating func addSingleToken(_ token: String) {
        tokens.append(
            TokenEntry(token: Array(token.utf8), identity: Identity(user: "admin", groups: ["system:masters"])))
    }

    /// Client certificates identify callers (the TLS layer verifies them against the CA).
    public mutating func acceptClientCertificates() { clientCertificates = true }

    /// Reads an ABAC policy file: one JSON policy object a line, `abac.authorization.kubernetes.io/v1beta1`
    /// or kube's unversioned (v0) form, converted as kube-apiserver converts it.
    public mutating func addPolicyFile(_ path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw AccessError("\(path): cannot read the policy file")
        }
        policies = try AccessFiles.policies(text, path: path)
    }

    /// kube-apiserver's authorizer chain with `--authorization-mode=ABAC`: members of
    /// `system:masters` may do anything (its privileged-group authorizer comes first), then the
    /// first ABAC line that matches allows; none: denied with ABAC's reason. Without a policy file
    /// every caller that got this far is allowed.
    func authorize(_ identity: Identity, _ request: AccessRequest) -> AccessDecision {
        if identity.groups.contains(Identity.privilegedGroup) { return .allow }
        guard let policies else { return .allow }
        if policies.contains(where: { $0.matches(identity, request) }) { return .allow }
        return .deny(reason: "No policy matched.")
    }

    /// A resource rule of `rules(for:namespace:)`.
    struct ResourceRule: Equatable {
        var verbs: [String]
        var apiGroups: [String]
        var resources: [String]
    }

    /// A non-resource rule of `rules(for:namespace:)`.
    struct NonResourceRule: Equatable {
        var verbs: [String]
        var urls: [String]
    }

    /// What an identity may do in a namespace, as kube-apiserver's authorizers list it for a
    /// SelfSubjectRulesReview: everything for `system:masters` and when no policy file is given;
    /// otherwise ABAC's `RulesFor`: per line whose subject matches and whose namespace is `*` or
    /// this one, its resource (all verbs, or get, list and watch when read-only) and its
    /// non-resource path.
    func rules(for identity: Identity, namespace: String) -> (resource: [ResourceRule], nonResource: [NonResourceRule])
    {
        guard let policies, !identity.groups.contains(Identity.privilegedGroup) else {
            return (
                [ResourceRule(verbs: ["*"], apiGroups: ["*"], resources: ["*"])],
                [NonResourceRule(verbs: ["*"], urls: ["*"])]
            )
        }
        var resource: [ResourceRule] = []
        var nonResource: [NonResourceRule] = []
        for policy in policies where policy.subjectMatches(identity) {
            guard policy.namespace == "*" || policy.namespace == namespace else { continue }
            let verbs = policy.readonly ? ["get", "list", "watch"] : ["*"]
            if !policy.resource.isEmpty {
                resource.append(ResourceRule(verbs: verbs, apiGroups: [policy.apiGroup], resources: [policy.resource]))
            }
            if !policy.nonResourcePath.isEmpty {
                nonResource.append(NonResourceRule(verbs: verbs, urls: [policy.nonResourcePath]))
            }
        }
        return (resource, nonResource)
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

/// What the authorizer decided, and why when it denies.
enum AccessDecision: Equatable {
    case allow
    case deny(reason: String)
}

extension AccessPolicy {
    /// kube's ABAC `matches`: the subject, then the verb (read-only lines allow only get, list
    /// and watch), then the resource attributes or the non-resource path.
    func matches(_ identity: Identity, _ request: AccessRequest) -> Bool {
        subjectMatches(identity) && (request.readOnly || !readonly)
            && (resourceMatches(request) || nonResourceMatches(request))
    }

    /// A line naming a user and a group needs both; a line naming neither matches nobody.
    func subjectMatches(_ identity: Identity) -> Bool {
        var matched = false
        if !user.isEmpty {
            if user != "*" && user != identity.user { return false }
            matched = true
        }
        if !group.isEmpty {
            if group != "*" && !identity.groups.contains(group) { return false }
            matched = true
        }
        return matched
    }

    func resourceMatches(_ request: AccessRequest) -> Bool {
        guard let attributes = request.resource else { return false }
        return (namespace == "*" || namespace == attributes.namespace)
            && (resource == "*" || resource == attributes.resource)
            && (apiGroup == "*" || apiGroup == attributes.group)
    }

    func nonResourceMatches(_ request: AccessRequest) -> Bool {
        guard request.resource == nil else { return false }
        if nonResourcePath == "*" || nonResourcePath == request.path { return true }
        guard nonResourcePath.hasSuffix("*") else { return false }
        var prefix = Substring(nonResourcePath)
        while prefix.hasSuffix("*") { prefix = prefix.dropLast() }
        return request.path.hasPrefix(prefix)
    }
}

/// What a request asks for, as kube-apiserver's request info derives it
/// (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`): `/api/V/...` and `/apis/G/V/...`
/// name resources (the core group is ""), everything else is a non-resource path whose verb is the
/// method in lower case.
struct AccessRequest: Equatable {
    /// A resource request's attributes.
    struct Resource: Hashable {
        var group: String
        var resource: String
        var subresource = ""
        var namespace: String
        var name = ""
    }

    var path: String
    var verb: String
    var resource: Resource?
    /// Authorized by its route once it has read the body (`POST /v1/events`: each object of the
    /// batch, `V1Access.writes`), not by the middleware.
    var deferred = false

    /// Only get, list and watch read (kube's `IsReadOnly`): `head` on a non-resource path does not.
    var readOnly: Bool { ["get", "list", "watch"].contains(verb) }

    init(path: String, verb: String, resource: Resource?) {
        (self.path, self.verb, self.resource) = (path, verb, resource)
    }

    /// A request's attributes.
    init(_ request: Request) {
        self.init(
            method: request.method, path: request.uri.path,
            query: { QueryParameters.value(of: String($0), in: request.uri.query) })
    }

    /// The attributes of `method` on `path`; `query` reads the first value of a query parameter.
    init(method: HTTPRequest.Method, path: String, query: (Substring) -> String?) {
        self.path = path
        verb = method.rawValue.lowercased()
        if let v1 = V1Access.read(method: method, path: path, query: query) {
            (verb, resource) = (v1.verb, v1.resource)
            return
        }
        if V1Access.isWrite(method: method, path: path) {
            deferred = true
            return
        }
        // Empty segments are dropped, as the router drops them when it routes the request: the
        // attributes are those of the route that serves it (`/namespaces//x/...` is namespace `x`).
        var parts = path.split(separator: "/").map(String.init)[...]
        guard parts.count >= 3, let prefix = parts.first, prefix == "api" || prefix == "apis" else { return }
        parts = parts.dropFirst()
        var group = ""
        if prefix == "apis" {
            guard parts.count >= 3 else { return }
            group = parts.removeFirst()
        }
        parts = parts.dropFirst()  // the version
        if let first = parts.first, first == "watch" || first == "proxy", parts.count >= 2 {
            verb = first
            parts = parts.dropFirst()
        } else {
            switch method {
            case .post: verb = "create"
            case .get, .head: verb = "get"
            case .put: verb = "update"
            case .patch: verb = "patch"
            case .delete: verb = "delete"
            default: verb = ""
            }
        }
        var namespace = ""
        if parts.first == "namespaces", parts.count > 1 {
            namespace = parts[parts.startIndex + 1]
            if parts.count > 2 && !["status", "finalize"].contains(parts[parts.startIndex + 2]) {
                parts = parts.dropFirst(2)
            }
        }
        let list = Array(parts)
        var attributes = Resource(group: group, resource: list.first ?? "", namespace: namespace)
        if list.count >= 3 && verb != "proxy" { attributes.subresource = list[2] }
        if list.count >= 2 { attributes.name = list[1] }
        if attributes.name.isEmpty && verb == "get" {
            let watch = QueryParameters.flag(query("watch"))
            verb = watch ? "watch" : "list"
            if let selector = query("fieldSelector"), let name = Self.exactName(selector) { attributes.name = name }
        }
        if attributes.name.isEmpty && verb == "delete" { verb = "deletecollection" }
        resource = attributes
    }

    /// The name a field selector requires (`metadata.name=N` or `==`), when it is a valid path segment.
    static func exactName(_ selector: String) -> String? {
        for term in selector.split(separator: ",") {
            let term = term.trimmingCharacters(in: .whitespaces)
            let name: Substring
            if term.hasPrefix("metadata.name==") {
                name = term.dropFirst(15)
            } else if term.hasPrefix("metadata.name=") {
                name = term.dropFirst(14)
            } else {
                continue
            }
            if name.isEmpty || name == "." || name == ".." || name.contains("/") || name.contains("%") { return nil }
            return String(name)
        }
        return nil
    }
}

/// Authenticates every request (a bearer token, else a verified client certificate), applies
/// impersonation, and authorizes it against the ABAC policies, in kube-apiserver's order; the
/// identity it ends with is the actor of what the request writes. `/healthz` and `/version` need no
/// credentials. A caller without credentials is refused (401) when authentication is configured
/// (kube-apiserver with `--anonymous-auth=false`).
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let access: AccessControl

    /// Paths anyone may call; a forwarded write proves it comes from a replica with a secret.
    static let public_ = ["/healthz", "/livez", "/readyz", "/version", ReplicationRoutes.appendPath]

    func handle(
        _ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let identity: Identity
        if access.authenticates {
            if Self.public_.contains(request.uri.path) { return try await next(request, context) }
            var found: Identity?
            if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
                found = access.identity(token: String(header.dropFirst(7)))
                if found == nil { return Self.refusal(401, "Unauthorized", "Unauthorized") }
            } else if access.clientCertificates, let channel = context.channel {
                found = await Self.certificateIdentity(channel)
            }
            guard let found else { return Self.refusal(401, "Unauthorized", "Unauthorized") }
            identity = found.authenticated
        } else {
            identity = .anonymous
        }
        var acting = identity
        switch Impersonation.requested(request.headers) {
        case .failure(let error):
            return Response(
                status: .internalServerError, headers: [.contentType: "text/plain"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: "Internal Server Error: \(goQuoted(request.uri.description)): \(error.message)")))
        case .success(let impersonation?):
            for attributes in impersonation.attributes(path: request.uri.path) {
                let decision =
                    access.authenticates
                    ? access.authorize(identity, attributes)
                    : .deny(
                        reason:
                            "impersonation needs authentication (--token-auth-file, --client-ca-file or --token-file)")
                if case .deny(let reason) = decision { return Self.forbidden(identity, attributes, reason: reason) }
            }
            acting = impersonation.identity
            context.impersonator = identity
        case .success(nil):
            break
        }
        context.identity = acting
        let attributes = AccessRequest(request)
        if !attributes.deferred, case .deny(let reason) = access.authorize(acting, attributes) {
            return Self.forbidden(acting, attributes, reason: reason)
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

    /// kube-apiserver's 403 (`responsewriters.Forbidden`): the message `forbiddenMessage` writes,
    /// the authorizer's reason after a colon, in the `Status` that `NewForbidden` makes of the
    /// group, resource and name.
    static func forbidden(_ identity: Identity, _ request: AccessRequest, reason: String) -> Response {
        var message: String
        if let resource = request.resource {
            let what = resource.subresource.isEmpty ? resource.resource : "\(resource.resource)/\(resource.subresource)"
            let scope =
                resource.namespace.isEmpty
                ? "at the cluster scope" : "in the namespace \(goQuoted(resource.namespace))"
            message =
                "User \(goQuoted(identity.user)) cannot \(request.verb) resource \(goQuoted(what)) in API group \(goQuoted(resource.group)) \(scope)"
        } else {
            message = "User \(goQuoted(identity.user)) cannot \(request.verb) path \(goQuoted(request.path))"
        }
        message = message.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        if !reason.isEmpty { message += ": \(reason)" }
        var details = JSONObject()
        let group = request.resource?.group ?? ""
        let resource = request.resource?.resource ?? ""
        let name = request.resource?.name ?? ""
        if group.isEmpty && resource.isEmpty {
            message = "forbidden: " + message
        } else {
            let groupResource = group.isEmpty ? resource : "\(resource).\(group)"
            message =
                (name.isEmpty ? groupResource : "\(groupResource) \(goQuoted(name))") + " is forbidden: " + message
        }
        if !group.isEmpty { details["group"] = .string(group) }
        if !resource.isEmpty { details["kind"] = .string(resource) }
        if !name.isEmpty { details["name"] = .string(name) }
        return kubeJSON(
            KubeError(code: 403, reason: "Forbidden", message: message, details: .object(details)).status,
            status: .forbidden)
    }
}

/// How `/v1` is authorized, in one place: its object reads by the resource attributes of the
/// kind and namespace they read (so namespace-scoped ABAC lines apply as on the Kubernetes API),
/// each object a `POST /v1/events` batch writes as create, update or delete of its kind in its
/// namespace, and a `POST /v1/feedback` report as a create or update of its `SyncResult`. Every
/// other `/v1` path (`log`, `watch`, `outputs`) is a non-resource
/// path.
enum V1Access {
    /// The attributes of a `/v1` object read: `GET /v1/<kinds>[?namespace=]` lists (all namespaces:
    /// at the cluster scope), `GET /v1/<kinds>/<namespace>/<name>` gets, and a VirtualDestination's
    /// `history` and `explain` get the VirtualDestination. Nil for other requests.
    static func read(
        method: HTTPRequest.Method, path: String, query: (Substring) -> String?
    ) -> (
        verb: String, resource: AccessRequest.Resource
    )? {
        guard method == .get || method == .head else { return nil }
        // Empty segments are dropped, so that `/v1/vds/` and `/v1//vds` (should the router take
        // them for `/v1/vds`) are not mistaken for a path that a `nonResourcePath` line opens.
        let parts = path.split(separator: "/").map(String.init)
        guard parts.first == "v1", parts.count >= 2,
            let kind = ResourceKind.allCases.first(where: { $0.plural == parts[1] })
        else { return nil }
        switch parts.count {
        case 2:
            return ("list", .init(group: kind.group, resource: kind.plural, namespace: query("namespace") ?? ""))
        case 4:
            return ("get", .init(group: kind.group, resource: kind.plural, namespace: parts[2], name: parts[3]))
        case 5 where kind == .virtualDestination && ["history", "explain"].contains(parts[4]):
            return ("get", .init(group: kind.group, resource: kind.plural, namespace: parts[2], name: parts[3]))
        default:
            return nil
        }
    }

    /// Whether a request is a `/v1` write of objects, authorized by `writes` once its batch is read:
    /// `POST /v1/events`, and `POST /v1/feedback` (a controller's report is a create or update of
    /// the `SyncResult` of that output, in the output's namespace).
    static func isWrite(method: HTTPRequest.Method, path: String) -> Bool {
        method == .post && (path == "/v1/events" || path == "/v1/feedback")
    }

    /// The attributes of each change of a batch: create or update (`exists` tells which) of an
    /// upserted object, delete of a deleted one, and deletecollection of every kind a resync
    /// covers, in its namespace (none: at the cluster scope).
    static func writes(_ batch: Batch, path: String, exists: (ObjectKey) throws -> Bool) rethrows -> [AccessRequest] {
        func attributes(_ verb: String, _ kind: ResourceKind, _ namespace: String, _ name: String) -> AccessRequest {
            AccessRequest(
                path: path, verb: verb,
                resource: .init(group: kind.group, resource: kind.plural, namespace: namespace, name: name))
        }
        var checks: [AccessRequest] = []
        for change in batch.changes {
            let key = change.key
            switch change.operation {
            case .upsert:
                checks.append(attributes(try exists(key) ? "update" : "create", key.kind, key.namespace, key.name))
            case .delete:
                checks.append(attributes("delete", key.kind, key.namespace, key.name))
            }
        }
        if let resync = batch.resync {
            for kind in resync.kinds.sorted(by: { $0.rawValue < $1.rawValue }) {
                checks.append(attributes("deletecollection", kind, resync.namespace ?? "", ""))
            }
        }
        return checks
    }

    /// The 403 for the first change of `batch` the caller may not make; nil when it may make them all.
    static func refusal(
        of batch: Batch, path: String, context: ServerContext, access: AccessControl,
        exists: (ObjectKey) throws -> Bool
    ) rethrows -> Response? {
        let identity = context.identity ?? .anonymous
        for attributes in try writes(batch, path: path, exists: exists) {
            if case .deny(let reason) = access.authorize(identity, attributes) {
                return AccessMiddleware.forbidden(identity, attributes, reason: reason)
            }
        }
        return nil
    }
}

/// What `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and `Impersonate-Extra-KEY`
/// ask for (kube-apiserver's impersonation filter): each is authorized as the verb `impersonate`
/// on `users` (or `serviceaccounts`), `groups`, `uids` or `userextras/KEY`, then the request
/// runs as the identity they describe.
struct Impersonation {
    var user: String
    var groups: [String]
    var extras: [(key: String, value: String)]
    var uid: String?

    static let extraPrefix = "impersonate-extra-"

    /// The impersonation a request's headers ask for: nil when none; a failure (kube's 500) when
    /// groups, extras or a uid come without a user.
    static func requested(_ headers: HTTPFields) -> Result<Impersonation?, ImpersonationError> {
        func values(_ name: String) -> [String] { headers.filter { $0.name.canonicalName == name }.map(\.value) }
        let user = values("impersonate-user").first ?? ""
        let groups = values("impersonate-group")
        var extras: [(key: String, value: String)] = []
        for field in headers where field.name.canonicalName.hasPrefix(extraPrefix) {
            let key = String(field.name.canonicalName.dropFirst(extraPrefix.count))
            extras.append((key.removingPercentEncoding ?? key, field.value))
        }
        let uid = values("impersonate-uid").first.flatMap { $0.isEmpty ? nil : $0 }
        if user.isEmpty {
            if groups.isEmpty && extras.isEmpty && uid == nil { return .success(nil) }
            return .failure(
                ImpersonationError(
                    message: "requested impersonation of groups, extras or a uid without impersonating a user"))
        }
        return .success(Impersonation(user: user, groups: groups, extras: extras, uid: uid))
    }

    /// A service account's user name, `system:serviceaccount:NAMESPACE:NAME`, split.
    var serviceAccount: (namespace: String, name: String)? {
        let prefix = "system:serviceaccount:"
        guard user.hasPrefix(prefix) else { return nil }
        let parts = user.dropFirst(prefix.count).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    /// The authorization checks, in kube's order: the user, each group, each extra, the uid.
    func attributes(path: String) -> [AccessRequest] {
        func check(
            _ group: String, _ resource: String, _ name: String, namespace: String = "", sub: String = ""
        )
            -> AccessRequest
        {
            AccessRequest(
                path: path, verb: "impersonate",
                resource: .init(group: group, resource: resource, subresource: sub, namespace: namespace, name: name))
        }
        var checks: [AccessRequest] = []
        if let account = serviceAccount {
            checks.append(check("", "serviceaccounts", account.name, namespace: account.namespace))
        } else {
            checks.append(check("", "users", user))
        }
        checks += groups.map { check("", "groups", $0) }
        checks += extras.map { check("authentication.k8s.io", "userextras", $0.value, sub: $0.key) }
        if let uid { checks.append(check("authentication.k8s.io", "uids", uid)) }
        return checks
    }

    /// The identity the request runs as: the user and the groups asked for (a service account's
    /// own groups when none are), plus `system:authenticated` (`system:unauthenticated` for
    /// `system:anonymous`) unless already there.
    var identity: Identity {
        var groups = self.groups
        if groups.isEmpty, let account = serviceAccount {
            groups = ["system:serviceaccounts", "system:serviceaccounts:\(account.namespace)"]
        }
        if user != Identity.anonymous.user {
            if !groups.contains(Identity.authenticatedGroup) && !groups.contains(Identity.unauthenticatedGroup) {
                groups.append(Identity.authenticatedGroup)
            }
        } else if !groups.contains(Identity.unauthenticatedGroup) {
            groups.append(Identity.unauthenticatedGroup)
        }
        return Identity(user: user, groups: groups)
    }
}

/// Impersonation headers that cannot be honoured.
struct ImpersonationError: Error, Equatable {
    let message: String
}

/// Go's `%q` of a string: quoted, with quotes, backslashes and control characters escaped.
func goQuoted(_ text: String) -> String {
    var quoted = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": quoted += "\\\""
        case "\\": quoted += "\\\\"
        case "\n": quoted += "\\n"
        case "\t": quoted += "\\t"
        case "\r": quoted += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f {
                quoted += "\\x" + String(format: "%02x", scalar.value)
            } else if (0x80..<0xa0).contains(scalar.value) {
                quoted += "\\u" + String(format: "%04x", scalar.value)
            } else {
                quoted.unicodeScalars.append(scalar)
            }
        }
    }
    return quoted + "\""
}

/// What a caller may read of `/v1`'s streams of everything (the log, the watch, the outputs):
/// each event or object by the attributes of its kind and namespace, as a `verb` of it on the
/// Kubernetes API would be authorized, so that a namespace-scoped reader sees its namespaces
/// only. Decisions are kept per kind and namespace for the life of the request.
struct V1ReadFilter: Sendable {
    let identity: Identity
    let access: AccessControl
    let verb: String
    let path: String
    private var decided: [AccessRequest.Resource: Bool] = [:]

    /// The filter of a request's caller; nil when it may read everything (no policy, or one
    /// granting `verb` on every kind in every namespace), so the stream needs no filtering.
    static func make(_ context: ServerContext, access: AccessControl, verb: String, path: String) -> V1ReadFilter? {
        let filter = V1ReadFilter(identity: context.identity ?? .anonymous, access: access, verb: verb, path: path)
        // A namespace no object has: only a policy for every namespace grants it.
        let everywhere =
            ResourceKind.allCases.map { ($0.group, $0.plural) } + KubeOutputs.kinds.map { (KubeOutputs.group, $0.1) }
        let unrestricted = everywhere.allSatisfy { group, plural in
            filter.decide(.init(group: group, resource: plural, namespace: " "))
        }
        return unrestricted ? nil : filter
    }

    private func decide(_ resource: AccessRequest.Resource) -> Bool {
        if case .allow = access.authorize(identity, AccessRequest(path: path, verb: verb, resource: resource)) {
            return true
        }
        return false
    }

    /// Whether the caller may read objects of `kind` in `namespace`.
    mutating func allows(_ kind: ResourceKind, namespace: String) -> Bool {
        allows(group: kind.group, resource: kind.plural, namespace: namespace)
    }

    /// Whether the caller may read `resource` objects of `group` in `namespace`.
    mutating func allows(group: String, resource: String, namespace: String) -> Bool {
        let key = AccessRequest.Resource(group: group, resource: resource, namespace: namespace)
        if let known = decided[key] { return known }
        let decision = decide(key)
        decided[key] = decision
        return decision
    }
}
