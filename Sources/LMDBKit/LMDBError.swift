internal import CLMDB

/// An error reported by liblmdb, or by this layer's own checks around it.
///
/// Carries LMDB's return code, its message (`mdb_strerror`) and the operation that failed,
/// in the style of a result code with a human message.
public struct LMDBError: Error, CustomStringConvertible, Sendable, Equatable {
    /// An LMDB return code (an `MDB_*` error or an `errno` value).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The raw return code as liblmdb gives it.
        public let rawValue: Int32
        /// Wraps a raw return code.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `MDB_KEYEXIST`: key/data pair already exists.
        public static let keyExists = Code(rawValue: MDB_KEYEXIST)
        /// `MDB_NOTFOUND`: no matching key/data pair found.
        public static let notFound = Code(rawValue: MDB_NOTFOUND)
        /// `MDB_CORRUPTED`: located page was wrong type.
        public static let corrupted = Code(rawValue: MDB_CORRUPTED)
        /// `MDB_VERSION_MISMATCH`: environment version mismatch.
        public static let versionMismatch = Code(rawValue: MDB_VERSION_MISMATCH)
        /// `MDB_INVALID`: file is not an LMDB file.
        public static let invalid = Code(rawValue: MDB_INVALID)
        /// `MDB_MAP_FULL`: environment mapsize reached.
        public static let mapFull = Code(rawValue: MDB_MAP_FULL)
        /// `MDB_DBS_FULL`: environment maxdbs reached.
        public static let databasesFull = Code(rawValue: MDB_DBS_FULL)
        /// `MDB_READERS_FULL`: environment maxreaders reached.
        public static let readersFull = Code(rawValue: MDB_READERS_FULL)
        /// `MDB_TXN_FULL`: transaction has too many dirty pages.
        public static let transactionFull = Code(rawValue: MDB_TXN_FULL)
        /// `MDB_MAP_RESIZED`: another process grew the map beyond this one's size.
        public static let mapResized = Code(rawValue: MDB_MAP_RESIZED)
        /// `MDB_BAD_VALSIZE`: unsupported size of key/DB name/data.
        public static let badValueSize = Code(rawValue: MDB_BAD_VALSIZE)
        /// `ENOENT`: no such file or directory.
        public static let noSuchFile = Code(rawValue: 2)
        /// `EACCES`: permission denied.
        public static let permissionDenied = Code(rawValue: 13)
        /// `EINVAL`: invalid argument (this layer uses it for misuse it detects itself).
        public static let invalidArgument = Code(rawValue: 22)

        public var description: String { "\(rawValue)" }
    }

    /// The LMDB return code.
    public let code: Code
    /// LMDB's message for the code, or this layer's.
    public let message: String
    /// What was being done, e.g. `mdb_put(events)`.
    public let operation: String

    /// Creates an error from a code, with LMDB's own message for it unless one is given.
    public init(code: Code, operation: String, message: String? = nil) {
        self.code = code
        self.operation = operation
        self.message = message ?? String(cString: mdb_strerror(code.rawValue))
    }

    public var description: String { "\(operation): \(message) (LMDB code \(code.rawValue))" }
}

/// Throws an `LMDBError` for a non-zero liblmdb return code.
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
    if rc != 0 { throw LMDBError(code: .init(rawValue: rc), operation: operation()) }
}
