import Foundation

/// The two patch formats every Kubernetes client sends for custom resources: JSON merge patch
/// (RFC 7386, `application/merge-patch+json`) and JSON patch (RFC 6902,
/// `application/json-patch+json`, `test` included).
public enum JSONPatch {
    /// Why a patch could not be applied.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong, naming the operation.
        public let message: String
        /// The patch asks for more work or a larger object than is allowed (413, not 422).
        public let tooLarge: Bool
        /// Creates the failure.
        public init(_ message: String, tooLarge: Bool = false) {
            self.message = message
            self.tooLarge = tooLarge
        }
        public var description: String { message }
    }

    /// RFC 7386: members of an object patch replace, `null` removes, objects merge recursively;
    /// anything else replaces the whole target.
    public static func merge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let patchObject) = patch else { return patch }
        var result = target.objectValue ?? JSONObject()
        for member in patchObject {
            if member.value == .null {
                result[member.key] = nil
            } else {
                result[member.key] = merge(result[member.key] ?? .null, member.value)
            }
        }
        return .object(result)
    }

    /// Most operations in one JSON patch (kube-apiserver's `maxJSONPatchOperations`).
    public static let maxOperations = 10_000

    /// Most bytes (canonical JSON) that the `copy` operations of one patch may add together
    /// (kube-apiserver bounds them the same way): the largest object the log accepts.
    public static let maxCopiedBytes = ManifestReader.maxDocumentBytes

    /// RFC 6902: applies the operations in order; the first that fails (a failed `test`, a missing
    /// path) fails the whole patch and nothing is applied. A patch may not make more work than its
    /// size warrants: at most `maxOperations` operations, `copy`s adding at most `maxCopiedBytes`,
    /// and a result nested no deeper than `JSONText.maxDepth`.
    public static func apply(_ operations: JSONValue, to target: JSONValue) throws(Failure) -> JSONValue {
        guard case .array(let list) = operations else {
            throw Failure("a JSON patch is an array of operations")
        }
        guard list.count <= maxOperations else {
            throw Failure(
                "The allowed maximum operations in a JSON patch is \(maxOperations), got \(list.count)", tooLarge: true)
        }
        var document = target
        var copied = 0
        // A bound of the document's depth, kept without walking the document again: a value placed
        // at `pointer` nests at most `pointer.count` deeper than its own depth; a value taken from
        // the document at `source` is at most `depth - source.count` deep.
        var depth = target.depth(upTo: JSONText.maxDepth + 1)
        func place(_ valueDepth: Int, at pointer: [String]) throws(Failure) {
            depth = max(depth, pointer.count + valueDepth)
            if depth > JSONText.maxDepth {
                throw Failure("the patched object would nest deeper than \(JSONText.maxDepth) levels")
            }
        }
        for (index, operation) in list.enumerated() {
            guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
                throw Failure("operation \(index): needs op and path")
            }
            let pointer = try parse(path)
            switch op {
            case "add":
                let added = try value(operation, index)
                try place(added.depth(upTo: JSONText.maxDepth + 1), at: pointer)
                document = try set(document, pointer, added, insert: true)
            case "replace":
                _ = try get(document, pointer, path)
                let replacement = try value(operation, index)
                try place(replacement.depth(upTo: JSONText.maxDepth + 1), at: pointer)
                document = try set(document, pointer, replacement, insert: false)
            case "remove":
                document = try remove(document, pointer, path)
            case "test":
                let actual = try get(document, pointer, path)
                if actual != (try value(operation, index)) {
                    throw Failure("testing value \(path) failed")
                }
            case "move", "copy":
                guard let from = operation["from"]?.stringValue else { throw Failure("operation \(index): needs from") }
                let source = try parse(from)
                let moved = try get(document, source, from)
                try place(max(0, depth - source.count), at: pointer)
                if op == "move" {
                    document = try remove(document, source, from)
                } else {
                    copied += JSONText.canonical(moved).count
                    if copied > maxCopiedBytes {
                        throw Failure(
                            "operation \(index): the copies of this patch add over \(maxCopiedBytes) bytes, the limit",
                            tooLarge: true)
                    }
                }
                document = try set(document, pointer, moved, insert: true)
            default:
                throw Failure("operation \(index): unknown op \"\(op)\"")
            }
        }
        return document
    }

    private static func value(_ operation: JSONValue, _ index: Int) throws(Failure) -> JSONValue {
        guard let value = operation["value"] else { throw Failure("operation \(index): needs value") }
        return value
    }

    /// A JSON pointer's reference tokens (`~1` is `/`, `~0` is `~`).
    static func parse(_ pointer: String) throws(Failure) -> [String] {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { throw Failure("invalid JSON pointer \"\(pointer)\"") }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func get(_ document: JSONValue, _ pointer: [String], _ path: String) throws(Failure) -> JSONValue {
        var current = document
        for token in pointer {
            switch current {
            case .object(let object):
                guard let next = object[token] else { throw Failure("path \(path) does not exist") }
                current = next
            case .array(let array):
                guard let i = Int(token), array.indices.contains(i) else {
                    throw Failure("path \(path) does not exist")
                }
                current = array[i]
            default:
                throw Failure("path \(path) does not exist")
            }
        }
        return current
    }

    static func set(
        _ document: JSONValue, _ pointer: [String], _ value: JSONValue, insert: Bool
    ) throws(Failure) -> JSONValue {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var object):
            if rest.isEmpty {
                object[token] = value
            } else {
                guard let child = object[token] else {
                    throw Failure("path /\(pointer.joined(separator: "/")) does not exist")
                }
                object[token] = try set(child, rest, value, insert: insert)
            }
            return .object(object)
        case .array(var array):
            if rest.isEmpty {
                if token == "-" && insert {
                    array.append(value)
                } else if let i = Int(token), insert ? (0...array.count).contains(i) : array.indices.contains(i) {
                    if insert { array.insert(value, at: i) } else { array[i] = value }
                } else {
                    throw Failure("array index \(token) is out of range")
                }
            } else {
                guard let i = Int(token), array.indices.contains(i) else {
                    throw Failure("array index \(token) is out of range")
                }
                array[i] = try set(array[i], rest, value, insert: insert)
            }
            return .array(array)
        default:
            throw Failure("cannot add \(token) to a \(document.typeName)")
        }
    }

    static func remove(_ document: JSONValue, _ pointer: [String], _ path: String) throws(Failure) -> JSONValue {
        guard let token = pointer.first else { throw Failure("cannot remove the whole document") }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var object):
            guard let child = object[token] else { throw Failure("path \(path) does not exist") }
            object[token] = rest.isEmpty ? nil : try remove(child, rest, path)
            return .object(object)
        case .array(var array):
            guard let i = Int(token), array.indices.contains(i) else { throw Failure("path \(path) does not exist") }
            if rest.isEmpty { array.remove(at: i) } else { array[i] = try remove(array[i], rest, path) }
            return .array(array)
        default:
            throw Failure("path \(path) does not exist")
        }
    }
}
