import Foundation
import Yams

/// YAML text to `JSONValue`, through Yams' composer (libyaml): resolved scalar tags decide
/// integers, floats, booleans and nulls; timestamps and other tagged scalars stay strings.
public enum YAMLText {
    /// One YAML document with its 1-based starting line.
    public struct Document: Sendable {
        /// The document's value.
        public let value: JSONValue
        /// The line it starts on.
        public let line: Int
    }

    /// Parses every document of a multi-document YAML text; empty documents are skipped.
    public static func parseDocuments(_ text: String) throws(ManifestError) -> [Document] {
        var documents: [Document] = []
        // libyaml refuses nesting deeper than 1,000 levels as it parses (so Yams' composer, which
        // recurses, never goes deeper); `convert` refuses more than `JSONText.maxDepth`.
        do {
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() {
                let line = node.mark?.line ?? 1
                // Aliases are expanded, within the limit of one object: a document whose expansion
                // would be larger is refused as it is expanded (a few bytes of anchors and aliases
                // can otherwise name gigabytes).
                var budget = ManifestReader.maxDocumentBytes
                let value = try convert(node, depth: 0, budget: &budget)
                if value != .null { documents.append(Document(value: value, line: line)) }
            }
            // The sequence keeps a parse error instead of throwing it from next().
            if let error = sequence.error { throw error }
        } catch let error as ManifestError {
            throw error
        } catch let error as YamlError {
            throw ManifestError(.syntax, "invalid YAML: \(describe(error))")
        } catch {
            throw ManifestError(.syntax, "invalid YAML: \(error)")
        }
        return documents
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let where_ = "line \(mark.line), column \(mark.column)"
            if let context { return "\(where_): \(problem) (\(context.text))" }
            return "\(where_): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            return "duplicate key \(keys) in the mapping at line \(context.mark.line)"
        case .reader(let problem, let offset, _, _):
            return "\(problem)\(offset.map { " at byte \($0)" } ?? "")"
        default:
            return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
        }
    }

    static func convert(_ node: Node, depth: Int, budget: inout Int) throws -> JSONValue {
        if depth > JSONText.maxDepth {
            throw ManifestError(.syntax, "nesting deeper than \(JSONText.maxDepth) levels")
        }
        // What the value will take at least: a byte a node, its scalar's bytes.
        budget -= 1
        if case .scalar(let scalar) = node { budget -= scalar.string.utf8.count }
        if budget < 0 {
            throw ManifestError(
                .tooLarge,
                "line \(node.mark?.line ?? 1): the document expands past \(ManifestReader.maxDocumentBytes >> 20) MiB (YAML aliases); that is the limit for one object"
            )
        }
        switch node {
        case .scalar(let scalar):
            switch node.tag.description {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue:
                if let value = node.bool { return .bool(value) }
            case Tag.Name.int.rawValue:
                if let value = Int64(scalar.string.replacingOccurrences(of: "_", with: "")) { return .int(value) }
                if let value = node.int { return .int(Int64(value)) }
            case Tag.Name.float.rawValue:
                if let value = node.float {
                    guard value.isFinite else {
                        throw ManifestError(
                            .syntax,
                            "line \(scalar.mark?.line ?? 1): non-finite number \(scalar.string) is not allowed")
                    }
                    return .double(value)
                }
            default: break
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var elements: [JSONValue] = []
            elements.reserveCapacity(sequence.count)
            for element in sequence { elements.append(try convert(element, depth: depth + 1, budget: &budget)) }
            return .array(elements)
        case .mapping(let mapping):
            var object = JSONObject()
            for (keyNode, valueNode) in mapping {
                let key: String
                switch keyNode {
                case .scalar(let scalar): key = scalar.string
                default:
                    throw ManifestError(.syntax, "line \(keyNode.mark?.line ?? 1): mapping keys must be strings")
                }
                if object[key] != nil {
                    throw ManifestError(.syntax, "line \(keyNode.mark?.line ?? 1): duplicate key \"\(key)\"")
                }
                budget -= key.utf8.count
                object[key] = try convert(valueNode, depth: depth + 1, budget: &budget)
            }
            return .object(object)
        case .alias:
            throw ManifestError(.syntax, "unresolved YAML alias")
        }
    }
}

