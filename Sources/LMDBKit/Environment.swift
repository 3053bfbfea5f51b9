internal import CLMDB
internal import Glibc
internal import Synchronization

/// A named database inside an environment, opened once when the environment opens.
public struct Database: Sendable, Hashable {
    let dbi: UInt32
    /// The database's name.
    public let name: String
}

/// One LMDB environment (a store directory) in this process.
///
/// There is at most one `Environment` per path per process, as LMDB requires: `open` hands back
/// the instance already open for a path. Reads run in closure-scoped read transactions
/// (`MDB_NOTLS`, so any thread may read), writes in closure-scoped write transactions behind one
/// writer lock. A write that hits `MDB_MAP_FULL` is aborted, the map is doubled and the whole
/// closure runs again, so a write closure must not have side effects outside the transaction.
public final class Environment: @unchecked Sendable {
    // @unchecked Sendable: the LMDB handle is safe to share across threads with MDB_NOTLS; the one
    // writer is serialised by `writerLock`, and map resizes by the exclusive side of `mapLock`.

    /// How to open an environment.
    public struct Options: Sendable {
        /// The map size to set when opening; grown automatically on `MDB_MAP_FULL`. Default 64 MiB.
        public var mapSize: Int = 64 << 20
        /// The largest the map may grow to automatically. Default 1 TiB.
        public var maxMapSize: Int = 1 << 40
        /// The named databases to open (created if missing and writable).
        public var databases: [String] = []
        /// Those of `databases` that a read-only open accepts missing (added by a later version
        /// of the store: `databaseIfPresent` answers nil for them).
        public var optionalDatabases: Set<String> = []
        /// Open read-only: no writes, no lock file writes where the medium is read-only.
        public var readOnly: Bool = false
        /// Maximum number of concurrent reader slots.
        public var maxReaders: UInt32 = 126
        /// Skip fsync at commit (`MDB_NOSYNC`); only for benchmarks and tests that say so.
        public var noSync: Bool = false
        /// Sync data but not the meta page at commit (`MDB_NOMETASYNC`): a system crash may undo
        /// the last transaction, never corrupt the environment.
        public var noMetaSync: Bool = false
        /// Creates the default options.
        public init() {}
    }

    /// Size and usage figures from `mdb_env_info` and `mdb_env_stat`.
    public struct Info: Sendable {
        /// The current map size in bytes.
        public let mapSize: Int
        /// The last used page number.
        public let lastPage: Int
        /// The page size in bytes.
        public let pageSize: Int
        /// The ID of the last committed transaction.
        public let lastTransaction: Int
        /// Reader slots in use.
        public let readersInUse: Int
    }

    /// The directory the environment lives in.
    public let path: String
    /// The options it was opened with.
    public let options: Options
    /// True when opened without the lock file (a read-only copy on a medium we cannot write).
    public let isLockless: Bool

    let env: OpaquePointer
    private let handles: [String: Database]
    private let writerLock = ReadWriteLock()
    private let mapLock = ReadWriteLock()
    private let currentMapSize: Atomic<Int>

    private static let registry = Mutex<[String: WeakEnvironment]>([:])

