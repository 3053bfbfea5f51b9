import Foundation
import MeshLedgerTesting
import MeshModel
import Testing

/// `kubectl auth whoami`, `kubectl auth can-i` and `can-i --list` against `serve`, answered by the
/// same authorizer (the fixture's ABAC policy) that every request passes.
@Suite(.serialized) struct AuthReviewTests {
    /// What RBAC's `system:basic-user` grants every authenticated user, as ABAC lines: the reviews
    /// are creates of their resources, authorized like any request (kube-apiserver with ABAC alone
    /// refuses them to a user no line allows).
    static let reviewLines = [
        ("authorization.k8s.io", "selfsubjectaccessreviews"), ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
    ].map { group, resource in
        #"{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "system:authenticated", "namespace": "*", "resource": "\#(resource)", "apiGroup": "\#(group)"}}"#
    }.joined(separator: "\n")

    @Test func kubectlAuthWhoamiAndCanIAnswerFromThePolicy() throws {
        let fx = try KubeFixture()
        let alice = try fx.kubeconfig(token: "alice-token")
        let rita = try fx.kubeconfig(token: "reader-token")

        // rita may only read: kube-apiserver with ABAC refuses her the review itself.
        let refused = try fx.kubectl(rita, ["auth", "can-i", "list", "vd", "-n", "bookinfo"])
        #expect(refused.status != 0 && refused.stderr.contains("cannot create resource \"selfsubjectaccessreviews\""))

        let whoami = try fx.kubectl(alice, ["auth", "whoami", "-o", "json"])
        #expect(whoami.status == 0, "\(whoami.stderr) \(whoami.stdout)")
        let review = try JSONText.parse(Array(whoami.stdout.utf8))
        #expect(review[path: ["status", "userInfo", "username"]] == "alice")
        #expect(review[path: ["status", "userInfo", "groups"]] == ["platform", "system:authenticated"])

        try fx.restart {
            let path = fx.directory + "/policy.jsonl"
            let policy = try String(contentsOfFile: path, encoding: .utf8)
            try (policy + "\n" + Self.reviewLines + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        // Impersonated: the identity the request runs as.
        let asRita = try fx.kubectl(alice, ["auth", "whoami", "--as", "rita", "-o", "json"])
        #expect(asRita.status == 0, "\(asRita.stderr)")
        #expect(
            (try? JSONText.parse(Array(asRita.stdout.utf8)))?[path: ["status", "userInfo", "username"]] == "rita")

        let may = try fx.kubectl(alice, ["auth", "can-i", "create", "virtualdestinations", "-n", "bookinfo"])
        #expect(may.status == 0 && may.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "yes", "\(may.stderr)")
        let mayNot = try fx.kubectl(rita, ["auth", "can-i", "create", "vd", "-n", "bookinfo"])
        // kubectl prints the authorizer's reason after the answer, as kube-apiserver's ABAC gives it.
        #expect(
            mayNot.status == 1
                && mayNot.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "no - No policy matched.",
            "\(mayNot.stdout)")
        let reads = try fx.kubectl(rita, ["auth", "can-i", "list", "vd", "-n", "bookinfo"])
        #expect(reads.status == 0 && reads.stdout.contains("yes"), "\(reads.stderr)")
        let path = try fx.kubectl(rita, ["auth", "can-i", "get", "/healthz"])
        #expect(path.status == 0 && path.stdout.contains("yes"), "\(path.stderr)")
        let agent = try fx.kubeconfig(token: "agent-token")
        let discovery = try fx.kubectl(agent, ["auth", "can-i", "update", "destinations", "-n", "gloo-mesh"])
        #expect(discovery.status == 0 && discovery.stdout.contains("yes"), "\(discovery.stderr)")
        let notUser = try fx.kubectl(agent, ["auth", "can-i", "create", "vd", "-n", "bookinfo"])
        #expect(notUser.status == 1 && notUser.stdout.contains("no"), "\(notUser.stderr)")

        let list = try fx.kubectl(rita, ["auth", "can-i", "--list", "-n", "bookinfo"])
        #expect(list.status == 0, "\(list.stderr)")
        let rows = list.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        // rita's line: every resource of every group read-only, and every path read-only; and the
        // reviews every authenticated user may create.
        #expect(rows.contains { $0.first == "*.*" && $0.last == "watch]" && $0.contains("[get") }, "\(list.stdout)")
        #expect(rows.contains { $0.first == "[*]" && $0.last == "[watch]" }, "\(list.stdout)")
        #expect(
            rows.contains { $0.first == "selfsubjectaccessreviews.authorization.k8s.io" && $0.last == "[*]" },
            "\(list.stdout)")

        // A review with neither attribute set is kube's 422.
        let invalid = try fx.curl(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", token: "alice-token",
            body: #"{"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {}}"#,
            contentType: "application/json")
        #expect(invalid.code == 422, "\(invalid.body)")
        #expect(invalid.body.contains("exactly one of nonResourceAttributes or resourceAttributes must be specified"))
        // A protobuf body that does not read is a 400, not a crash.
        let garbage = try fx.curl(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", token: "alice-token",
            body: "k8s\u{0}\u{0A}\u{7F}", contentType: "application/vnd.kubernetes.protobuf")
        #expect(garbage.code == 400, "\(garbage.body)")
        // Discovery lists the review groups.
        let groups = try fx.kubectl(alice, ["api-resources", "--api-group", "authorization.k8s.io"])
        #expect(groups.stdout.contains("selfsubjectaccessreviews"), "\(groups.stdout) \(groups.stderr)")
    }
}