/// Reads manifests (multi-document YAML, JSON, JSON Lists) and Kubernetes watch-event streams
/// into validated `Manifest`s.
public enum ManifestReader {
    /// The largest single object accepted, in bytes of input text (Kubernetes' own request limit
    /// is about 1.5 MiB; this leaves room).
    public static let maxDocumentBytes = 3 << 20

    /// A watch event's type.
    public enum WatchType: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        case bookmark = "BOOKMARK"
    }

    /// One watch event: its type and object (bookmarks carry no object).
    public struct WatchEvent: Sendable {
        /// ADDED, MODIFIED, DELETED or BOOKMARK.
        public let type: WatchType
        /// The object (nil for BOOKMARK).
        public let manifest: Manifest?

        /// An event of a watch stream.
        public init(type: WatchType, manifest: Manifest?) {
            self.type = type
            self.manifest = manifest
        }
    }

    /// Reads manifests from `bytes`; `name` (a file name or `-`) prefixes error locations.
    public static func manifests(_ bytes: [UInt8], name: String) throws(ManifestError) -> [Manifest] {
        let values = try documents(bytes, name: name)
        var result: [Manifest] = []
        for (value, location) in values {
            for (item, itemLocation) in flattenList(value, location: location) {
                do {
                    result.append(try Manifest(object: item))
                } catch var error {
                    error.location = itemLocation
                    throw error
                }
            }
        }
        return result
    }

    /// Reads a watch-event stream (`kubectl get -w -o json --output-watch-events`): JSON objects
    /// `{"type": ..., "object": {...}}`, concatenated or one per line.
    public static func watchEvents(_ bytes: [UInt8], name: String) throws(ManifestError) -> [WatchEvent] {
        try checkText(bytes, name: name)
        let values: [(value: JSONValue, offset: Int)]
        do {
            values = try JSONText.parseStream(bytes)
        } catch {
            throw ManifestError(.syntax, "invalid JSON in watch stream: \(error)", location: name)
        }
        return try values.enumerated().map { index, entry throws(ManifestError) in
            try watchEvent(entry.value, location: "\(name): watch event \(index + 1)")
        }
    }

    /// One watch event from its JSON value.
    public static func watchEvent(_ value: JSONValue, location: String) throws(ManifestError) -> WatchEvent {
        guard case .object(let object) = value, let typeName = object["type"]?.stringValue else {
            throw ManifestError(.watchEvent, "expected {\"type\": ..., \"object\": {...}}", location: location)
        }
        guard let type = WatchType(rawValue: typeName) else {
            throw ManifestError(
                .watchEvent, "unknown watch event type \"\(typeName)\" (expected ADDED, MODIFIED, DELETED or BOOKMARK)",
                location: location)
        }
        if type == .bookmark { return WatchEvent(type: type, manifest: nil) }
        guard let object = object["object"] else {
            throw ManifestError(.watchEvent, "\(typeName) event without an object", location: location)
        }
        do {
            return WatchEvent(type: type, manifest: try Manifest(object: object))
        } catch var error {
            error.location = location
            throw error
        }
    }

    /// Splits input into documents: JSON (one value, a stream of values) when it starts with `{`
    /// or `[` and has no YAML document separator, YAML otherwise. JSON objects separated by
    /// `---` lines are YAML documents written in flow style, as `kubectl apply -f` reads them.
    static func documents(_ bytes: [UInt8], name: String) throws(ManifestError) -> [(JSONValue, String)] {
        try checkText(bytes, name: name)
        let first = bytes.first { !JSONText.isWhitespace($0) }
        if (first == UInt8(ascii: "{") || first == UInt8(ascii: "[")) && !hasDocumentSeparator(bytes) {
            do {
                let values = try JSONText.parseStream(bytes)
                var result: [(JSONValue, String)] = []
                for (i, entry) in values.enumerated() {
                    let end = i + 1 < values.count ? values[i + 1].offset : bytes.count
                    let location = values.count == 1 ? name : "\(name): document \(i + 1)"
                    if end - entry.offset > maxDocumentBytes {
                        throw ManifestError(.tooLarge, tooLargeMessage(end - entry.offset), location: location)
                    }
                    result.append((entry.value, location))
                }
                return result
            } catch let error as JSONText.SyntaxError {
                throw ManifestError(.syntax, "invalid JSON: \(error)", location: name)
            } catch let error as ManifestError {
                throw error
            } catch {
                throw ManifestError(.syntax, "invalid JSON: \(error)", location: name)
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        try checkYAMLDocumentSizes(text, name: name)
        do {
            return try YAMLText.parseDocuments(text).enumerated().map { index, document in
                (document.value, "\(name): document \(index + 1) (line \(document.line))")
            }
        } catch var error {
            error.location = name
            throw error
        }
    }

    /// Whether a line starts with `---`: a YAML document marker, which no JSON text can contain
    /// at the start of a line (strings cannot span lines, and `---` is no number).
    static func hasDocumentSeparator(_ bytes: [UInt8]) -> Bool {
        var lineStart = true
        var index = 0
        while index < bytes.count {
            if lineStart && bytes[index] == UInt8(ascii: "-") && index + 2 < bytes.count
                && bytes[index + 1] == UInt8(ascii: "-") && bytes[index + 2] == UInt8(ascii: "-")
            {
                return true
            }
            lineStart = bytes[index] == 0x0A
            index += 1
        }
        return false
    }

    private static func tooLargeMessage(_ bytes: Int) -> String {
        let mib = Double(bytes) / 1_048_576
        return
            "document is \(String(format: "%.1f", mib)) MiB; the limit for one object is \(maxDocumentBytes >> 20) MiB"
    }

    /// Refuses a YAML document larger than the limit before parsing it.
    private static func checkYAMLDocumentSizes(_ text: String, name: String) throws(ManifestError) {
        var size = 0
        var document = 1
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.starts(with: "---".utf8) {
                size = 0
                document += 1
                continue
            }
            size += line.count + 1
            if size > maxDocumentBytes {
                throw ManifestError(
                    .tooLarge, "over \(maxDocumentBytes >> 20) MiB; that is the limit for one object",
                    location: "\(name): document \(document)")
            }
        }
    }

    /// Refuses input that is not UTF-8 text (binary files).
    static func checkText(_ bytes: [UInt8], name: String) throws(ManifestError) {
        if let nul = bytes.firstIndex(of: 0) {
            throw ManifestError(
                .notText, "input is binary, not YAML or JSON text (NUL byte at offset \(nul))", location: name)
        }
        if String(utf8Text: bytes) == nil {
            var offset = 0
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            loop: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar): offset += UTF8.width(scalar)
                case .emptyInput: break loop
                case .error: break loop
                }
            }
            throw ManifestError(
                .notText, "input is not UTF-8 text (invalid byte near offset \(offset))", location: name)
        }
        if JSONText.isBlank(bytes) {
            throw ManifestError(.syntax, "input is empty", location: name)
        }
    }

    /// Expands `kind: List` (and `...List` kinds with `items`) into their items.
    static func flattenList(_ value: JSONValue, location: String) -> [(JSONValue, String)] {
        if let kind = value["kind"]?.stringValue, kind.hasSuffix("List"), let items = value["items"]?.arrayValue {
            return items.enumerated().map { ($1, "\(location): item \($0 + 1)") }
        }
        if case .array(let elements) = value {
            return elements.enumerated().map { ($1, "\(location): item \($0 + 1)") }
        }
        return [(value, location)]
    }
}

extension YAMLText {
    /// YAML text for a value: block style, keys in canonical order, strings quoted wherever a
    /// plain scalar would read back as something else.
    public static func emit(_ value: JSONValue) -> String {
        (try? Yams.serialize(node: node(value), indent: 2, width: -1, allowUnicode: true, sortKeys: false)) ?? ""
    }

    /// Several documents separated by `---`.
    public static func emitDocuments(_ values: [JSONValue]) -> String {
        values.map { "---\n" + emit($0) }.joined()
    }

    static func node(_ value: JSONValue) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .int(let i): return Node(String(i), Tag(.int))
        case .double(let d): return Node(JSONText.format(d), Tag(.float))
        case .string(let s):
            // A string that would resolve to another type as a plain scalar is double-quoted.
            let resolved = Node(s).tag.description
            let style: Node.Scalar.Style = resolved == Tag.Name.str.rawValue && !s.isEmpty ? .any : .doubleQuoted
            return Node(s, Tag(.str), style)
        case .array(let elements): return Node(elements.map(node), Tag(.seq))
        case .object(let object):
            return Node(object.members.map { (Node($0.key, Tag(.str)), node($0.value)) }, Tag(.map))
        }
    }
}
