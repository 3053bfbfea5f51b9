public import MeshModel

/// Seeded random JSON values for property tests (round trips of the codecs and emitters).
public enum RandomJSON {
    /// A random value, nested at most a few levels, with strings drawn from `alphabet` and doubles
    /// from `doubles`.
    public static func value(
        _ g: inout SplitMix64, depth: Int = 0, alphabet: String = "aé\"\\\n😀z09-",
        doubles: ClosedRange<Double> = -1e12...1e12
    ) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &g) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &g))
        case 2: return .int(Int64.random(in: Int64.min...Int64.max, using: &g))
        case 3: return .double(Double.random(in: doubles, using: &g))
        case 4:
            return .string(
                String((0..<Int.random(in: 0..<16, using: &g)).map { _ in alphabet.randomElement(using: &g)! }))
        case 5:
            return .array(
                (0..<Int.random(in: 0..<6, using: &g)).map { _ in
                    value(&g, depth: depth + 1, alphabet: alphabet, doubles: doubles)
                })
        default:
            var object = JSONObject()
            for _ in 0..<Int.random(in: 0..<6, using: &g) {
                object["k\(Int.random(in: 0..<30, using: &g))"] = value(
                    &g, depth: depth + 1, alphabet: alphabet, doubles: doubles)
            }
            return .object(object)
        }
    }
}
