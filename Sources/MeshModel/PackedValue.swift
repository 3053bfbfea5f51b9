/// Why bytes in the packed encoding (an event record, a snapshot) could not be decoded.
public struct CodecError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let problem: String
    /// Creates the error.
    public init(problem: String) { self.problem = problem }
    public var description: String { problem }
}

/// Which parts of a value to decode: all of it, or some members of an object, each with its own
/// shape (the elements of an array each take the array's shape). What a reader never reads is
/// skipped without being built: a fold reads a Destination's identity, labels, ports and zone,
/// not the addresses of its endpoints. Written as a dictionary literal of member names to shapes.
public struct ValueShape: Sendable, ExpressibleByDictionaryLiteral {
    /// The members kept, each with its shape (nil: the whole value). An object keeps only these;
    /// each object in an array too; any other value is read whole.
    package let members: [(key: String, shape: ValueShape)]?
    /// The members' names as UTF-8 bytes, compared with the stored names without building them.
    private let names: [[UInt8]]

    /// The whole value.
    public static let all = ValueShape(members: nil)

    private init(members: [(key: String, shape: ValueShape)]?) {
        self.members = members
        names = members?.map { Array($0.key.utf8) } ?? []
    }

    /// Only these members (of an object, or of each object in an array).
    public init(dictionaryLiteral elements: (String, ValueShape)...) { self.init(elements) }

    /// Only these members, given as a list.
    package init(_ members: [(String, ValueShape)]) { self.init(members: members.map { (key: $0.0, shape: $0.1) }) }

    /// The shape of a member, when it is kept: its name compared as bytes, without building it.
    func member(_ name: UnsafeRawBufferPointer) -> (key: String, shape: ValueShape)? {
        guard let members else { return nil }
        for (index, candidate) in names.enumerated() where candidate.count == name.count {
            var equal = true
            for offset in 0..<name.count where candidate[offset] != name[offset] {
                equal = false
                break
            }
            if equal { return members[index] }
        }
        return nil
    }
}

/// The packed binary encoding of `JSONValue` used inside event records.
public enum PackedValue {
    enum Tag: UInt8 {
        case null = 0
        case `false` = 1
        case `true` = 2
        case int = 3
        case double = 4
        case string = 5
        case array = 6
        case object = 7
    }

    /// Encodes a value.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out = ByteWriter()
        out.bytes.reserveCapacity(1024)
        write(value, into: &out)
        return out.bytes
    }

    /// Encodes an object and also returns where its top-level member `member` is encoded (nil
    /// when absent): the bytes there are that member's own encoding, so one pass gives both.
    package static func encode(_ value: JSONValue, locating member: String) -> (bytes: [UInt8], member: Range<Int>?) {
        guard case .object(let object) = value else { return (encode(value), nil) }
        var out = ByteWriter()
        out.bytes.reserveCapacity(1024)
        out.byte(Tag.object.rawValue)
        out.varint(UInt64(object.count))
        var range: Range<Int>?
        for element in object {
            out.string(element.key)
            let start = out.bytes.count
            write(element.value, into: &out)
            if element.key == member { range = start..<out.bytes.count }
        }
        return (out.bytes, range)
    }

    /// Decodes a value encoded by `encode`, or only the parts of it `shape` names.
    public static func decode(_ bytes: [UInt8], shape: ValueShape = .all) throws -> JSONValue {
        try bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer: buffer)
            let value = try read(&reader, depth: 0, shape: shape)
            guard reader.isAtEnd else { throw CodecError(problem: "trailing bytes after value") }
            return value
        }
    }

    package static func write(_ value: JSONValue, into out: inout ByteWriter) {
        switch value {
        case .null: out.byte(Tag.null.rawValue)
        case .bool(let b): out.byte(b ? Tag.true.rawValue : Tag.false.rawValue)
        case .int(let i):
            out.byte(Tag.int.rawValue)
            out.varint(UInt64(bitPattern: (i << 1) ^ (i >> 63)))
        case .double(let d):
            out.byte(Tag.double.rawValue)
            var bits = d.bitPattern.littleEndian
            withUnsafeBytes(of: &bits) { out.bytes.append(contentsOf: $0) }
        case .string(let s):
            out.byte(Tag.string.rawValue)
            out.string(s)
        case .array(let elements):
            out.byte(Tag.array.rawValue)
            out.varint(UInt64(elements.count))
            // Element by element through the buffer: no copy (retain/release) of each element.
            elements.withUnsafeBufferPointer { buffer in
                for i in buffer.indices { write(buffer[i], into: &out) }
            }
        case .object(let object):
            out.byte(Tag.object.rawValue)
            out.varint(UInt64(object.count))
            object.members.withUnsafeBufferPointer { buffer in
                for i in buffer.indices {
                    out.string(buffer[i].key)
                    write(buffer[i].value, into: &out)
                }
            }
        }
    }

    /// Reads a value, keeping only what `shape` names (the same value as a full read with the
    /// other members removed).
    package static func read(_ reader: inout ByteReader, depth: Int, shape: ValueShape) throws(CodecError) -> JSONValue
    {
        guard shape.members != nil else { return try read(&reader, depth: depth) }
        guard depth <= JSONText.maxDepth + 8 else { throw CodecError(problem: "value nested too deeply") }
        let start = reader.index
        guard let tag = Tag(rawValue: try reader.byte()) else { throw CodecError(problem: "unknown value tag") }
        switch tag {
        case .array:
            let count = try reader.count()
            var elements: [JSONValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try read(&reader, depth: depth + 1, shape: shape)) }
            return .array(elements)
        case .object:
            let count = try reader.count()
            var members: [JSONObject.Member] = []
            for _ in 0..<count {
                if let (key, inner) = shape.member(try reader.stringBytes()) {
                    members.append(
                        JSONObject.Member(key: key, value: try read(&reader, depth: depth + 1, shape: inner)))
                } else {
                    try skip(&reader, depth: depth + 1)
                }
            }
            return .object(JSONObject(sortedMembers: members))
        default:
            reader.index = start
            return try read(&reader, depth: depth)
        }
    }

    /// Moves past one value without building it.
    package static func skip(_ reader: inout ByteReader, depth: Int) throws(CodecError) {
        guard depth <= JSONText.maxDepth + 8 else { throw CodecError(problem: "value nested too deeply") }
        guard let tag = Tag(rawValue: try reader.byte()) else { throw CodecError(problem: "unknown value tag") }
        switch tag {
        case .null, .false, .true: return
        case .int: _ = try reader.varint()
        case .double: _ = try reader.uint64LE()
        case .string: try reader.skip(try reader.count())
        case .array:
            for _ in 0..<(try reader.count()) { try skip(&reader, depth: depth + 1) }
        case .object:
            for _ in 0..<(try reader.count()) {
                try reader.skip(try reader.count())
                try skip(&reader, depth: depth + 1)
            }
        }
    }

    package static func read(_ reader: inout ByteReader, depth: Int) throws(CodecError) -> JSONValue {
        guard depth <= JSONText.maxDepth + 8 else { throw CodecError(problem: "value nested too deeply") }
        guard let tag = Tag(rawValue: try reader.byte()) else {
            throw CodecError(problem: "unknown value tag")
        }
        switch tag {
        case .null: return .null
        case .false: return .bool(false)
        case .true: return .bool(true)
        case .int:
            let raw = try reader.varint()
            return .int(Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))))
        case .double:
            let bits = try reader.uint64LE()
            return .double(Double(bitPattern: bits))
        case .string: return .string(try reader.string())
        case .array:
            let count = try reader.count()
            var elements: [JSONValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try read(&reader, depth: depth + 1)) }
            return .array(elements)
        case .object:
            let count = try reader.count()
            var members: [JSONObject.Member] = []
            members.reserveCapacity(count)
            for _ in 0..<count {
                let key = try reader.string()
                members.append(JSONObject.Member(key: key, value: try read(&reader, depth: depth + 1)))
            }
            return .object(JSONObject(sortedMembers: members))
        }
    }
}

