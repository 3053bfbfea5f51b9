import Foundation

/// Query strings as HTTP clients encode them: `&`-separated `name=value` pairs, `+` for a space,
/// percent-encoded bytes (undecodable ones kept as they are).
enum QueryParameters {
    /// The first value of `name` in a raw query string.
    static func value(of name: String, in query: String?) -> String? {
        guard let query, !query.isEmpty else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard decode(parts[0]) == name else { continue }
            return parts.count == 2 ? decode(parts[1]) : ""
        }
        return nil
    }

    /// A boolean parameter as kube-apiserver reads one (`Convert_Slice_string_To_bool`): absent,
    /// `0` and `false` (any case) are false; any other value, the empty one too, is true.
    static func flag(_ value: String?) -> Bool {
        guard let value else { return false }
        return value != "0" && value.lowercased() != "false"
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
