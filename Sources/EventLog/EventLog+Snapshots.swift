internal import LMDBKit
public import MeshModel

import struct Crypto.SHA256

/// Snapshot storage: opaque payloads of the projection state at a sequence, in the `snapshots`
/// database (key: 8-byte big-endian sequence). A record is
/// `format (u8) ‖ sequence (u64) ‖ state digest (32) ‖ payload ‖ SHA-256 of all before it (32)`.
/// The log does not interpret payloads; it only stores them and says whether their bytes are intact.
extension EventLog {
    /// A stored snapshot's header.
    public struct SnapshotInfo: Sendable, Hashable {
        /// The sequence it was taken at.
        public let sequence: UInt64
        /// Its projection format version.
        public let format: UInt8
        /// The state digest it claims.
        public let digest: Digest
        /// Size of the record in bytes.
        public let size: Int
        /// Whether the record's checksum holds.
        public let intact: Bool
    }

    /// Stores a snapshot (replacing one at the same sequence).
    public func writeSnapshot(sequence: UInt64, format: UInt8, digest: Digest, payload: [UInt8]) throws {
        var record: [UInt8] = [format]
        record += EventLog.sequenceKey(sequence)
        record += digest.bytes
        record += payload
        record += Array(SHA256.hash(data: record))
        try environment.write { txn in try txn.put(snapshots, EventLog.sequenceKey(sequence), record) }
    }

    /// Every stored snapshot, oldest first.
    public func snapshotInfos() throws -> [SnapshotInfo] {
        try environment.read { txn in
            var infos: [SnapshotInfo] = []
            try txn.scan(snapshots) { key, value in
                if let info = EventLog.snapshotInfo(key, value) { infos.append(info) }
                return true
            }
            return infos
        }
    }

    /// The newest stored snapshot whose header `usable` accepts, read newest first: the search
    /// stops at the first one, and the older records are not read or checksummed.
    public func newestSnapshot(where usable: (SnapshotInfo) -> Bool) throws -> SnapshotInfo? {
        try environment.read { txn in
            var found: SnapshotInfo?
            try txn.scan(snapshots, reverse: true) { key, value in
                guard let info = EventLog.snapshotInfo(key, value), usable(info) else { return true }
                found = info
                return false
            }
            return found
        }
    }

    /// The snapshots at or before `sequence`, newest first, with their payloads (nil payload when
    /// the record is not intact). Callers try them in order.
    public func snapshots(
        atOrBefore sequence: UInt64, limit: Int = 8
    ) throws -> [(info: SnapshotInfo, payload: [UInt8]?)] {
        try environment.read { txn in
            var found: [(SnapshotInfo, [UInt8]?)] = []
            try txn.scan(snapshots, from: EventLog.sequenceKey(sequence), reverse: true) { key, value in
                guard let info = EventLog.snapshotInfo(key, value) else { return true }
                let payload = info.intact ? Array(value[41..<(value.count - 32)]) : nil
                found.append((info, payload))
                return found.count < limit
            }
            return found
        }
    }

    /// Deletes the snapshot at `sequence`; returns whether there was one.
    @discardableResult
    public func deleteSnapshot(_ sequence: UInt64) throws -> Bool {
        try environment.write { txn in try txn.delete(snapshots, EventLog.sequenceKey(sequence)) }
    }

    /// Overwrites a stored snapshot record's bytes (tests use it to simulate corruption).
    public func replaceSnapshotRecord(_ sequence: UInt64, _ transform: ([UInt8]) -> [UInt8]) throws {
        try environment.write { txn in
            guard let record = try txn.get(snapshots, EventLog.sequenceKey(sequence)) else { return }
            try txn.put(snapshots, EventLog.sequenceKey(sequence), transform(record))
        }
    }

    static func snapshotInfo(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> SnapshotInfo? {
        guard key.count == 8 else { return nil }
        let sequence = decodeUInt64(key)
        guard value.count >= 1 + 8 + 32 + 32 else {
            return SnapshotInfo(sequence: sequence, format: 0, digest: .zero, size: value.count, intact: false)
        }
        let body = UnsafeRawBufferPointer(rebasing: value[0..<(value.count - 32)])
        let intact =
            Array(SHA256.hash(data: body)) == Array(value[(value.count - 32)...])
            && decodeUInt64(value[1..<9]) == sequence
        return SnapshotInfo(
            sequence: sequence, format: value[0], digest: Digest(bytes: Array(value[9..<41])), size: value.count,
            intact: intact)
    }
}
