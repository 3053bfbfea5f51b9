import Foundation
import MeshLedgerTesting
import Testing
import Workload

@testable import MeshModel

let virtualDestinationYAML = """
    apiVersion: networking.enterprise.mesh.gloo.solo.io/v1alpha1
    kind: VirtualDestination
    metadata:
      name: reviews-global
      namespace: bookinfo
      labels: {team: reviews}
    spec:
      hostname: reviews.global
      port: {number: 9080, protocol: HTTP}
      virtualMesh: {name: federation, namespace: gloo-mesh}
      static:
        destinations:
        - kubeService: {name: reviews, namespace: bookinfo, clusterName: cluster-1}
      futureField: {nested: [1, 2.5, true, null, "x"]}
    """

func read(_ text: String, name: String = "test.yaml") throws -> [Manifest] {
    try ManifestReader.manifests(Array(text.utf8), name: name)
}

func readError(_ text: String) -> ManifestError? {
    #expect(throws: ManifestError.self) { try read(text) }
    do {
        _ = try read(text)
        return nil
    } catch { return error as? ManifestError }
}

@Suite struct ManifestReaderTests {
    @Test func readsAVirtualDestinationKeepingUnknownFieldsAndTypes() throws {
        let manifests = try read(virtualDestinationYAML)
        #expect(manifests.count == 1)
        let manifest = try #require(manifests.first)
        #expect(manifest.key == ObjectKey(kind: .virtualDestination, namespace: "bookinfo", name: "reviews-global"))
        #expect(manifest.spec[path: ["port", "number"]] == .int(9080))
        #expect(manifest.spec[path: ["futureField", "nested"]] == [1, 2.5, true, .null, "x"])
    }

    @Test func readsMultiDocumentYAMLAndFillsTheDefaultNamespace() throws {
        let text = """
            ---
            apiVersion: networking.mesh.gloo.solo.io/v1alpha2
            kind: VirtualMesh
            metadata: {name: federation}
            spec: {meshes: [{name: m1, namespace: gloo-mesh}]}
            ---
            # an empty document is skipped
            ---
            \(virtualDestinationYAML)
            """
        let manifests = try read(text)
        #expect(manifests.map(\.key.kind) == [.virtualMesh, .virtualDestination])
        #expect(manifests[0].key.namespace == "default")
        #expect(manifests[0].object[path: ["metadata", "namespace"]] == "default")
    }

    @Test func readsJSONObjectsStreamsAndLists() throws {
        let vd = try #require(read(virtualDestinationYAML).first)
        let json = JSONText.string(vd.object)
        #expect(try read(json, name: "a.json").first == vd)
        #expect(try read(json + "\n" + json.replacingOccurrences(of: "reviews-global", with: "other")).count == 2)
        let list = "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\(json)]}"
        #expect(try read(list).first == vd)
    }

    /// JSON objects separated by `---` lines are YAML documents in flow style (what
    /// `kubectl apply -f` accepts); they were refused as invalid JSON.
    @Test func jsonStyleDocumentsSeparatedByDashesAreYAML() throws {
        let vd = try #require(read(virtualDestinationYAML).first)
        let json = JSONText.string(vd.object, pretty: true)
        let other = json.replacingOccurrences(of: "reviews-global", with: "other")
        let manifests = try read(json + "\n---\n" + other + "\n", name: "two.yaml")
        #expect(manifests.map(\.key.name) == ["reviews-global", "other"])
        #expect(manifests.first == vd)
        // Also with a leading marker and a trailing empty document.
        #expect(try read("---\n" + json + "\n---\n").count == 1)
        // Plain JSON streams still read as JSON, with JSON's error messages.
        #expect(try #require(readError("{\"a\": }")).message.contains("invalid JSON"))
    }

    @Test func quotedNumbersStayStringsAndAreRefusedWhereANumberBelongs() throws {
        let text = virtualDestinationYAML.replacingOccurrences(of: "number: 9080", with: "number: \"9080\"")
        let error = try #require(readError(text))
        #expect(error.code == .schema)
        #expect(error.message.contains("spec.port.number: expected integer, got string \"9080\""))
    }

    @Test func bothMembersOfAOneofAreRefused() throws {
        let both =
            virtualDestinationYAML
            + "\n  localized: {destinationSelectors: [{kubeServiceMatcher: {labels: {app: reviews}}}]}"
        let error = try #require(readError(both))
        #expect(error.message.contains("static and localized are mutually exclusive"))
        let meshes = virtualDestinationYAML + "\n  meshList: {meshes: [{name: m, namespace: gloo-mesh}]}"
        #expect(try #require(readError(meshes)).message.contains("virtualMesh and meshList are mutually exclusive"))
    }

