import MeshModel
import Testing
import Workload

@Suite("ObjectRef key order")
struct ObjectRefOrderTests {
    /// Names from pieces that make byte order and String order part ways: dots (the key's
    /// separator), prefixes, upper case, a precomposed é, and an e followed by a combining acute
    /// accent (the same character to String comparison, other bytes).
    static let pieces = ["", "a", "b", "z", ".", "-", "1", "A", "mesh", "mesh.", "\u{E9}", "e\u{301}", "\u{301}"]

    static func randomName(_ random: inout SplitMix64) -> String {
        (0..<Int(random.next() % 4)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
    }

    @Test("keyPrecedes orders as the keys' String order, ASCII or not")
    func agreesWithKeyStrings() {
        var random = SplitMix64(seed: 7)
        var asciiPairs = 0
        for _ in 0..<5_000 {
            let a = ObjectRef(name: Self.randomName(&random), namespace: Self.randomName(&random))
            let b = ObjectRef(name: Self.randomName(&random), namespace: Self.randomName(&random))
            #expect(ObjectRef.keyPrecedes(a, b) == (a.key < b.key), "\(a.key) vs \(b.key)")
            if (a.key + b.key).utf8.allSatisfy({ $0 < 0x80 }) { asciiPairs += 1 }
        }
        #expect(asciiPairs > 250, "the byte comparison is exercised")
    }

    @Test("sortedByKey sorts as by key, a name's dots included")
    func sortsLikeKeys() {
        let refs = [
            ObjectRef(name: "a.b", namespace: "c"), ObjectRef(name: "a", namespace: "b.c"),
            ObjectRef(name: "a", namespace: "b"), ObjectRef(name: "a-b", namespace: "c"),
            ObjectRef(name: "mesh-2", namespace: "gloo-mesh"), ObjectRef(name: "mesh-10", namespace: "gloo-mesh"),
            ObjectRef(name: "\u{E9}", namespace: "x"), ObjectRef(name: "e\u{301}a", namespace: "x"),
        ]
        #expect(refs.sortedByKey().map(\.key) == refs.map(\.key).sorted())
        #expect(refs.reversed().sortedByKey().map(\.key) == refs.map(\.key).sorted())
    }
}
