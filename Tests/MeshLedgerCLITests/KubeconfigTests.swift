import Foundation
import MeshLedgerRecord
import MeshLedgerTesting
import Testing

/// How `meshledger record` reads a kubeconfig: the way kubectl does.
@Suite struct KubeconfigTests {
    @Test func tokensCertificatesAndRelativePathsResolveAsKubectlResolvesThem() throws {
        let directory = temporaryDirectory("kubeconfig")
        try "s3cret\n".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        try "CA PEM".write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        let config = """
            apiVersion: v1
            kind: Config
            current-context: prod
            clusters:
            - name: mgmt
              cluster: {server: "https://10.0.0.1:6443/", certificate-authority: ca.crt}
            - name: lab
              cluster: {server: "https://lab:6443", insecure-skip-tls-verify: true}
            users:
            - name: recorder
              user: {tokenFile: token}
            - name: cert
              user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
            - name: sso
              user:
                exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1}
            contexts:
            - name: prod
              context: {cluster: mgmt, user: recorder, namespace: bookinfo}
            - name: lab
              context: {cluster: lab, user: cert}
            - name: sso
              context: {cluster: mgmt, user: sso}
            """
        try config.write(toFile: directory + "/config", atomically: true, encoding: .utf8)

        let prod = try KubeconfigContext(path: directory + "/config")
        #expect(prod.name == "prod")
        #expect(prod.server == "https://10.0.0.1:6443")
        #expect(prod.token == "s3cret")
        #expect(prod.certificateAuthority == Array("CA PEM".utf8))
        #expect(prod.namespace == "bookinfo")
        #expect(!prod.insecureSkipTLSVerify)

        let lab = try KubeconfigContext(path: directory + "/config", context: "lab")
        #expect(lab.insecureSkipTLSVerify)
        #expect(lab.clientCertificate == Array("CERT".utf8))
        #expect(lab.clientKey == Array("KEY".utf8))
        #expect(lab.token == nil)

        #expect(throws: KubeconfigError.self) { try KubeconfigContext(path: directory + "/config", context: "sso") }
        do {
            _ = try KubeconfigContext(path: directory + "/config", context: "sso")
        } catch {
            #expect("\(error)".contains("exec plugin"))
        }
        #expect(throws: KubeconfigError.self) { try KubeconfigContext(path: directory + "/config", context: "nope") }
    }

    /// An exec plugin is run (RecordTests), but one the kubeconfig does not describe fully, and an
    /// auth-provider (removed from kubectl), are refused at start with a clear message, creating
    /// nothing.
    @Test func recordRefusesAnIncompleteExecPluginAndAnAuthProviderWithAClearMessage() throws {
        let directory = temporaryDirectory("kubeconfig-exec")
        for (user, message) in [
            ("{exec: {command: kubelogin}}", "exec plugin apiVersion must be one of client.authentication.k8s.io/v1"),
            (
                "{exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1}}",
                "interactiveMode must be specified for v1"
            ),
            (
                "{auth-provider: {name: gcp}}",
                "uses the auth-provider gcp, which kubectl removed in 1.26; use its exec plugin"
            ),
        ] {
            let config = """
                apiVersion: v1
                kind: Config
                current-context: sso
                clusters: [{name: mgmt, cluster: {server: "https://10.0.0.1:6443"}}]
                users: [{name: sso, user: \(user)}]
                contexts: [{name: sso, context: {cluster: mgmt, user: sso}}]
                """
            try config.write(toFile: directory + "/config", atomically: true, encoding: .utf8)
            let result = try meshledger([
                "record", "--store", directory + "/store", "--kubeconfig", directory + "/config",
            ])
            #expect(result.status == 1)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(
                !FileManager.default.fileExists(atPath: directory + "/store"), "nothing is created on a refused start")
        }
    }
}

/// The recorder's retry delays.
@Suite struct BackoffTests {
    @Test func retriesBackOffExponentiallyWithJitterUpToTheCap() {
        let configuration = RecorderConfiguration()  // 250 ms doubling, at most 30 s
        for _ in 0..<50 {
            let first = configuration.backoff(attempt: 1)
            #expect(first >= .milliseconds(125) && first <= .milliseconds(250))
            let third = configuration.backoff(attempt: 3)
            #expect(third >= .milliseconds(500) && third <= .milliseconds(1000))
            let late = configuration.backoff(attempt: 40)
            #expect(late >= .seconds(15) && late <= .seconds(30))
        }
        // Jitter: fifty delays of one attempt are not all the same.
        #expect(Set((0..<50).map { _ in configuration.backoff(attempt: 5) }).count > 1)
    }
}
