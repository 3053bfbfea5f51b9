/// A JSON value as MeshLedger keeps objects: every field, unknown ones included.
///
/// Integers and floating-point numbers are distinct cases so that a manifest's `8080` stays an
/// integer through storage. Objects keep their members sorted by the UTF-8 bytes of their keys,
/// which makes equality, hashing and serialization canonical: no order depends on the process.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The JSON type name, as error messages and schemas say it.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// How deeply it nests (a scalar is 0, `[1]` is 1), counted no further than `limit`, so that a
    /// hostile value costs no more than `limit` levels of recursion.
    public func depth(upTo limit: Int) -> Int {
        guard limit > 0 else { return 0 }
        switch self {
        case .array(let elements): return 1 + elements.reduce(0) { max($0, $1.depth(upTo: limit - 1)) }
        case .object(let object): return 1 + object.reduce(0) { max($0, $1.value.depth(upTo: limit - 1)) }
        default: return 0
        }
    }

    /// The member `key` of an object, or nil (also for non-objects).
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The value at a path of object keys, or nil.
    public subscript(path path: [String]) -> JSONValue? {
        var current: JSONValue? = self
        for key in path { current = current?[key] }
        return current
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer, if this is one (or a double with an integral value).
    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value) where value.rounded() == value && abs(value) < 9.0e18: return Int64(value)
        default: return nil
        }
    }

    /// The object, if this is one.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The boolean, if this is one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}

/// A JSON object whose members are kept sorted by key (UTF-8 byte order), keys unique.
public struct JSONObject: Sendable, Hashable, Sequence {
    /// One member of an object.
    public struct Member: Sendable, Hashable {
        /// The member's key.
        public var key: String
        /// The member's value.
        public var value: JSONValue
        /// Creates a member.
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// The members, sorted by key.
    public private(set) var members: [Member]

    /// An empty object.
    public init() { members = [] }

    /// An object from members in any order; a later duplicate key replaces an earlier one.
    public init(_ pairs: [(String, JSONValue)]) {
        members = []
        members.reserveCapacity(pairs.count)
        for (key, value) in pairs { self[key] = value }
    }

    /// An object from members already sorted by key and unique (decoders that checked it).
    public init(sortedMembers: [Member]) {
        members = sortedMembers
    }

    /// The number of members.
    public var count: Int { members.count }

    /// Iterates the members in key order.
    public func makeIterator() -> IndexingIterator<[Member]> { members.makeIterator() }

    /// The keys, in order.
    public var keys: [String] { members.map(\.key) }

    /// The value for `key`; setting nil removes the member.
    public subscript(key: String) -> JSONValue? {
        get {
            let (index, found) = position(of: key)
            return found ? members[index].value : nil
        }
        set {
            let (index, found) = position(of: key)
            switch (found, newValue) {
            case (true, .some(let value)): members[index].value = value
            case (true, .none): members.remove(at: index)
            case (false, .some(let value)): members.insert(Member(key: key, value: value), at: index)
            case (false, .none): break
            }
        }
    }

    private func position(of key: String) -> (Int, Bool) {
        // Fast path: appending keys in order (decoders, builders).
        if let last = members.last {
            if JSONObject.precedes(last.key, key) { return (members.count, false) }
        } else {
            return (0, false)
        }
        var low = 0
        var high = members.count
        while low < high {
            let mid = (low + high) / 2
            let order = JSONObject.compare(members[mid].key, key)
            if order == 0 { return (mid, true) }
            if order < 0 { low = mid + 1 } else { high = mid }
        }
        return (low, false)
    }

    /// The canonical key order: lexicographic over UTF-8 bytes.
    public static func precedes(_ a: String, _ b: String) -> Bool { compare(a, b) < 0 }

    /// Three-way comparison in the canonical key order (negative: `a` first), over the strings'
    /// contiguous UTF-8 (native strings have it; others are compared element by element).
    static func compare(_ a: String, _ b: String) -> Int {
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y -> Int in
                let count = Swift.min(x.count, y.count)
                var i = 0
                while i < count {
                    if x[i] != y[i] { return Int(x[i]) - Int(y[i]) }
                    i += 1
                }
                return x.count - y.count
            }
        }
        if let fast, let order = fast { return order }
        if a == b { return 0 }
        return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }
}
