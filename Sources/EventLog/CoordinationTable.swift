import Glibc
internal import LMDBKit
public import MeshModel

/// Coordination objects (Kubernetes Leases and ConfigMaps): the current state of each, kept
/// beside the log in an LMDB environment of their own (`<store>/coordination`), with no history.
///
/// A leader renews its Lease every few seconds: as events, a year of one leader's renewals would
/// be fifteen million entries in the audit log, about nothing anyone audits. So these objects are
/// not events (decision 0017): they have their own version counter (their `resourceVersion`),
/// writes are compare-and-swap on it, and a delete forgets the object.
public final class CoordinationTable: Sendable {
    /// The key of an object: its kind (`Lease`, `ConfigMap`), namespace and name.
    public struct Key: Sendable, Hashable, Comparable {
        /// `Lease` or `ConfigMap`.
        public var kind: String
        /// The namespace.
        public var namespace: String
        /// The name.
        public var name: String

        /// Names an object.
        public init(kind: String, namespace: String, name: String) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
        }

        var bytes: [UInt8] { Array("\(kind)\u{0}\(namespace)\u{0}\(name)".utf8) }

        init?(bytes: [UInt8]) {
            let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            self.init(
                kind: String(decoding: parts[0], as: UTF8.self), namespace: String(decoding: parts[1], as: UTF8.self),
                name: String(decoding: parts[2], as: UTF8.self))
        }

        public static func < (a: Key, b: Key) -> Bool { (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name) }
    }

    let environment: Environment
    let objects: Database
    let meta: Database
    static let versionKey = Array("version".utf8)

    /// Opens (creating, unless `readOnly`) the table at `path`.
    public init(path: String, readOnly: Bool = false) throws {
        if !readOnly { mkdir(path, 0o755) }
        var options = Environment.Options()
        options.databases = ["objects", "meta"]
        options.readOnly = readOnly
        options.mapSize = 16 << 20
        do {
            environment = try Environment.open(path: path, options: options)
        } catch let error as LMDBError {
            throw LogError(
                .storage, "cannot open the coordination table at \(path): \(error.message)", underlying: error)
        }
        objects = environment.database("objects")
        meta = environment.database("meta")
    }

    /// The table's version: that of its last write (0 before any).
    public func version() throws -> UInt64 {
        try storage {
            try environment.read { txn in try txn.get(meta, Self.versionKey).map(EventLog.decodeUInt64) ?? 0 }
        }
    }

    /// The object, with its `metadata.resourceVersion`; nil when there is none.
    public func get(_ key: Key) throws -> JSONValue? {
        try storage { try environment.read { txn in try txn.get(objects, key.bytes).map(Self.decode) } }
    }

    /// The objects of a kind (in a namespace, or in all), by namespace and name, and the table's
    /// version they were read at.
    public func list(kind: String, namespace: String?) throws -> (items: [JSONValue], version: UInt64) {
        try storage {
            try environment.read { txn in
                var items: [(Key, JSONValue)] = []
                try txn.scan(objects) { keyBytes, value in
                    if let key = Key(bytes: Array(keyBytes)), key.kind == kind,
                        namespace == nil || key.namespace == namespace
                    {
                        items.append((key, try Self.decode(Array(value))))
                    }
                    return true
                }
                let version = try txn.get(meta, Self.versionKey).map(EventLog.decodeUInt64) ?? 0
                return (items.sorted { $0.0 < $1.0 }.map(\.1), version)
            }
        }
    }

    /// Writes an object if its current version is `expectedVersion` (0: it must not exist; nil:
    /// any), with `change` given the current object (nil when there is none) to make the one
    /// written; returns it with its new resourceVersion. A failed precondition is a `conflict`
    /// (`notFound` when an update names no object), and nothing is written.
    public func put(
        _ key: Key, expectedVersion: UInt64?, _ change: (JSONValue?) throws -> JSONValue
    ) throws -> JSONValue {
        try storage {
            try environment.write { txn in
                let current = try txn.get(objects, key.bytes).map(Self.decode)
                try Self.check(key, current, expectedVersion)
                let version = (try txn.get(meta, Self.versionKey).map(EventLog.decodeUInt64) ?? 0) + 1
                let object = Self.versioned(try change(current), version)
                try txn.put(objects, key.bytes, JSONText.canonical(object))
                try txn.put(meta, Self.versionKey, EventLog.sequenceKey(version))
                return object
            }
        }
    }

    /// Deletes an object if its current version is `expectedVersion` (nil: any); returns it as it
    /// was. `notFound` when there is none.
    public func delete(_ key: Key, expectedVersion: UInt64?) throws -> JSONValue {
        try storage {
            try environment.write { txn in
                guard let current = try txn.get(objects, key.bytes).map(Self.decode) else {
                    throw LogError(.notFound, "\(key.kind) \(key.namespace)/\(key.name) not found")
                }
                try Self.check(key, current, expectedVersion)
                _ = try txn.delete(objects, key.bytes)
                let version = (try txn.get(meta, Self.versionKey).map(EventLog.decodeUInt64) ?? 0) + 1
                try txn.put(meta, Self.versionKey, EventLog.sequenceKey(version))
                return current
            }
        }
    }

    static func check(_ key: Key, _ current: JSONValue?, _ expected: UInt64?) throws {
        guard let expected else { return }
        let actual = current?[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap(UInt64.init) ?? 0
        if expected != actual {
            if current == nil && expected != 0 {
                throw LogError(.notFound, "\(key.kind) \(key.namespace)/\(key.name) not found")
            }
            throw LogError(
                .conflict,
                "conflict: \(key.kind) \(key.namespace)/\(key.name) was expected at resourceVersion \(expected) but \(current == nil ? "does not exist" : "is at \(actual)")"
            )
        }
    }

    static func versioned(_ object: JSONValue, _ version: UInt64) -> JSONValue {
        guard case .object(var root) = object else { return object }
        var metadata = root["metadata"]?.objectValue ?? JSONObject()
        metadata["resourceVersion"] = .string(String(version))
        root["metadata"] = .object(metadata)
        return .object(root)
    }

    static func decode(_ bytes: [UInt8]) throws -> JSONValue {
        do {
            return try JSONText.parse(bytes)
        } catch {
            throw LogError(.corrupted, "a coordination object does not decode: \(error)")
        }
    }

    private func storage<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as LMDBError {
            throw LogError(.storage, "coordination table: \(error)", underlying: error)
        }
    }
}
