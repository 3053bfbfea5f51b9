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
    /// The name the server's certificate is checked against and sent as SNI, instead of the
    /// server URL's host (`tls-server-name`).
    public var tlsServerName: String?
    /// The proxy the connections go through (`proxy-url`: `http://[user:password@]host:port` or
    /// `socks5://host:port`).
    public var proxyURL: String?
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
    /// The file the token was read from: read again when it rotates (a minute at most, or on a
    /// 401), as client-go does for service account tokens.
    public var tokenFile: String?

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
        try self.init(config: try Self.parse(yaml, path: path), path: path, context: context)
    }

    /// A kubeconfig file's content.
    static func parse(_ yaml: String, path: String) throws -> JSONValue {
        do {
            return try YAMLText.parseDocuments(yaml).first?.value ?? .null
        } catch {
            throw KubeconfigError("\(path): \(error)")
        }
    }

    /// Resolves `context` of a kubeconfig's content (files it names are relative to `path`'s
    /// directory, unless they are absolute).
    init(config: JSONValue, path: String, context: String?) throws {
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
        tlsServerName = cluster["tls-server-name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        proxyURL = cluster["proxy-url"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
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
                self.tokenFile = tokenFile.hasPrefix("/") ? tokenFile : directory + "/" + tokenFile
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

extension KubeconfigContext {
    /// The context `record` uses, found as kubectl finds it: `kubeconfig` when given; else the
    /// files of `KUBECONFIG` merged (each name's first definition wins, and the first
    /// `current-context`; relative paths are relative to the file that names them); else
    /// `~/.kube/config`; else, inside a cluster (`KUBERNETES_SERVICE_HOST` set), the pod's service
    /// account (`inCluster`).
    public static func resolve(
        kubeconfig: String?, context: String?, environment: [String: String], home: String
    ) throws -> KubeconfigContext {
        if let kubeconfig { return try KubeconfigContext(path: kubeconfig, context: context) }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let files = list.split(separator: ":").map(String.init).filter {
                FileManager.default.fileExists(atPath: $0)
            }
            guard !files.isEmpty else { throw KubeconfigError("KUBECONFIG=\(list): none of its files exists") }
            if files.count == 1 { return try KubeconfigContext(path: files[0], context: context) }
            var merged: JSONObject = [:]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw KubeconfigError("\(file): cannot read the kubeconfig")
                }
                let config = absolutized(try parse(String(decoding: data, as: UTF8.self), path: file), file: file)
                if merged["current-context"] == nil, let current = config["current-context"], current != "" {
                    merged["current-context"] = current
                }
                for list in ["clusters", "users", "contexts"] {
                    var entries = merged[list]?.arrayValue ?? []
                    for entry in config[list]?.arrayValue ?? []
                    where !entries.contains(where: { $0["name"] == entry["name"] }) {
                        entries.append(entry)
                    }
                    merged[list] = .array(entries)
                }
            }
            return try KubeconfigContext(config: .object(merged), path: files[0], context: context)
        }
        let home = home + "/.kube/config"
        if FileManager.default.fileExists(atPath: home) { return try KubeconfigContext(path: home, context: context) }
        if environment["KUBERNETES_SERVICE_HOST"] != nil { return try inCluster(environment: environment) }
        throw KubeconfigError(
            "no kubeconfig: give --kubeconfig, set KUBECONFIG, write ~/.kube/config, or run in a cluster")
    }

    /// A kubeconfig's content with the files it names made absolute (relative to `file`).
    static func absolutized(_ config: JSONValue, file: String) -> JSONValue {
        let directory = (file as NSString).deletingLastPathComponent
        func fix(_ entry: JSONValue, _ key: String, _ fields: [String]) -> JSONValue {
            guard case .object(var root) = entry, case .object(var body)? = root[key] else { return entry }
            for field in fields {
                if let path = body[field]?.stringValue, !path.isEmpty, !path.hasPrefix("/") {
                    body[field] = .string(directory + "/" + path)
                }
            }
            root[key] = .object(body)
            return .object(root)
        }
        guard case .object(var root) = config else { return config }
        if let clusters = root["clusters"]?.arrayValue {
            root["clusters"] = .array(clusters.map { fix($0, "cluster", ["certificate-authority"]) })
        }
        if let users = root["users"]?.arrayValue {
            root["users"] = .array(users.map { fix($0, "user", ["client-certificate", "client-key", "tokenFile"]) })
        }
        return .object(root)
    }

    /// Where a pod's service account is mounted.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The in-cluster configuration, as client-go's `rest.InClusterConfig`: the API server at
    /// `KUBERNETES_SERVICE_HOST`:`KUBERNETES_SERVICE_PORT`, the service account's token (read
    /// again as it rotates), CA and namespace. `MESHLEDGER_SERVICE_ACCOUNT_ROOT` (for tests only)
    /// moves the mount point under another directory.
    public static func inCluster(environment: [String: String]) throws -> KubeconfigContext {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeconfigError(
                "in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT")
        }
        let directory = (environment["MESHLEDGER_SERVICE_ACCOUNT_ROOT"] ?? "") + serviceAccountDirectory
        let server = host.contains(":") ? "https://[\(host)]:\(port)" : "https://\(host):\(port)"
        let config: JSONValue = [
            "clusters": [
                [
                    "name": "in-cluster",
                    "cluster": ["server": .string(server), "certificate-authority": .string(directory + "/ca.crt")],
                ]
            ],
            "users": [["name": "in-cluster", "user": ["tokenFile": .string(directory + "/token")]]],
            "contexts": [["name": "in-cluster", "context": ["cluster": "in-cluster", "user": "in-cluster"]]],
            "current-context": "in-cluster",
        ]
        var context = try KubeconfigContext(config: config, path: directory + "/token", context: nil)
        context.namespace = FileManager.default.contents(atPath: directory + "/namespace").map {
            String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return context
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
