import Foundation

/// Certificates made with openssl for TLS tests: a CA, a server certificate for 127.0.0.1 and
/// localhost, client certificates (CN = user, O = groups) signed by the CA, and one client
/// certificate signed by another CA.
public struct TestCertificates: Sendable {
    /// The directory holding the PEM files.
    public let directory: String
    public var caCertificate: String { directory + "/ca.crt" }
    public var serverCertificate: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }

    /// Makes the CA and the server certificate in a new directory.
    public init() throws {
        directory = temporaryDirectory("certificates")
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=meshledger-test-ca",
            "-keyout", directory + "/ca.key", "-out", caCertificate,
        ])
        let extensions = directory + "/server.ext"
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n".write(
            toFile: extensions, atomically: true, encoding: .utf8)
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", serverKey, "-out",
            directory + "/server.csr",
        ])
        try openssl([
            "x509", "-req", "-in", directory + "/server.csr", "-CA", caCertificate, "-CAkey", directory + "/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", serverCertificate,
        ])
    }

    /// A server certificate for the DNS `names` alone (no IP address), signed by this CA.
    /// Returns (certificate, key).
    public func server(names: [String]) throws -> (String, String) {
        let base = directory + "/server-" + names.joined(separator: "-")
        try "subjectAltName=\(names.map { "DNS:" + $0 }.joined(separator: ","))\nextendedKeyUsage=serverAuth\n".write(
            toFile: base + ".ext", atomically: true, encoding: .utf8)
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(names[0])", "-keyout", base + ".key", "-out",
            base + ".csr",
        ])
        try openssl([
            "x509", "-req", "-in", base + ".csr", "-CA", caCertificate, "-CAkey", directory + "/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", base + ".ext", "-out", base + ".crt",
        ])
        return (base + ".crt", base + ".key")
    }

    /// A client certificate and key for `user` in `groups`, signed by this CA (or, with
    /// `foreign`, by a CA of its own that the server does not trust). Returns (certificate, key).
    public func client(_ user: String, groups: [String] = [], foreign: Bool = false) throws -> (String, String) {
        var caCertificate = self.caCertificate
        var caKey = directory + "/ca.key"
        if foreign {
            caCertificate = directory + "/foreign-ca.crt"
            caKey = directory + "/foreign-ca.key"
            if !FileManager.default.fileExists(atPath: caCertificate) {
                try openssl([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=someone-else",
                    "-keyout", caKey, "-out", caCertificate,
                ])
            }
        }
        let base = directory + "/\(user)\(foreign ? "-foreign" : "")"
        let subject = "/CN=\(user)" + groups.map { "/O=\($0)" }.joined()
        let extensions = base + ".ext"
        try "extendedKeyUsage=clientAuth\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", base + ".key", "-out", base + ".csr",
        ])
        try openssl([
            "x509", "-req", "-in", base + ".csr", "-CA", caCertificate, "-CAkey", caKey, "-CAcreateserial", "-days",
            "2",
            "-extfile", extensions, "-out", base + ".crt",
        ])
        return (base + ".crt", base + ".key")
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try runProgram("openssl", arguments)
        guard result.status == 0 else { throw TestFailure("openssl \(arguments.first ?? ""): \(result.stderr)") }
    }
}
