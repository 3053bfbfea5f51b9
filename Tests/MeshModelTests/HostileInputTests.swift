import Foundation
import Testing

@testable import MeshModel

/// The parsers of outside input at their limits: selectors as kube-apiserver parses them, YAML
/// aliases and nesting, JSON patches that would make more work than their size warrants.
@Suite struct HostileInputTests {
    @Test(arguments: [
        ("app=reviews", ["app": "reviews"], true),
        ("app==reviews", ["app": "reviews"], true),
        ("app!=reviews", ["app": "reviews"], false),
        ("app in (reviews, ratings)", ["app": "ratings"], true),
        ("app notin (reviews,ratings)", ["app": "ratings"], false),
        ("app,!legacy", ["app": "x"], true),
        ("!legacy", ["legacy": ""], false),
        ("example.com/team = bookinfo", ["example.com/team": "bookinfo"], true),
        ("app=", ["app": ""], true),
        ("app in (a,)", ["app": ""], true),
        ("", ["app": "x"], true),
    ])
    func labelSelectorsParseAsKubernetesDoes(selector: String, labels: [String: String], matches: Bool) throws {
        #expect(try LabelSelector(selector).matches(labels) == matches)
    }

    @Test(arguments: [
        "!!!", "a b", "bad label!=x", "app in ()", "app in (a", "app=x y", "-app=x", "app=-x", "app,", ",app",
        "app in a,b", "a/b/c=x", "/app=x", "app=\(String(repeating: "v", count: 64))", "Example.com/app=x", "app =(x)",
    ])
    func malformedLabelSelectorsAreRefused(selector: String) {
        #expect(throws: ManifestError.self) { try LabelSelector(selector) }
    }

    @Test func qualifiedNamesAndLabelValues() {
        #expect(Naming.qualifiedNameProblem("app") == nil)
        #expect(Naming.qualifiedNameProblem("cluster.multicluster.solo.io/owner") == nil)
        #expect(Naming.qualifiedNameProblem("My_Key.v1") == nil)
        #expect(Naming.qualifiedNameProblem("bad label") != nil)
        #expect(Naming.qualifiedNameProblem("x/") != nil)
        #expect(Naming.qualifiedNameProblem(String(repeating: "k", count: 64)) != nil)
        #expect(Naming.labelValueProblem("") == nil)
        #expect(Naming.labelValueProblem("x y") != nil)
        #expect(Naming.labelValueProblem("_x") != nil)
    }

    /// A YAML document of a few hundred bytes that names megabytes through anchors is refused as
    /// it is expanded; anchors within the limit still work, as kubectl reads them.
    @Test func yamlAliasesExpandOnlyWithinTheLimitOfOneObject() throws {
        var bomb = "a0: &a0 \"\(String(repeating: "x", count: 100))\"\n"
        for level in 1...7 {
            let previous = "*a\(level - 1)"
            bomb += "a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]\n"
        }
        #expect(bomb.utf8.count < 1000)
        let error = #expect(throws: ManifestError.self) { try YAMLText.parseDocuments(bomb) }
        #expect(error?.code == .tooLarge)
        let small = "base: &base {port: 9080}\nfirst: *base\nsecond: *base\n"
        let documents = try YAMLText.parseDocuments(small)
        #expect(documents.first?.value["second"] == ["port": 9080])
    }

    static let deepTexts: [String] = {
        let flow: String = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let mappings: String = String(repeating: "{a: ", count: 5_000) + "1" + String(repeating: "}", count: 5_000)
        var indented: [String] = []
        for level in 0..<3_000 { indented.append(String(repeating: " ", count: level) + "k:") }
        let dashes: String = String(repeating: "- ", count: 3_000) + "x"
        return [flow, mappings, indented.joined(separator: "\n"), dashes]
    }()

