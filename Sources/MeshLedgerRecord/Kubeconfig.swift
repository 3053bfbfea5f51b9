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
    /// An exec credential plugin (`users[].user.exec`), run for a token or client certificate.
    public var exec: ExecConfig?
    /// The cluster entry as the kubeconfig gives it (an exec plugin may be given it).
    public var cluster: JSONValue = .null

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
        self.cluster = cluster
        certificateAuthority = try bytes(cluster, "certificate-authority")
        insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"]?.boolValue ?? false
        if let userName = entry["user"]?.stringValue, !userName.isEmpty {
            let user = try named("users", userName)["user"] ?? .null
            if let provider = user["auth-provider"] {
                throw KubeconfigError(
                    "\(path): user \(userName) uses the auth-provider \(provider["name"]?.stringValue ?? "plugin"), which kubectl removed in 1.26; use its exec plugin instead (gke-gcloud-auth-plugin for GKE, kubelogin for AKS)"
                )
            }
            if let exec = user["exec"] { self.exec = try ExecConfig(exec, user: userName, path: path) }
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

/// An exec credential plugin as a kubeconfig names it (`client.authentication.k8s.io/v1` or
/// `v1beta1`): the command, its arguments and environment, the ExecCredential version it speaks,
/// whether it wants a terminal, and whether it is given the cluster.
public struct ExecConfig: Sendable, Hashable {
    /// The command (a path, or a name looked up in PATH).
    public var command: String
    /// Its arguments.
    public var args: [String]
    /// Environment variables set for it, in order.
    public var env: [String: String]
    /// The ExecCredential version it speaks.
    public var apiVersion: String
    /// `Never`, `IfAvailable` or `Always` (there is no terminal here: `Always` cannot run).
    public var interactiveMode: String
    /// Whether it is given the cluster in `KUBERNETES_EXEC_INFO`.
    public var provideClusterInfo: Bool
    /// What to tell a user without the command.
    public var installHint: String?

    static let versions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]

    init(_ value: JSONValue, user: String, path: String) throws {
        guard let command = value["command"]?.stringValue, !command.isEmpty else {
            throw KubeconfigError("\(path): user \(user): exec plugin has no command")
        }
        guard let apiVersion = value["apiVersion"]?.stringValue, Self.versions.contains(apiVersion) else {
            throw KubeconfigError(
                "\(path): user \(user): exec plugin apiVersion must be one of \(Self.versions.joined(separator: ", "))")
        }
        self.command = command
        self.apiVersion = apiVersion
        args = value["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var env: [String: String] = [:]
        for entry in value["env"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue, let value = entry["value"]?.stringValue else {
                throw KubeconfigError("\(path): user \(user): exec plugin env entries need a name and a value")
            }
            env[name] = value
        }
        self.env = env
        interactiveMode = value["interactiveMode"]?.stringValue ?? (apiVersion.hasSuffix("v1") ? "" : "IfAvailable")
        if apiVersion == "client.authentication.k8s.io/v1" && interactiveMode.isEmpty {
            throw KubeconfigError("\(path): user \(user): exec plugin interactiveMode must be specified for v1")
        }
        guard ["Never", "IfAvailable", "Always"].contains(interactiveMode) else {
            throw KubeconfigError(
                "\(path): user \(user): exec plugin interactiveMode \(interactiveMode) is not Never, IfAvailable or Always"
            )
        }
        provideClusterInfo = value["provideClusterInfo"]?.boolValue ?? false
        installHint = value["installHint"]?.stringValue
    }
}
