import Foundation
import MeshLedgerRecord
import MeshLedgerTesting
import MeshModel
import Testing

/// What can be checked here of `deploy/`: the manifests are objects of the Kubernetes API, the
/// flags they pass exist, and the recorder's ClusterRole grants exactly what `record` uses.
@Suite struct DeployTests {
    static let manifests = ["serve.yaml", "record.yaml"].map { "\(packageRoot)/deploy/\($0)" }

    static func documents(_ path: String) throws -> [JSONValue] {
        try YAMLText.parseDocuments(String(contentsOfFile: path, encoding: .utf8)).map(\.value)
    }

    /// Every document deserializes into the official Python client's model of its kind and
    /// serializes back unchanged (`Tools/validate-kubernetes.py`); a misspelled field and a value
    /// of the wrong type are reported.
    @Test func theManifestsAreObjectsOfTheKubernetesAPI() throws {
        let script = "\(packageRoot)/Tools/validate-kubernetes.py"
        let checked = try runProgram("python3", [script] + Self.manifests)
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
        #expect(checked.stdout.contains("11 documents checked"), "\(checked.stdout)")
        let bad = temporaryDirectory() + "/bad.yaml"
        try String(contentsOfFile: Self.manifests[0], encoding: .utf8)
            .replacingOccurrences(of: "readOnlyRootFilesystem", with: "readOnlyRootFileSystem")
            .replacingOccurrences(of: "replicas: 3", with: "replicas: \"3\"")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try runProgram("python3", [script, bad])
        #expect(refused.status == 1, "\(refused.stdout)")
        #expect(refused.stdout.contains("replicas"), "\(refused.stdout)")
        let misspelled = temporaryDirectory() + "/misspelled.yaml"
        try String(contentsOfFile: Self.manifests[1], encoding: .utf8)
            .replacingOccurrences(of: "serviceAccountName", with: "serviceAccount_name")
            .write(toFile: misspelled, atomically: true, encoding: .utf8)
        let dropped = try runProgram("python3", [script, misspelled])
        #expect(
            dropped.status == 1 && dropped.stdout.contains(".spec.template.spec.serviceAccount_name: not a field"),
            "\(dropped.stdout)")
    }

    /// Each container's arguments are a `meshledger` command and flags it has.
    @Test func theContainersPassFlagsTheCommandsHave() throws {
        var commands = 0
        for path in Self.manifests {
            for document in try Self.documents(path) {
                guard let containers = document[path: ["spec", "template", "spec", "containers"]]?.arrayValue else {
                    continue
                }
                for container in containers {
                    let arguments = container["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
                    let command = try #require(arguments.first)
                    let help = try meshledger([command, "--help"]).stdout
                    for flag in arguments.dropFirst() {
                        let name = String(flag.split(separator: "=", maxSplits: 1)[0])
                        #expect(name.hasPrefix("--") && help.contains(" \(name) "), "\(command) has no \(name)")
                    }
                    commands += 1
                }
            }
        }
        #expect(commands == 2)
    }

    /// The ClusterRole of `deploy/record.yaml` is exactly get, list and watch on the kinds
    /// `record` follows by default, each under its API group: no more, no less.
    @Test func theRecordersClusterRoleIsExactlyWhatRecordUses() throws {
        let role = try #require(try Self.documents(Self.manifests[1]).first { $0["kind"] == "ClusterRole" })
        var granted: Set<String> = []
        for rule in role["rules"]?.arrayValue ?? [] {
            let verbs = (rule["verbs"]?.arrayValue ?? []).compactMap(\.stringValue).sorted()
            #expect(verbs == ["get", "list", "watch"], "\(rule)")
            #expect(rule["resourceNames"] == nil && rule["nonResourceURLs"] == nil)
            for group in rule["apiGroups"]?.arrayValue ?? [] {
                for resource in rule["resources"]?.arrayValue ?? [] {
                    granted.insert("\(group.stringValue ?? "?")/\(resource.stringValue ?? "?")")
                }
            }
        }
        let used = Set(RecorderConfiguration().kinds.map { "\($0.group)/\($0.plural)" })
        #expect(granted == used)
        #expect(used.count == 5)
    }
}
