import Crypto
public import MeshModel

/// The storage encoding of events, format 1 (see docs/decisions/0002-event-encoding.md).
///
/// A stored record is `body ‖ checksum`, where `checksum = SHA-256(body)` and the body is:
///
/// ```
/// u8  format (1)
/// u64 sequence (big-endian)          i64 recordedAt µs (big-endian)
/// u8  source                          u8  change
/// varint generation
/// str actor   optstr originCluster   str kind   str namespace   str name
/// value object                        (packed JSON value, below)
/// [32] previous event's checksum      (the hash chain)
/// ```
///
/// `str` is a varint length and UTF-8 bytes; `optstr` is a varint length + 1, 0 for none.
/// A packed value is a tag byte then: null/false/true nothing; int a zig-zag varint; double 8
/// bytes (little-endian IEEE 754); string a `str`; array a varint count and values; object a
/// varint count and (`str` key, value) pairs in key order. Every field of the object is kept.
public enum EventCodec {
    /// The format byte written by this version.
    public static let format: UInt8 = 1

    /// Why a record could not be decoded.
    public struct DecodeError: Error, Sendable, CustomStringConvertible {
        /// What is wrong.
        public let problem: String
        public var description: String { problem }
    }

    /// Encodes `event` (its `checksum` is ignored) and returns the record bytes and the checksum.
    /// `packedObject`, when given, must be `PackedValue.encode(event.object)` (saves encoding twice).
    public static func encode(_ event: Event, packedObject: [UInt8]? = nil) -> (record: [UInt8], checksum: Digest) {
        var out = ByteWriter()
        out.bytes.reserveCapacity(512)
        out.byte(format)
        out.uint64BE(event.sequence)
        out.uint64BE(UInt64(bitPattern: event.recordedAt.microseconds))
        out.byte(sourceCode(event.source))
        out.byte(event.change == .upsert ? 0 : 1)
        out.varint(event.generation)
        out.string(event.actor)
        if let cluster = event.originCluster {
            out.varint(UInt64(cluster.utf8.count) + 1)
            out.bytes.append(contentsOf: cluster.utf8)
        } else {
            out.varint(0)
        }
        out.string(event.key.kind.rawValue)
        out.string(event.key.namespace)
        out.string(event.key.name)
        if let packedObject {
            out.bytes.append(contentsOf: packedObject)
        } else {
            PackedValue.write(event.object, into: &out)
        }
        out.bytes.append(contentsOf: event.previousDigest.bytes)
        let checksum = Digest(bytes: Array(SHA256.hash(data: out.bytes)))
        out.bytes.append(contentsOf: checksum.bytes)
        return (out.bytes, checksum)
    }

    /// Decodes a stored record; `verify` also recomputes the checksum and fails on a mismatch.
    public static func decode(_ record: UnsafeRawBufferPointer, verify: Bool = false) throws(DecodeError) -> Event {
        guard record.count > 64 + 20 else { throw DecodeError(problem: "record too short (\(record.count) bytes)") }
        let body = UnsafeRawBufferPointer(rebasing: record[0..<record.count - 32])
        let stored = Digest(bytes: Array(record[(record.count - 32)...]))
        if verify {
            let computed = Array(SHA256.hash(data: body))
            if computed != stored.bytes { throw DecodeError(problem: "checksum mismatch") }
        }
        var reader = ByteReader(buffer: body)
        let version = try reader.byte()
        guard version == format else { throw DecodeError(problem: "unknown event format \(version)") }
        let sequence = try reader.uint64BE()
        let recordedAt = Timestamp(microseconds: Int64(bitPattern: try reader.uint64BE()))
        let source = try sourceFromCode(reader.byte())
        let changeCode = try reader.byte()
        guard changeCode <= 1 else { throw DecodeError(problem: "unknown change type \(changeCode)") }
        let generation = try reader.varint()
        let actor = try reader.string()
        let clusterLength = try reader.varint()
        let originCluster: String? = clusterLength == 0 ? nil : try reader.string(length: Int(clusterLength - 1))
        let kindName = try reader.string()
        guard let kind = ResourceKind(rawValue: kindName) else {
            throw DecodeError(problem: "unknown kind \(kindName)")
        }
        let namespace = try reader.string()
        let name = try reader.string()
        let object = try PackedValue.read(&reader, depth: 0)
        let previous = try reader.bytes(32)
        guard reader.isAtEnd else { throw DecodeError(problem: "trailing bytes in record") }
        return Event(
            sequence: sequence, recordedAt: recordedAt, source: source, actor: actor, originCluster: originCluster,
            key: ObjectKey(kind: kind, namespace: namespace, name: name), change: changeCode == 0 ? .upsert : .delete,
            generation: generation, object: object, previousDigest: Digest(bytes: previous), checksum: stored)
    }