    @Test(arguments: deepTexts.indices)
    func deepYAMLIsASyntaxErrorNotACrash(index: Int) {
        let text = Self.deepTexts[index]
        let error = #expect(throws: ManifestError.self) { try YAMLText.parseDocuments(text) }
        #expect(error?.code == .syntax, "\(String(describing: error).prefix(300))")
        #expect(
            error?.message.contains("nesting deeper") == true
                || error?.message.contains("Maximum nesting level") == true,
            "\(String(describing: error).prefix(300))")
    }

    @Test func jsonPatchesAreBoundedInOperationsCopiesAndDepth() throws {
        let target: JSONValue = ["spec": ["x": .string(String(repeating: "y", count: 1000))]]
        let tooMany = JSONValue.array(
            Array(
                repeating: ["op": "test", "path": "/spec/x", "value": target[path: ["spec", "x"]]!],
                count: JSONPatch.maxOperations + 1))
        let many = #expect(throws: JSONPatch.Failure.self) { try JSONPatch.apply(tooMany, to: target) }
        #expect(many?.tooLarge == true)
        let doubling = JSONValue.array(
            (0..<30).map { ["op": "copy", "from": "/spec", "path": .string("/spec/c\($0)")] })
        let copies = #expect(throws: JSONPatch.Failure.self) { try JSONPatch.apply(doubling, to: target) }
        #expect(copies?.tooLarge == true)
        // Ten copies stay well within the limit and apply.
        let someCopies = JSONValue.array(doubling.arrayValue!.prefix(10).map { $0 })
        let copied = try JSONPatch.apply(someCopies, to: target)
        #expect(copied[path: ["spec", "c9", "c8", "x"]] == target[path: ["spec", "x"]])
        var deep: JSONValue = "leaf"
        for _ in 0..<150 { deep = ["a": deep] }
        let nesting = JSONValue.array([
            ["op": "add", "path": "/spec/deep", "value": deep],
            ["op": "copy", "from": "/spec/deep", "path": .string("/spec/deep" + String(repeating: "/a", count: 100))],
        ])
        let tooDeep = #expect(throws: JSONPatch.Failure.self) { try JSONPatch.apply(nesting, to: target) }
        #expect(tooDeep?.tooLarge == false)
        #expect(tooDeep?.message.contains("deeper") == true)
    }

    /// Moving a large value back and forth costs the length of its paths, not its size.
    @Test func movesDoNotWalkWhatTheyMove() throws {
        let big = JSONValue.array(Array(repeating: 0, count: 200_000))
        var operations: [JSONValue] = [["op": "add", "path": "/spec/x", "value": big]]
        for i in 0..<(JSONPatch.maxOperations - 1) {
            operations.append(
                i % 2 == 0
                    ? ["op": "move", "from": "/spec/x", "path": "/spec/y"]
                    : ["op": "move", "from": "/spec/y", "path": "/spec/x"])
        }
        let patched = try JSONPatch.apply(.array(operations), to: ["spec": [:]])
        #expect(patched[path: ["spec", "y"]]?.arrayValue?.count == 200_000)
    }

    @Test func depthIsCountedNoFurtherThanAsked() {
        var value: JSONValue = 1
        for _ in 0..<50 { value = [value] }
        #expect(value.depth(upTo: 100) == 50)
        #expect(value.depth(upTo: 10) == 10)
        #expect(JSONValue.string("x").depth(upTo: 5) == 0)
    }
}

/// Labels and annotations are checked as kube-apiserver checks them.
@Suite struct MetadataValidationTests {
    static func manifest(labels: String = "{app: reviews}", annotations: String = "{}") -> String {
        """
        apiVersion: networking.mesh.gloo.solo.io/v1alpha2
        kind: TrafficPolicy
        metadata: {name: tp, namespace: team, labels: \(labels), annotations: \(annotations)}
        spec: {}
        """
    }

    @Test func validLabelsAndAnnotationsAreTaken() throws {
        let text = Self.manifest(
            labels: "{app: reviews, example.com/tier: gold, empty: \"\"}",
            annotations: "{kubectl.kubernetes.io/last-applied-configuration: \"{\\\"a\\\": 1} with spaces\"}")
        #expect(try ManifestReader.manifests(Array(text.utf8), name: "t").count == 1)
    }

    @Test(arguments: [
        ("{\"bad label!\": x}", "{}"), ("{app: \"x y\"}", "{}"), ("{app: \"-x\"}", "{}"), ("{\"a/b/c\": x}", "{}"),
        ("{app: x}", "{\"not valid\": x}"),
    ])
    func invalidLabelsAndAnnotationsAreRefused(labels: String, annotations: String) {
        let text = Self.manifest(labels: labels, annotations: annotations)
        let error = #expect(throws: ManifestError.self) { try ManifestReader.manifests(Array(text.utf8), name: "t") }
        #expect(error?.code == .schema)
        #expect(error?.message.contains("Invalid value") == true, "\(String(describing: error))")
    }

    @Test func annotationsAreAtMost256KiB() {
        let big = String(repeating: "a", count: 300_000)
        let text = Self.manifest(annotations: "{note: \(big)}")
        let error = #expect(throws: ManifestError.self) { try ManifestReader.manifests(Array(text.utf8), name: "t") }
        #expect(error?.message.contains("262144") == true)
    }
}
