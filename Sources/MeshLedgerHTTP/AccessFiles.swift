import Foundation
import MeshModel

/// The access files kube-apiserver reads, parsed from their text: the static token file
/// (`--token-auth-file`) and the ABAC policy file (`--authorization-policy-file`). `AccessControl`
/// reads the files; what they say is read here (a fuzz target compiles this file, so it imports
/// nothing of the server).
enum AccessFiles {
    /// The tokens of a static token file: `token,user,uid[,"group1,group2"]` per line, `#` comments.
    static func tokens(_ text: String, path: String) throws(AccessError) -> [(token: String, identity: Identity)] {
        var tokens: [(token: String, identity: Identity)] = []
        for (number, line) in text.split(separator: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = csvFields(trimmed)
            guard fields.count >= 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw AccessError("\(path):\(number + 1): expected token,user,uid[,\"group1,group2\"]")
            }
            let groups = fields.count > 3 ? fields[3].split(separator: ",").map { String($0) } : []
            tokens.append((fields[0], Identity(user: fields[1], groups: groups)))
        }
        return tokens
    }

    /// The policies of an ABAC policy file: one JSON policy object a line, `#` comments.
    static func policies(_ text: String, path: String) throws(AccessError) -> [AccessPolicy] {
        var policies: [AccessPolicy] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            do {
                policies.append(try AccessPolicy(line: try JSONText.parse(Array(trimmed.utf8))))
            } catch let error as AccessError {
                throw AccessError("\(path):\(number + 1): \(error.description)")
            } catch {
                throw AccessError("\(path):\(number + 1): expected a JSON policy {\"spec\": {...}}")
            }
        }
        return policies
    }

    /// The comma-separated fields of a line, `"` quoting commas, each trimmed.
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
}

/// A configuration problem of the access files.
public struct AccessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One ABAC policy line (`abac.authorization.kubernetes.io/v1beta1` `Policy.spec`), after kube's
/// conversion: an unset field is the empty string and matches only an empty attribute.
struct AccessPolicy: Sendable, Equatable {
    var user = ""
    var group = ""
    var readonly = false
    var apiGroup = ""
    var resource = ""
    var namespace = ""
    var nonResourcePath = ""

    static let apiVersion = "abac.authorization.kubernetes.io/v1beta1"

    /// A line of the policy file. With `apiVersion` and `kind` it must be a v1beta1 `Policy`;
    /// without either it is kube's unversioned v0 form. A `*` user or group becomes the group
    /// `system:authenticated` (both versions); v0 lines also widen unset fields as kube does.
    /// Another `apiVersion`, or a `spec` without one, is refused: kube would read either as an
    /// unversioned line whose unset fields widen to everything.
    init(line value: JSONValue) throws {
        guard case .object(let object) = value else { throw AccessError("expected a JSON object") }
        func string(_ object: JSONObject, _ name: String) throws -> String {
            guard let field = object[name], field != .null else { return "" }
            guard let text = field.stringValue else { throw AccessError("\(name) must be a string") }
            return text
        }
        func bool(_ object: JSONObject, _ name: String) throws -> Bool {
            guard let field = object[name], field != .null else { return false }
            guard let flag = field.boolValue else { throw AccessError("\(name) must be true or false") }
            return flag
        }
        let apiVersion = try string(object, "apiVersion")
        let kind = try string(object, "kind")
        if apiVersion.isEmpty && kind.isEmpty || apiVersion == "abac.authorization.kubernetes.io/v0" && kind == "Policy"
        {
            // v0: the fields sit at the top level.
            if object["spec"] != nil {
                throw AccessError(
                    "a policy with a spec needs \"apiVersion\": \"\(Self.apiVersion)\" and \"kind\": \"Policy\"")
            }
            user = try string(object, "user")
            group = try string(object, "group")
            readonly = try bool(object, "readonly")
            resource = try string(object, "resource")
            namespace = try string(object, "namespace")
            if user.isEmpty && group.isEmpty { group = Identity.authenticatedGroup }
            if resource.isEmpty && namespace.isEmpty { nonResourcePath = "*" }
            if namespace.isEmpty { namespace = "*" }
            if resource.isEmpty { resource = "*" }
            apiGroup = "*"
        } else if apiVersion == Self.apiVersion && kind == "Policy" {
            guard case .object(let spec) = object["spec"] ?? .object(JSONObject()) else {
                throw AccessError("spec must be an object")
            }
            user = try string(spec, "user")
            group = try string(spec, "group")
            readonly = try bool(spec, "readonly")
            apiGroup = try string(spec, "apiGroup")
            resource = try string(spec, "resource")
            namespace = try string(spec, "namespace")
            nonResourcePath = try string(spec, "nonResourcePath")
        } else {
            throw AccessError("expected apiVersion \(Self.apiVersion) and kind Policy, not \(apiVersion) \(kind)")
        }
        if user == "*" || group == "*" {
            group = Identity.authenticatedGroup
            user = ""
        }
    }
}
