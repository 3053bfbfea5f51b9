import Foundation
import MeshModel

/// Why a kubeconfig cannot be used.
public struct KubeconfigError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the file and the entry.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One context of a kubeconfig, resolved the way kubectl resolves it: the cluster's server and
/// CA, the user's credentials (bearer token, token file, client certificate and key, each from a
/// file or inline `-data`), and the context's namespace. Relative file paths are relative to the
/// kubeconfig's directory, as in kubectl.
public struct KubeconfigContext: Sendable {
    /// The context's name (the recorder's identity is `record:<name>`).
    public var name: String
    /// The API server's URL.
    public var server: String
    /// The CA certificates (PEM) that sign the server's certificate; nil: the system's.
    public var certificateAuthority: [UInt8]?
    /// Skip verifying the server's certificate (`insecure-skip-tls-verify`).
    public var insecureSkipTLSVerify = false
    /// A bearer token.
    public var token: String?
    /// A client certificate (PEM).
    public var clientCertificate: [UInt8]?
    /// The client certificate's key (PEM).
    public var clientKey: [UInt8]?
    /// The context's namespace, if it names one.
    public var namespace: String?

    /// Reads `path` and resolves `context` (default: its `current-context`).
    public init(path: String, context: String? = nil) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeconfigError("\(path): cannot read the kubeconfig")
        }
        try self.init(yaml: String(decoding: data, as: UTF8.self), path: path, context: context)
    }

    /// Resolves `context` of the kubeconfig `yaml` read from `path` (files it names are relative
    /// to that path's directory).
    init(yaml: String, path: String, context: String?) throws {
        let config: JSONValue
        do {
            config = try YAMLText.parseDocuments(yaml).first?.value ?? .null
        } catch {
            throw KubeconfigError("\(path): \(error)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        func named(_ list: String, _ name: String) throws -> JSONValue {
            guard let entry = config[list]?.arrayValue?.first(where: { $0["name"]?.stringValue == name }) else {
                throw KubeconfigError("\(path): no \(list.dropLast()) named \"\(name)\"")
            }
            return entry
        }
        /// A file the kubeconfig names (relative paths: to its directory).
        func contents(_ field: String, _ file: String) throws -> [UInt8] {
            let resolved = file.hasPrefix("/") ? file : directory + "/" + file
            guard let contents = FileManager.default.contents(atPath: resolved) else {
                throw KubeconfigError("\(path): \(field) \(resolved): cannot read it")
            }
            return Array(contents)
        }
        func bytes(_ object: JSONValue, _ field: String) throws -> [UInt8]? {
            if let inline = object[field + "-data"]?.stringValue {
                guard let decoded = Data(base64Encoded: inline, options: .ignoreUnknownCharacters) else {
                    throw KubeconfigError("\(path): \(field)-data is not base64")
                }
                return Array(decoded)
            }
            return try object[field]?.stringValue.map { try contents(field, $0) }
        }
        guard let contextName = context ?? config["current-context"]?.stringValue, !contextName.isEmpty else {
            throw KubeconfigError("\(path): no current-context; name one with --context")
        }
        let entry = try named("contexts", contextName)["context"] ?? .null
        name = contextName
        namespace = entry["namespace"]?.stringValue
        let cluster = try named("clusters", entry["cluster"]?.stringValue ?? "")["cluster"] ?? .null
        guard let server = cluster["server"]?.stringValue, !server.isEmpty else {
            throw KubeconfigError("\(path): cluster \(entry["cluster"]?.stringValue ?? "") has no server")
        }
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        certificateAuthority = try bytes(cluster, "certificate-authority")
        insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"]?.boolValue ?? false
        if let userName = entry["user"]?.stringValue, !userName.isEmpty {
            let user = try named("users", userName)["user"] ?? .null
            for plugin in ["exec", "auth-provider"] where user[plugin] != nil {
                throw KubeconfigError(
                    "\(path): user \(userName) uses an \(plugin) plugin, which meshledger record does not run; give it a token, a token file or a client certificate"
                )
            }
            if let token = user["token"]?.stringValue {
                self.token = token
            } else if let tokenFile = user["tokenFile"]?.stringValue {
                token = String(decoding: try contents("tokenFile", tokenFile), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            clientCertificate = try bytes(user, "client-certificate")
            clientKey = try bytes(user, "client-key")
            if (clientCertificate == nil) != (clientKey == nil) {
                throw KubeconfigError(
                    "\(path): user \(userName) has a client certificate without its key, or a key without its certificate"
                )
            }
        }
    }
}
