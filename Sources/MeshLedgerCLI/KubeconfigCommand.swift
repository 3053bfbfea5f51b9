import ArgumentParser
import Foundation
import MeshModel

extension MeshLedgerCommand {
    /// `kubeconfig`: a kubeconfig for kubectl and other Kubernetes clients.
    struct Kubeconfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a kubeconfig for a MeshLedger server, for kubectl and other Kubernetes clients.",
            discussion: """
                Credentials and CA are embedded (…-data), so the file works from anywhere: \
                meshledger kubeconfig --server https://127.0.0.1:6443 --token-file t \
                --certificate-authority ca.crt > kubeconfig; KUBECONFIG=kubeconfig kubectl get vd -A
                """)

        @Option(help: ArgumentHelp("The server's URL.", valueName: "url")) var server = "http://127.0.0.1:7480"
        @Option(help: ArgumentHelp("The user's name in the kubeconfig.", valueName: "name")) var user = "meshledger"
        @Option(help: ArgumentHelp("A file holding the bearer token.", valueName: "file")) var tokenFile: String?
        @Option(help: ArgumentHelp("The client certificate (PEM).", valueName: "file")) var clientCert: String?
        @Option(help: ArgumentHelp("The client certificate's key (PEM).", valueName: "file")) var clientKey: String?
        @Option(help: ArgumentHelp("The CA that signed the server's certificate (PEM).", valueName: "file"))
        var certificateAuthority: String?
        @Option(name: .shortAndLong, help: "The context's default namespace.") var namespace = "default"

        func validate() throws {
            if (clientCert == nil) != (clientKey == nil) {
                throw ValidationError("--client-cert and --client-key go together")
            }
            if tokenFile != nil && clientCert != nil {
                throw ValidationError("give either --token-file or --client-cert/--client-key")
            }
        }

        func run() throws {
            func data(_ path: String) throws -> String {
                guard let bytes = FileManager.default.contents(atPath: path) else {
                    throw CLIError("\(path): cannot read file")
                }
                return bytes.base64EncodedString()
            }
            var cluster: JSONObject = ["server": .string(server)]
            if let certificateAuthority {
                cluster["certificate-authority-data"] = .string(try data(certificateAuthority))
            }
            var credentials = JSONObject()
            if let tokenFile { credentials["token"] = .string(try readToken(tokenFile)) }
            if let clientCert, let clientKey {
                credentials["client-certificate-data"] = .string(try data(clientCert))
                credentials["client-key-data"] = .string(try data(clientKey))
            }
            let config: JSONValue = [
                "apiVersion": "v1", "kind": "Config",
                "clusters": [["name": "meshledger", "cluster": .object(cluster)]],
                "users": [["name": .string(user), "user": .object(credentials)]],
                "contexts": [
                    [
                        "name": "meshledger",
                        "context": ["cluster": "meshledger", "user": .string(user), "namespace": .string(namespace)],
                    ]
                ],
                "current-context": "meshledger",
            ]
            print(YAMLText.emit(config), terminator: "")
        }
    }
}
