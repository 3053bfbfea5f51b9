public import MeshModel

import struct Crypto.SHA256

/// The storage encoding of events, format 1 (see docs/decisions/0002-event-encoding.md).
///
/// A stored record is `body ‖ checksum`, where `checksum = SHA-256(body)` and the body is:
///
/// ```
/// u8  format (1; 2 when the actor has groups: then a varint count and `str` groups follow the
///     actor; 3 when the change names its client: then the groups, and an `optstr` manager)
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
    public typealias DecodeError = CodecError

    /// Encodes `event` (its `checksum` is ignored) and returns the record bytes and the checksum.
    /// `packedObject`, when given, must be `PackedValue.encode(event.object)` (saves encoding twice).
    public static func encode(_ event: Event, packedObject: [UInt8]? = nil) -> (record: [UInt8], checksum: Digest) {
        var out = ByteWriter()
        out.bytes.reserveCapacity(512)
        // Format 2 only when there are groups, 3 only with a manager, so that events without them
        // keep format 1's bytes.
        let version: UInt8 = event.manager != nil ? 3 : event.groups.isEmpty ? format : 2
        out.byte(version)
        out.uint64BE(event.sequence)
        out.uint64BE(UInt64(bitPattern: event.recordedAt.microseconds))
        out.byte(sourceCode(event.source))
        out.byte(event.change == .upsert ? 0 : 1)
        out.varint(event.generation)
        out.string(event.actor)
        if version >= 2 {
            out.varint(UInt64(event.groups.count))
            for group in event.groups { out.string(group) }
        }
        if version == 3 {
            out.varint(UInt64(event.manager?.utf8.count ?? 0) + 1)
            out.bytes.append(contentsOf: (event.manager ?? "").utf8)
        }
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
    /// The object of a kind in `shapes` keeps only what its shape names (for a reader that reads
    /// no more, such as a fold: `Projection.foldShapes`); the checksum covers the whole record.
    public static func decode(
        _ record: UnsafeRawBufferPointer, verify: Bool = false, objects shapes: [ResourceKind: ValueShape] = [:]
    ) throws(DecodeError) -> Event {
        guard record.count > 64 + 20 else { throw DecodeError(problem: "record too short (\(record.count) bytes)") }
        let body = UnsafeRawBufferPointer(rebasing: record[0..<record.count - 32])
        let stored = Digest(bytes: Array(record[(record.count - 32)...]))
        if verify {
            let computed = Array(SHA256.hash(data: body))
            if computed != stored.bytes { throw DecodeError(problem: "checksum mismatch") }
        }
        var reader = ByteReader(buffer: body)
        let version = try reader.byte()
        guard (1...3).contains(version) else { throw DecodeError(problem: "unknown event format \(version)") }
        let sequence = try reader.uint64BE()
        let recordedAt = Timestamp(microseconds: Int64(bitPattern: try reader.uint64BE()))
        let source = try sourceFromCode(reader.byte())
        let changeCode = try reader.byte()
        guard changeCode <= 1 else { throw DecodeError(problem: "unknown change type \(changeCode)") }
        let generation = try reader.varint()
        let actor = try reader.string()
        var groups: [String] = []
        if version >= 2 {
            for _ in 0..<(try reader.count()) { groups.append(try reader.string()) }
        }
        var manager: String?
        if version == 3 {
            let length = try reader.varint()
            guard length > 0 else { throw DecodeError(problem: "a format 3 event without its manager") }
            manager = try reader.string(length: Int(clamping: length - 1))
        }
        let clusterLength = try reader.varint()
        let originCluster: String? =
            clusterLength == 0 ? nil : try reader.string(length: Int(clamping: clusterLength - 1))
        let kindName = try reader.string()
        guard let kind = ResourceKind(rawValue: kindName) else {
            throw DecodeError(problem: "unknown kind \(kindName)")
        }
        let namespace = try reader.string()
        let name = try reader.string()
        let object = try PackedValue.read(&reader, depth: 0, shape: shapes[kind] ?? .all)
        let previous = try reader.bytes(32)
        guard reader.isAtEnd else { throw DecodeError(problem: "trailing bytes in record") }
        return Event(
            sequence: sequence, recordedAt: recordedAt, source: source, actor: actor, originCluster: originCluster,
            key: ObjectKey(kind: kind, namespace: namespace, name: name), change: changeCode == 0 ? .upsert : .delete,
            generation: generation, object: object, previousDigest: Digest(bytes: previous), checksum: stored,
            groups: groups, manager: manager)
    }

    /// Decodes a record held in an array.
    public static func decode(
        _ record: [UInt8], verify: Bool = false, objects shapes: [ResourceKind: ValueShape] = [:]
    ) throws -> Event {
        try record.withUnsafeBytes { buffer in try decode(buffer, verify: verify, objects: shapes) }
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