    /// Creates the directory `path` (owner only) and any missing parent, as `mkdir -p` (and etcd's
    /// `--data-dir`) do; an existing one is fine.
    static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw LMDBError(code: .init(rawValue: errno), operation: "mkdir(\(prefix))")
            }
            prefix += "/"
        }
    }

    /// Opens (or returns the already open) environment at `path`, creating the directory (and its
    /// parents) when writable and missing.
    public static func open(path: String, options: Options = Options()) throws -> Environment {
        if !options.readOnly { try makeDirectory(path) }
        guard let real = realpath(path, nil) else {
            throw LMDBError(code: .init(rawValue: errno), operation: "open(\(path))")
        }
        let key = String(cString: real)
        free(real)
        return try registry.withLock { (registry) throws -> Environment in
            if let existing = registry[key]?.value {
                if existing.options.readOnly && !options.readOnly {
                    throw LMDBError(
                        code: .invalidArgument, operation: "open(\(path))",
                        message: "already open read-only in this process")
                }
                return existing
            }
            let environment = try Environment(path: key, options: options)
            registry[key] = WeakEnvironment(value: environment)
            return environment
        }
    }

    private init(path: String, options: Options) throws {
        self.path = path
        self.options = options
        var handle: OpaquePointer?
        try check(mdb_env_create(&handle), "mdb_env_create")
        guard let env = handle else { throw LMDBError(code: .invalidArgument, operation: "mdb_env_create") }
        var flags = UInt32(MDB_NOTLS)
        if options.readOnly { flags |= UInt32(MDB_RDONLY) }
        if options.noSync { flags |= UInt32(MDB_NOSYNC) }
        if options.noMetaSync { flags |= UInt32(MDB_NOMETASYNC) }
        do {
            try check(mdb_env_set_maxdbs(env, UInt32(max(options.databases.count, 1))), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, options.maxReaders), "mdb_env_set_maxreaders")
            try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize")
            var rc = mdb_env_open(env, path, flags, 0o600)
            var lockless = false
            if rc == EACCES && options.readOnly {
                // A copy on media we cannot write (no lock file possible): read it without locks.
                rc = mdb_env_open(env, path, flags | UInt32(MDB_NOLOCK), 0o600)
                lockless = true
            }
            try check(rc, "mdb_env_open(\(path))")
            self.isLockless = lockless
            if !lockless {
                var dead: Int32 = 0
                _ = mdb_reader_check(env, &dead)
            }
            // Another process may have grown the map: adopt the size recorded in the file.
            try check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize")
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            self.currentMapSize = Atomic(info.me_mapsize)
            self.handles = try Environment.openDatabases(
                env, names: options.databases, optional: options.optionalDatabases, create: !options.readOnly)
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.env = env
    }

    deinit {
        mdb_env_close(env)
    }

    private static func openDatabases(
        _ env: OpaquePointer, names: [String], optional: Set<String>, create: Bool
    ) throws -> [String: Database] {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, create ? 0 : UInt32(MDB_RDONLY), &txn), "mdb_txn_begin")
        var result: [String: Database] = [:]
        for name in names {
            var dbi: MDB_dbi = 0
            let rc = mdb_dbi_open(txn, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
            if rc == MDB_NOTFOUND && optional.contains(name) { continue }
            if rc != 0 {
                mdb_txn_abort(txn)
                throw LMDBError(code: .init(rawValue: rc), operation: "mdb_dbi_open(\(name))")
            }
            result[name] = Database(dbi: dbi, name: name)
        }
        let rc = mdb_txn_commit(txn)
        try check(rc, "mdb_txn_commit(open databases)")
        return result
    }

    /// The handle of a named database given in `Options.databases`, nil when it is one of
    /// `Options.optionalDatabases` and the store (opened read-only) does not have it.
    public func databaseIfPresent(_ name: String) -> Database? { handles[name] }

    /// The handle of a named database given in `Options.databases`.
    public func database(_ name: String) -> Database {
        guard let handle = handles[name] else {
            preconditionFailure("database \(name) was not listed in Environment.Options.databases")
        }
        return handle
    }

    /// Runs `body` in a read transaction that sees one consistent snapshot of the environment.
    public func read<T>(_ body: (borrowing ReadTransaction) throws -> T) throws -> T {
        while true {
            let outcome: T? = try mapLock.withShared {
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { return nil }
                try check(rc, "mdb_txn_begin(read)")
                defer { mdb_txn_abort(txn) }
                return .some(try body(ReadTransaction(txn: txn!)))
            }
            if let outcome { return outcome }
            try adoptGrownMap()
        }
    }

    /// Runs `body` in the single write transaction and commits it when `body` returns (`commit`
    /// false: aborts it instead, a dry run that keeps only what `body` returns).
    ///
    /// When the map is full, the transaction is aborted, the map size doubled and `body` run again
    /// from the start: all or nothing of what `body` writes is committed, once.
    public func write<T>(commit: Bool = true, _ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        if options.readOnly {
            throw LMDBError(code: .permissionDenied, operation: "write", message: "the store is open read-only")
        }
        return try writerLock.withExclusive {
            while true {
                do {
                    let outcome: T? = try mapLock.withShared {
                        var txn: OpaquePointer?
                        let rc = mdb_txn_begin(env, nil, 0, &txn)
                        if rc == MDB_MAP_RESIZED { return nil }
                        try check(rc, "mdb_txn_begin(write)")
                        let result: T
                        do {
                            result = try body(WriteTransaction(txn: txn!))
                        } catch {
                            mdb_txn_abort(txn)
                            throw error
                        }
                        if commit {
                            try check(mdb_txn_commit(txn), "mdb_txn_commit")
                        } else {
                            mdb_txn_abort(txn)
                        }
                        return .some(result)
                    }
                    if let outcome { return outcome }
                    try adoptGrownMap()
                } catch let error as LMDBError where error.code == .mapFull {
                    try grow(after: error)
                }
            }
        }
    }

    /// Doubles the map size (no transaction of this process may be active: takes the map lock).
    private func grow(after error: LMDBError) throws {
        let current = currentMapSize.load(ordering: .relaxed)
        let next = current * 2
        guard next <= options.maxMapSize else { throw error }
        try mapLock.withExclusive {
            try check(mdb_env_set_mapsize(env, next), "mdb_env_set_mapsize(\(next))")
        }
        currentMapSize.store(next, ordering: .relaxed)
    }

    /// Adopts a map size grown by another process (`MDB_MAP_RESIZED`), with every transaction
    /// of this process closed, as LMDB requires.
    private func adoptGrownMap() throws {
        try mapLock.withExclusive {
            try check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize(0)")
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            currentMapSize.store(info.me_mapsize, ordering: .relaxed)
        }
    }

    /// Size and usage figures.
    public var info: Info {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        var stat = MDB_stat()
        mdb_env_stat(env, &stat)
        return Info(
            mapSize: info.me_mapsize, lastPage: info.me_last_pgno, pageSize: Int(stat.ms_psize),
            lastTransaction: info.me_last_txnid, readersInUse: Int(info.me_numreaders))
    }

    /// Writes a consistent copy of the environment into the empty directory `path`
    /// (`mdb_env_copy2`), compacting it when asked. Writers may run meanwhile.
    public func copy(to path: String, compact: Bool = true) throws {
        try Environment.makeDirectory(path)
        try check(mdb_env_copy2(env, path, compact ? UInt32(MDB_CP_COMPACT) : 0), "mdb_env_copy2(\(path))")
        // liblmdb creates the copy with mode 0666 less the umask; the store is its owner's alone.
        if chmod(path + "/data.mdb", 0o600) != 0 {
            throw LMDBError(code: .init(rawValue: errno), operation: "chmod(\(path)/data.mdb)")
        }
    }

    /// Clears reader slots left by processes that died; returns how many were cleared.
    @discardableResult
    public func clearStaleReaders() -> Int {
        var dead: Int32 = 0
        _ = mdb_reader_check(env, &dead)
        return Int(dead)
    }

    /// Flushes buffers to disk (`mdb_env_sync`), for environments opened with `noSync`.
    public func sync() throws {
        try check(mdb_env_sync(env, 1), "mdb_env_sync")
    }
}

private struct WeakEnvironment {
    weak var value: Environment?
}

/// A reader-writer lock over `pthread_rwlock_t`, for map resizes that need every transaction of
/// this process closed.
final class ReadWriteLock: @unchecked Sendable {
    // @unchecked Sendable: pthread_rwlock_t is designed to be shared between threads.
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func withShared<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func withExclusive<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
