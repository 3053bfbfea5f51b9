import MeshLedgerTesting
import Testing
import Workload

@testable import MeshModel

@Suite struct YAMLEmitTests {
    @Test func emittedYAMLReadsBackToTheSameValue() throws {
        let value: JSONValue = [
            "s": "9080", "t": "true", "n": "null", "e": "", "y": "yes", "colon": "a: b", "multi": "line1\nline2",
            "num": 9080, "d": 1.5, "b": false, "nil": .null, "list": ["x", 1, ["k": "v"]], "empty": [], "obj": [:],
            "unicode": "héllo ☃", "date": "2026-11-27",
        ]
        let text = YAMLText.emit(value)
        let back = try YAMLText.parseDocuments(text)
        #expect(back.first?.value == value, "\(text)")
        var generator = SplitMix64(seed: 9)
        for _ in 0..<200 {
            var object = JSONObject()
            object["v"] = RandomJSON.value(&generator)
            let text = YAMLText.emit(.object(object))
            #expect(try YAMLText.parseDocuments(text).first?.value == .object(object), "\(text)")
        }
    }
}
