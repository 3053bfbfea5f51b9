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

    /// Parses a selector as kube-apiserver does (`labels.Parse`): `key`, `!key`, `key=value`,
    /// `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, separated by commas; keys must
    /// be qualified names and values label values. Throws naming what is wrong.
    public init(_ text: String) throws(ManifestError) {
        var tokens = LabelSelector.tokens(text)[...]
        var requirements: [Requirement] = []
        func fail(_ message: String) -> ManifestError {
            ManifestError(.syntax, "unable to parse requirement: \(message)")
        }
        func key(_ token: Token?) throws(ManifestError) -> String {
            guard case .identifier(let key)? = token else {
                throw fail("found '\(token?.text ?? "")', expected: identifier")
            }
            if let problem = Naming.qualifiedNameProblem(key) {
                throw fail("key: Invalid value: \"\(key)\": \(problem)")
            }
            return key
        }
        func value(_ text: String) throws(ManifestError) -> String {
            if let problem = Naming.labelValueProblem(text) {
                throw fail("values[0]: Invalid value: \"\(text)\": \(problem)")
            }
            return text
        }
        while let first = tokens.popFirst() {
            if case .symbol("!") = first {
                requirements.append(.doesNotExist(try key(tokens.popFirst())))
            } else {
                let name = try key(first)
                switch tokens.first {
                case nil, .symbol(",")?:
                    requirements.append(.exists(name))
                case .symbol(let op)? where op == "=" || op == "==" || op == "!=":
                    tokens.removeFirst()
                    var text = ""
                    if case .identifier(let given)? = tokens.first {
                        text = given
                        tokens.removeFirst()
                    }
                    let checked = try value(text)
                    requirements.append(op == "!=" ? .notEquals(name, checked) : .equals(name, checked))
                case .identifier(let op)? where op == "in" || op == "notin":
                    tokens.removeFirst()
                    guard case .symbol("(")? = tokens.popFirst() else {
                        throw fail("found '\(tokens.first?.text ?? "")', expected: '('")
                    }
                    var values: Set<String> = []
                    var expectValue = true
                    loop: while true {
                        switch tokens.popFirst() {
                        case .identifier(let given)? where expectValue:
                            values.insert(try value(given))
                            expectValue = false
                        case .symbol(",")?:
                            if expectValue { values.insert("") }
                            expectValue = true
                        case .symbol(")")?:
                            if expectValue && !values.isEmpty { values.insert("") }
                            break loop
                        case let other:
                            throw fail("found '\(other?.text ?? "")', expected: ',', ')' or identifier")
                        }
                    }
                    if values.isEmpty { throw fail("for 'in', 'notin' operators, values set can't be empty") }
                    requirements.append(op == "in" ? .within(name, values) : .notWithin(name, values))
                case let other:
                    throw fail("found '\(other?.text ?? "")', expected: '=', '!=', '==', 'in', notin'")
                }
            }
            switch tokens.popFirst() {
            case nil: break
            case .symbol(",")?: if tokens.isEmpty { throw fail("found '', expected: identifier") }
            case let other?: throw fail("found '\(other.text)', expected: ','")
            }
        }
        self.requirements = requirements
    }

    private enum Token: Equatable {
        case identifier(String)
        case symbol(String)

        var text: String {
            switch self {
            case .identifier(let text), .symbol(let text): text
            }
        }
    }

    /// The selector's tokens: the symbols `! = == != ( ) ,` and runs of anything else but white
    /// space.
    private static func tokens(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var current = ""
        let characters = Array(text)
        var index = 0
        func flush() {
            if !current.isEmpty { tokens.append(.identifier(current)) }
            current = ""
        }
        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case " ", "\t", "\n", "\r":
                flush()
            case "!", "=":
                flush()
                if next == "=" {
                    tokens.append(.symbol(String(character) + "="))
                    index += 1
                } else {
                    tokens.append(.symbol(String(character)))
                }
            case "(", ")", ",", "<", ">":
                flush()
                tokens.append(.symbol(String(character)))
            default:
                current.append(character)
            }
            index += 1
        }
        flush()
        return tokens
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

    /// Parses a selector; throws naming a field not in `fields` or a malformed term.
    public init(_ text: String, fields supported: [String] = FieldSelector.fields) throws(ManifestError) {
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
            guard supported.contains(field) else {
                throw ManifestError(.syntax, "field label not supported: \(field)")
            }
            stored.append(Stored(field: field, value: String(parts[1]).trimmed, equal: equal))
        }
    }

    /// Whether an object's name and namespace satisfy it.
    public func matches(name: String, namespace: String) -> Bool {
        matches { $0 == "metadata.name" ? name : namespace }
    }

    /// Whether the fields' values (`value(field)`, "" for none) satisfy it.
    public func matches(_ value: (String) -> String) -> Bool {
        stored.allSatisfy { r in (value(r.field) == r.value) == r.equal }
    }

    /// The one name or namespace the selector pins with `=`, if any.
    public func pinned(_ field: String) -> String? {
        stored.first { $0.field == field && $0.equal }?.value
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespaces) }
}
