import Foundation

/// A Kubernetes label selector (`app=reviews,tier!=db,env in (a,b),!legacy,team`), as list and
/// watch requests take it in `labelSelector`.
public struct LabelSelector: Sendable, Hashable {
    /// One requirement.
    public enum Requirement: Sendable, Hashable {
        case equals(String, String)
        case notEquals(String, String)
        case within(String, Set<String>)
        case notWithin(String, Set<String>)
        case exists(String)
        case doesNotExist(String)
    }

    /// Every requirement must hold.
    public var requirements: [Requirement]

    /// Parses a selector; nil when it is malformed.
    public init?(_ text: String) {
        var requirements: [Requirement] = []
        for term in LabelSelector.terms(text) {
            let t = term.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            if let r = t.range(of: " notin ") {
                requirements.append(
                    .notWithin(String(t[..<r.lowerBound]).trimmed, LabelSelector.set(t[r.upperBound...])))
            } else if let r = t.range(of: " in ") {
                requirements.append(.within(String(t[..<r.lowerBound]).trimmed, LabelSelector.set(t[r.upperBound...])))
            } else if let r = t.range(of: "!=") {
                requirements.append(.notEquals(String(t[..<r.lowerBound]).trimmed, String(t[r.upperBound...]).trimmed))
            } else if let r = t.range(of: "==") ?? t.range(of: "=") {
                requirements.append(.equals(String(t[..<r.lowerBound]).trimmed, String(t[r.upperBound...]).trimmed))
            } else if t.hasPrefix("!") {
                requirements.append(.doesNotExist(String(t.dropFirst()).trimmed))
            } else if !t.contains(" ") && !t.contains("(") {
                requirements.append(.exists(t))
            } else {
                return nil
            }
        }
        self.requirements = requirements
    }

    /// Whether labels satisfy every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .within(let key, let values): labels[key].map(values.contains) ?? false
            case .notWithin(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }
    }

    /// Splits on commas outside parentheses.
    private static func terms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == "," && depth == 0 {
                terms.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        terms.append(current)
        return terms
    }

    private static func set(_ text: Substring) -> Set<String> {
        Set(
            text.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "()"))
                .split(separator: ",").map { String($0).trimmed })
    }
}

/// A Kubernetes field selector over `metadata.name` and `metadata.namespace` (`=`, `==`, `!=`),
/// the fields every resource supports.
public struct FieldSelector: Sendable, Hashable {
    /// (field, value, equal) triples; all must hold.
    public var requirements: [(field: String, value: String, equal: Bool)] {
        get { stored.map { ($0.field, $0.value, $0.equal) } }
        set { stored = newValue.map { Stored(field: $0.field, value: $0.value, equal: $0.equal) } }
    }
    private struct Stored: Sendable, Hashable {
        var field: String
        var value: String
        var equal: Bool
    }
    private var stored: [Stored] = []

    /// The fields it can select on.
    public static let fields = ["metadata.name", "metadata.namespace"]

    /// Parses a selector; throws naming an unsupported field or a malformed term.
    public init(_ text: String) throws(ManifestError) {
        for term in text.split(separator: ",") {
            let t = String(term).trimmed
            let equal: Bool
            let parts: [Substring]
            if let r = t.range(of: "!=") {
                equal = false
                parts = [t[..<r.lowerBound], t[r.upperBound...]]
            } else if let r = t.range(of: "==") ?? t.range(of: "=") {
                equal = true
                parts = [t[..<r.lowerBound], t[r.upperBound...]]
            } else {
                throw ManifestError(.syntax, "invalid field selector \"\(t)\"")
            }
            let field = String(parts[0]).trimmed
            guard FieldSelector.fields.contains(field) else {
                throw ManifestError(.syntax, "field label not supported: \(field)")
            }
            stored.append(Stored(field: field, value: String(parts[1]).trimmed, equal: equal))
        }
    }

    /// Whether an object's name and namespace satisfy it.
    public func matches(name: String, namespace: String) -> Bool {
        stored.allSatisfy { r in
            let actual = r.field == "metadata.name" ? name : namespace
            return (actual == r.value) == r.equal
        }
    }

    /// The one name or namespace the selector pins with `=`, if any.
    public func pinned(_ field: String) -> String? {
        stored.first { $0.field == field && $0.equal }?.value
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespaces) }
}