/// Appends fixed-width integers, varints and strings to a byte array.
package struct ByteWriter {
    @usableFromInline package var bytes: [UInt8] = []

    @inlinable package init() {}

    @inlinable package mutating func byte(_ value: UInt8) { bytes.append(value) }

    @inlinable package mutating func uint64BE(_ value: UInt64) {
        var big = value.bigEndian
        withUnsafeBytes(of: &big) { bytes.append(contentsOf: $0) }
    }

    @inlinable package mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inlinable package mutating func string(_ value: String) {
        let appended: Void? = value.utf8.withContiguousStorageIfAvailable { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
        if appended == nil {
            varint(UInt64(value.utf8.count))
            bytes.append(contentsOf: value.utf8)
        }
    }
}

/// Reads what `ByteWriter` writes, with bounds checks that throw instead of trapping.
package struct ByteReader {
    @usableFromInline package let buffer: UnsafeRawBufferPointer
    @usableFromInline package var index = 0

    @inlinable package init(buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    @inlinable package var isAtEnd: Bool { index == buffer.count }

    @inlinable package func short() -> CodecError { CodecError(problem: "record truncated") }

    @inlinable package mutating func byte() throws(CodecError) -> UInt8 {
        guard index < buffer.count else { throw short() }
        defer { index += 1 }
        return buffer[index]
    }

    @inlinable package mutating func uint64BE() throws(CodecError) -> UInt64 {
        guard index + 8 <= buffer.count else { throw short() }
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(buffer[index + i]) }
        index += 8
        return value
    }

    @inlinable package mutating func uint64LE() throws(CodecError) -> UInt64 {
        guard index + 8 <= buffer.count else { throw short() }
        var value: UInt64 = 0
        for i in (0..<8).reversed() { value = value << 8 | UInt64(buffer[index + i]) }
        index += 8
        return value
    }

    @inlinable package mutating func varint() throws(CodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw CodecError(problem: "varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    /// A count of following items, bounded by the bytes left (each item takes at least one).
    @inlinable package mutating func count() throws(CodecError) -> Int {
        let value = try varint()
        guard value <= UInt64(buffer.count - index) else { throw short() }
        return Int(value)
    }

    @inlinable package mutating func string() throws(CodecError) -> String {
        try string(length: count())
    }

    @inlinable package mutating func string(length: Int) throws(CodecError) -> String {
        guard length >= 0, length <= buffer.count - index else { throw short() }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[index..<index + length])
        index += length
        return String(decoding: slice, as: UTF8.self)
    }

    /// The bytes of a string, without building it.
    @inlinable package mutating func stringBytes() throws(CodecError) -> UnsafeRawBufferPointer {
        let length = try count()
        defer { index += length }
        return UnsafeRawBufferPointer(rebasing: buffer[index..<index + length])
    }

    @inlinable package mutating func skip(_ n: Int) throws(CodecError) {
        guard n >= 0, index + n <= buffer.count else { throw short() }
        index += n
    }

    @inlinable package mutating func bytes(_ n: Int) throws(CodecError) -> [UInt8] {
        guard index + n <= buffer.count else { throw short() }
        defer { index += n }
        return Array(buffer[index..<index + n])
    }
}
