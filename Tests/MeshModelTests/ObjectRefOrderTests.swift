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

    @Test("distinctSortedByKey gives what a set sorted by key gives, copies and equal keys included")
    func distinctLikeASetSorted() {
        var random = SplitMix64(seed: 11)
        var sortedInputs = 0
        for round in 0..<2_000 {
            let pool = (0..<4).map { _ in
                ObjectRef(name: Self.randomName(&random), namespace: Self.randomName(&random))
            }
            var refs = (0..<Int(random.next() % 6)).map { _ in pool[Int(random.next() % UInt64(pool.count))] }
            if round % 3 == 0 {  // the fast path: already in order
                refs = Set(refs).sortedByKey()
                sortedInputs += 1
            }
            let distinct = refs.distinctSortedByKey()
            #expect(Set(distinct) == Set(refs), "\(refs)")
            #expect(distinct.count == Set(refs).count, "no ref twice: \(refs)")
            #expect(distinct.map(\.key) == Set(refs).sortedByKey().map(\.key), "\(refs)")
        }
        #expect(sortedInputs > 600)
        // Two refs with one key (a dot in the name): both kept, each once.
        let (a, b) = (ObjectRef(name: "a.b", namespace: "c"), ObjectRef(name: "a", namespace: "b.c"))
        #expect([a, b, a, b].distinctSortedByKey().count == 2)
    }
}