    @Test func unknownKindsAndVersionsAreNamed() throws {
        let gateway = "apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: g}\n"
        let error = try #require(readError(gateway))
        #expect(error.code == .unknownKind)
        #expect(error.message.contains("unknown kind \"Gateway\""))
        let version = virtualDestinationYAML.replacingOccurrences(of: "v1alpha1", with: "v1alpha9")
        let versionError = try #require(readError(version))
        #expect(
            versionError.message.contains("unsupported apiVersion \"networking.enterprise.mesh.gloo.solo.io/v1alpha9\"")
        )
    }

    @Test func syntaxErrorsGiveAPosition() throws {
        let yaml = try #require(readError("apiVersion: v1\nkind: [unclosed\nmetadata: {name: x}\n"))
        #expect(yaml.code == .syntax)
        #expect(yaml.message.contains("line"))
        let json = try #require(readError("{\"apiVersion\": \"v1\", \"kind\": "))
        #expect(json.code == .syntax)
        #expect(json.message.contains("truncated"))
        #expect(try #require(readError("a: 1\na: 2\n")).message.contains("duplicate key \"a\""))
    }

    @Test func binaryAndEmptyInputAreRefused() throws {
        let garbage = (0..<1024).map { UInt8(truncatingIfNeeded: $0 * 7) }
        #expect(throws: ManifestError.self) { try ManifestReader.manifests(garbage, name: "garbage.bin") }
        do {
            _ = try ManifestReader.manifests(garbage, name: "garbage.bin")
        } catch {
            #expect(error.code == .notText)
            #expect(error.description.hasPrefix("garbage.bin: input is binary"))
        }
        #expect(try #require(readError("   \n")).message == "input is empty")
    }

    @Test func aHugeDocumentIsRefusedBeforeParsing() throws {
        let big = String(repeating: "x", count: ManifestReader.maxDocumentBytes + 10)
        let text = virtualDestinationYAML.replacingOccurrences(
            of: "labels: {team: reviews}", with: "annotations: {blob: \(big)}")
        let error = try #require(readError(text))
        #expect(error.code == .tooLarge)
        let json = "{\"kind\":\"VirtualDestination\",\"blob\":\"\(big)\"}"
        #expect(try #require(readError(json)).code == .tooLarge)
    }

    @Test func badNamesAndMetadataAreRefused() throws {
        let upper = virtualDestinationYAML.replacingOccurrences(
            of: "name: reviews-global", with: "name: Reviews_Global")
        #expect(try #require(readError(upper)).message.contains("metadata.name is invalid"))
        let noName = virtualDestinationYAML.replacingOccurrences(of: "  name: reviews-global\n", with: "")
        #expect(try #require(readError(noName)).message.contains("metadata.name is required"))
        let badLabel = virtualDestinationYAML.replacingOccurrences(of: "{team: reviews}", with: "{team: 3}")
        #expect(try #require(readError(badLabel)).message.contains("metadata.labels.team: expected string"))
    }

    @Test func enumsAndBoundsFromTheCRDAreChecked() throws {
        let tp = """
            apiVersion: networking.mesh.gloo.solo.io/v1alpha2
            kind: TrafficPolicy
            metadata: {name: tp, namespace: gloo-mesh}
            spec:
              policy:
                outlierDetection: {consecutiveErrors: -1}
            """
        let error = try #require(readError(tp))
        #expect(error.message.contains("spec.policy.outlierDetection.consecutiveErrors: -1 is below the minimum 0"))
    }

    @Test func watchStreamsConcatenatedOrOnePerLine() throws {
        let vd = try #require(read(virtualDestinationYAML).first)
        let object = JSONText.string(vd.object)
        let lines = "{\"type\":\"ADDED\",\"object\":\(object)}\n{\"type\":\"DELETED\",\"object\":\(object)}\n"
        let concatenated = "{\"type\":\"ADDED\",\"object\":\(object)}{\"type\":\"BOOKMARK\",\"object\":{}}"
        let events = try ManifestReader.watchEvents(Array(lines.utf8), name: "w")
        #expect(events.map(\.type) == [.added, .deleted])
        #expect(events.first?.manifest == vd)
        #expect(try ManifestReader.watchEvents(Array(concatenated.utf8), name: "w").map(\.type) == [.added, .bookmark])
        let truncated = String(lines.dropLast(30))
        #expect(throws: ManifestError.self) { try ManifestReader.watchEvents(Array(truncated.utf8), name: "w") }
        let wrongShape = "{\"kind\":\"VirtualDestination\"}"
        #expect(throws: ManifestError.self) { try ManifestReader.watchEvents(Array(wrongShape.utf8), name: "w") }
    }
}

