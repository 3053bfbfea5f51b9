import Glibc

/// Microseconds since the Unix epoch, UTC: the time an event was recorded.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var microseconds: Int64

    /// Creates a timestamp.
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// The current wall-clock time.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-27T11:33:34.123456Z`.
    public var description: String { RFC3339.format(self) }
}

/// What happened to an object.
public enum ChangeType: String, Sendable, Hashable, Codable {
    case upsert
    case delete
}

/// A SHA-256 digest: an event's checksum, the chain link to its predecessor, a state digest.
public struct Digest: Sendable, Hashable, CustomStringConvertible {
    /// The 32 bytes.
    public var bytes: [UInt8]

    /// Wraps 32 bytes.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a digest has 32 bytes")
        self.bytes = bytes
    }

    /// Parses 64 hex digits; nil when `hex` is not a digest.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    /// The digest before the first event: 32 zero bytes.
    public static let zero = Digest(bytes: [UInt8](repeating: 0, count: 32))

    /// Lower-case hex.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
}

/// One entry of the append-only log (docs/domain.md section 3).
public struct Event: Sendable, Hashable {
    /// Gapless global sequence number, from 1.
    public var sequence: UInt64
    /// Wall-clock time of the append (never read by projections except as data).
    public var recordedAt: Timestamp
    /// discovery, user or controller.
    public var source: EventSource
    /// Who: a user name or an agent id.
    public var actor: String
    /// The group recorded with a change made by impersonation, naming who impersonated
    /// (`meshledger.dev/impersonated-by=USER`); an identity cannot claim such a group.
    public static let impersonatorGroupPrefix = "meshledger.dev/impersonated-by="
    /// The actor's groups, when an authenticated identity wrote it (empty otherwise).
    public var groups: [String] = []
    /// The client that made the change, when an API write named it (its `fieldManager`, or its
    /// User-Agent's program): `kubectl-annotate`, `kopf`. Nil for other writes.
    public var manager: String?
    /// The cluster the object came from, where known.
    public var originCluster: String?
    /// The object's kind, namespace and name.
    public var key: ObjectKey
    /// upsert or delete.
    public var change: ChangeType
    /// The object's generation after this event (user kinds; 0 for discovery kinds).
    public var generation: UInt64
    /// The full object as applied (for a delete: as it last was).
    public var object: JSONValue
    /// The checksum of the previous event (the hash chain), zero for event 1.
    public var previousDigest: Digest
    /// SHA-256 over this event's encoded body, which includes `previousDigest`.
    public var checksum: Digest

    /// Creates an event; `checksum` is filled in by the codec when it is encoded.
    public init(
        sequence: UInt64, recordedAt: Timestamp, source: EventSource, actor: String, originCluster: String?,
        key: ObjectKey, change: ChangeType, generation: UInt64, object: JSONValue,
        previousDigest: Digest = .zero, checksum: Digest = .zero, groups: [String] = [], manager: String? = nil
    ) {
        self.manager = manager
        self.sequence = sequence
        self.recordedAt = recordedAt
        self.source = source
        self.actor = actor
        self.groups = groups
        self.originCluster = originCluster
        self.key = key
        self.change = change
        self.generation = generation
        self.object = object
        self.previousDigest = previousDigest
        self.checksum = checksum
    }
}