    /// Decodes a record held in an array.
    public static func decode(_ record: [UInt8], verify: Bool = false) throws -> Event {
        try record.withUnsafeBytes { buffer in try decode(buffer, verify: verify) }
    }

    /// The checksum stored at the end of a record, without decoding it.
    public static func storedChecksum(_ record: UnsafeRawBufferPointer) -> Digest? {
        guard record.count >= 32 else { return nil }
        return Digest(bytes: Array(record[(record.count - 32)...]))
    }

    private static func sourceCode(_ source: EventSource) -> UInt8 {
        switch source {
        case .discovery: 0
        case .user: 1
        case .controller: 2
        }
    }

    private static func sourceFromCode(_ code: UInt8) throws(DecodeError) -> EventSource {
        switch code {
        case 0: .discovery
        case 1: .user
        case 2: .controller
        default: throw DecodeError(problem: "unknown source \(code)")
        }
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
    static func encode(_ value: JSONValue, locating member: String) -> (bytes: [UInt8], member: Range<Int>?) {
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

    /// Decodes a value encoded by `encode`.
    public static func decode(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer: buffer)
            let value = try read(&reader, depth: 0)
            guard reader.isAtEnd else { throw EventCodec.DecodeError(problem: "trailing bytes after value") }
            return value
        }
    }

    static func write(_ value: JSONValue, into out: inout ByteWriter) {
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

    static func read(_ reader: inout ByteReader, depth: Int) throws(EventCodec.DecodeError) -> JSONValue {
        guard depth <= JSONText.maxDepth + 8 else { throw EventCodec.DecodeError(problem: "value nested too deeply") }
        guard let tag = Tag(rawValue: try reader.byte()) else {
            throw EventCodec.DecodeError(problem: "unknown value tag")
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
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func uint64BE(_ value: UInt64) {
        var big = value.bigEndian
        withUnsafeBytes(of: &big) { bytes.append(contentsOf: $0) }
    }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func string(_ value: String) {
        let appended = value.utf8.withContiguousStorageIfAvailable { utf8 in
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
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    var index = 0

    var isAtEnd: Bool { index == buffer.count }

    private func short() -> EventCodec.DecodeError { EventCodec.DecodeError(problem: "record truncated") }

    mutating func byte() throws(EventCodec.DecodeError) -> UInt8 {
        guard index < buffer.count else { throw short() }
        defer { index += 1 }
        return buffer[index]
    }

    mutating func uint64BE() throws(EventCodec.DecodeError) -> UInt64 {
        guard index + 8 <= buffer.count else { throw short() }
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(buffer[index + i]) }
        index += 8
        return value
    }

    mutating func uint64LE() throws(EventCodec.DecodeError) -> UInt64 {
        guard index + 8 <= buffer.count else { throw short() }
        var value: UInt64 = 0
        for i in (0..<8).reversed() { value = value << 8 | UInt64(buffer[index + i]) }
        index += 8
        return value
    }

    mutating func varint() throws(EventCodec.DecodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw EventCodec.DecodeError(problem: "varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    /// A count of following items, bounded by the bytes left (each item takes at least one).
    mutating func count() throws(EventCodec.DecodeError) -> Int {
        let value = try varint()
        guard value <= UInt64(buffer.count - index) else { throw short() }
        return Int(value)
    }

    mutating func string() throws(EventCodec.DecodeError) -> String {
        try string(length: count())
    }

    mutating func string(length: Int) throws(EventCodec.DecodeError) -> String {
        guard length >= 0, index + length <= buffer.count else { throw short() }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[index..<index + length])
        index += length
        return String(decoding: slice, as: UTF8.self)
    }

    mutating func bytes(_ n: Int) throws(EventCodec.DecodeError) -> [UInt8] {
        guard index + n <= buffer.count else { throw short() }
        defer { index += n }
        return Array(buffer[index..<index + n])
    }
}