@Suite struct JSONTextTests {
    @Test func parsesEscapesNumbersAndNesting() throws {
        let value = try JSONText.parse(
            Array(#"{"b":[1,-2,3.5,1e3,true,false,null],"a":"\u00e9\n\ud83d\ude00\"","c":{}}"#.utf8))
        #expect(value["a"] == .string("é\n😀\""))
        #expect(value["b"] == [1, -2, 3.5, 1000.0, true, false, .null])
        #expect(value.objectValue?.keys == ["a", "b", "c"])
        #expect(JSONText.string(value) == #"{"a":"é\n😀\"","b":[1,-2,3.5,1000.0,true,false,null],"c":{}}"#)
    }

    /// Strings without escapes take a fast path (ASCII needs no validation); UTF-8 is still
    /// checked for the others, with and without escapes, and control characters refused.
    @Test func stringsWithoutEscapesAreReadExactlyAndNonASCIIStillValidated() throws {
        #expect(try JSONText.parse(Array(#"["plain","café 😀",""]"#.utf8)) == ["plain", "café 😀", ""])
        let invalid: [UInt8] = [0x5B, 0x22, 0x61, 0xFF, 0x62, 0x22, 0x5D]  // ["a\xFFb"]
        #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(invalid) }
        let invalidAfterEscape: [UInt8] = [0x22, 0x5C, 0x6E, 0xC3, 0x28, 0x22]  // "\n\xC3("
        #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(invalidAfterEscape) }
        #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(Array("\"a\tb\"".utf8)) }
        let error = #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(Array("[\"ab\ncd\"]".utf8)) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("control character"))
    }

    @Test func refusesDeepNestingDuplicatesAndGarbage() {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(Array(deep.utf8)) }
        #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(Array(#"{"a":1,"a":2}"#.utf8)) }
        #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(Array("01".utf8)) }
        #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(Array("[1,]".utf8)) }
        #expect(throws: JSONText.SyntaxError.self) { try JSONText.parse(Array("\"abc".utf8)) }
    }

    /// Strings are written in runs between the bytes that need an escape: each escape at the
    /// start, middle and end, runs of plain bytes and of UTF-8 between them, every control byte.
    @Test func stringsAreWrittenWithExactlyTheirEscapes() throws {
        #expect(JSONText.string(.string("")) == #""""#)
        #expect(JSONText.string(.string("plain")) == #""plain""#)
        #expect(JSONText.string(.string("\"a\\b\nc\r\td\u{01}\u{1F}")) == #""\"a\\b\nc\r\td\u0001\u001f""#)
        #expect(JSONText.string(.string("café\n😀\"")) == #""café\n😀\"""#)
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let written = JSONText.string(.string(controls + "x" + controls))
        #expect(try JSONText.parse(Array(written.utf8)) == .string(controls + "x" + controls))
        #expect(!written.utf8.dropFirst().dropLast().contains { $0 < 0x20 })
        let bridged = NSString(string: "bridged \"é\"") as String  // not native: copied first
        #expect(JSONText.string(.string(bridged)) == #""bridged \"é\"""#)
    }

    @Test func canonicalFormRoundTrips() throws {
        var generator = SplitMix64(seed: 42)
        var spliced = 0
        for _ in 0..<300 {
            let value = RandomJSON.value(&generator)
            let text = JSONText.canonical(value)
            #expect(try JSONText.parse(text) == value)
            #expect(JSONText.canonical(try JSONText.parse(text)) == text)
            // A member serialized beforehand and written as its bytes gives the same text.
            if let member = value.objectValue?.members.last {
                #expect(
                    JSONText.canonical(value, member: member.key, encoded: JSONText.canonical(member.value)) == text)
                spliced += 1
            }
            #expect(JSONText.canonical(value, member: "absent", encoded: Array("0".utf8)) == text)
        }
        #expect(spliced > 10)
    }
}
