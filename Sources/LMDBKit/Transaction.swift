internal import CLMDB

/// The access a transaction has: `ReadOnly` or `ReadWrite`.
public protocol TransactionAccess {}

/// A read-only transaction's access (`Environment.read`).
public enum ReadOnly: TransactionAccess {}

/// The write transaction's access (`Environment.write`): reads plus writes.
public enum ReadWrite: TransactionAccess {}

/// A transaction: a consistent view of the environment at one point in time, and with
/// `ReadWrite` access the environment's one writer.
///
/// Only ever lent to a closure by `Environment.read` or `Environment.write`; it cannot be copied
/// or kept, so it cannot outlive the LMDB transaction, and it is not Sendable (LMDB ties a write
/// transaction to its thread). Bytes handed to closures are valid only inside them: copy what you
/// keep. The read operations are written once, here; the writes are in the `ReadWrite` extension.
public struct Transaction<Access: TransactionAccess>: ~Copyable {
    let txn: OpaquePointer

    init(txn: OpaquePointer) { self.txn = txn }

    /// The value stored under `key`, copied out, or nil (a write transaction sees its own writes).
    public func get(_ db: Database, _ key: [UInt8]) throws -> [UInt8]? {
        try withValue(db, key) { $0.map { Array($0) } }
    }

    /// Lends the value stored under `key` (nil if absent) to `body` without copying it.
    public func withValue<T>(
        _ db: Database, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> T
    ) throws -> T {
        try key.withUnsafeBytes { (k) throws -> T in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var value = MDB_val()
            let rc = mdb_get(txn, db.dbi, &kv, &value)
            if rc == MDB_NOTFOUND { return try body(nil) }
            try check(rc, "mdb_get(\(db.name))")
            return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }
    }

    /// Visits entries in key order from `start` (or the first key), or in reverse from `start`
    /// (or the last key) downwards, until `body` returns false.
    public func scan(
        _ db: Database, from start: [UInt8]? = nil, reverse: Bool = false,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &cursor), "mdb_cursor_open(\(db.name))")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val()
        var value = MDB_val()
        var startBytes = start ?? []
        var rc: Int32 = startBytes.withUnsafeMutableBytes { buffer in
            if start != nil {
                key = MDB_val(mv_size: buffer.count, mv_data: buffer.baseAddress)
                var rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE)
                if reverse {
                    if rc == MDB_NOTFOUND {
                        rc = mdb_cursor_get(cursor, &key, &value, MDB_LAST)
                    } else if rc == 0 {
                        // SET_RANGE lands on the first key >= start; step back if it is greater.
                        let found = UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)
                        if !found.elementsEqual(UnsafeRawBufferPointer(buffer)) {
                            rc = mdb_cursor_get(cursor, &key, &value, MDB_PREV)
                        }
                    }
                }
                return rc
            }
            return mdb_cursor_get(cursor, &key, &value, reverse ? MDB_LAST : MDB_FIRST)
        }
        let step = reverse ? MDB_PREV : MDB_NEXT
        while rc == 0 {
            let k = UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)
            let v = UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size)
            if try !body(k, v) { return }
            rc = mdb_cursor_get(cursor, &key, &value, step)
        }
        if rc != MDB_NOTFOUND { try check(rc, "mdb_cursor_get(\(db.name))") }
    }

    /// The last (greatest) key and its value, copied out, or nil for an empty database.
    public func last(_ db: Database) throws -> (key: [UInt8], value: [UInt8])? {
        var result: (key: [UInt8], value: [UInt8])?
        try scan(db, reverse: true) { key, value in
            result = (Array(key), Array(value))
            return false
        }
        return result
    }

    /// The number of entries in a database.
    public func count(_ db: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.dbi, &stat), "mdb_stat(\(db.name))")
        return Int(stat.ms_entries)
    }
}

@available(*, unavailable, message: "a transaction belongs to the thread and closure it was lent to")
extension Transaction: Sendable {}

/// How `put` treats an existing key.
public struct PutFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Fail with `keyExists` if the key is present (`MDB_NOOVERWRITE`).
    public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// The key is greater than every key in the database (`MDB_APPEND`); LMDB fails with
    /// `keyExists` otherwise. Fast path for sequences.
    public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
}

extension Transaction where Access == ReadWrite {
    /// Stores `value` under `key`.
    public func put(_ db: Database, _ key: [UInt8], _ value: [UInt8], flags: PutFlags = []) throws {
        try key.withUnsafeBytes { (k) throws in
            try value.withUnsafeBytes { (v) throws in
                try put(db, key: k, value: v, flags: flags)
            }
        }
    }

    /// Stores `value` under `key`, from raw buffers.
    public func put(
        _ db: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: PutFlags = []
    ) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_put(txn, db.dbi, &k, &v, flags.rawValue), "mdb_put(\(db.name))")
    }

    /// Deletes `key`; returns false if it was absent.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { (k) throws -> Bool in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            let rc = mdb_del(txn, db.dbi, &kv, nil)
            if rc == MDB_NOTFOUND { return false }
            try check(rc, "mdb_del(\(db.name))")
            return true
        }
    }

    /// Runs `body` in a nested write transaction: committed into this one when `body` returns,
    /// aborted (leaving this one as it was) when it throws. Lets one write transaction carry
    /// several independent batches, each all or nothing.
    public func nested<T>(_ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        var child: OpaquePointer?
        try check(mdb_txn_begin(mdb_txn_env(txn), txn, 0, &child), "mdb_txn_begin(nested)")
        let result: T
        do {
            result = try body(WriteTransaction(txn: child!))
        } catch {
            mdb_txn_abort(child)
            throw error
        }
        try check(mdb_txn_commit(child), "mdb_txn_commit(nested)")
        return result
    }

    /// Removes every entry of a database, keeping the database.
    public func clear(_ db: Database) throws {
        try check(mdb_drop(txn, db.dbi, 0), "mdb_drop(\(db.name))")
    }
}

/// A read-only transaction (the name the rest of the code uses).
public typealias ReadTransaction = Transaction<ReadOnly>

/// The write transaction (the name the rest of the code uses).
public typealias WriteTransaction = Transaction<ReadWrite>
