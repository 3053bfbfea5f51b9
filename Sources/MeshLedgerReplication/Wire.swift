public import EventLog
public import MeshModel

/// An entry of the log of record: the records of one committed group, byte for byte as the
/// `events` database holds them: `u8 format (1) ‖ u32 count ‖ (u32 length ‖ record)*`, big-endian.
public enum LogEntry {
    /// Encodes records into one entry.
    public static func encode(_ records: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [1]
        out.reserveCapacity(5 + records.reduce(0) { $0 + 4 + $1.count })
        func u32(_ value: Int) {
            for shift in [24, 16, 8, 0] { out.append(UInt8(truncatingIfNeeded: value >> shift)) }
        }
        u32(records.count)
        for record in records {
            u32(record.count)
            out += record
        }
        return out
    }

    /// The records of an entry; nil when it is malformed.
    public static func decode(_ entry: [UInt8]) -> [[UInt8]]? {
        guard entry.first == 1, entry.count >= 5 else { return nil }
        var offset = 1
        func u32() -> Int? {
            guard offset + 4 <= entry.count else { return nil }
            defer { offset += 4 }
            return entry[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        guard let count = u32() else { return nil }
        var records: [[UInt8]] = []
        for _ in 0..<count {
            guard let length = u32(), offset + length <= entry.count else { return nil }
            records.append(Array(entry[offset..<offset + length]))
            offset += length
        }
        return offset == entry.count ? records : nil
    }
}

/// Batches and their outcomes as a follower forwards them to the writer, in JSON. The follower
/// parsed, validated and authenticated them; the writer takes them as given.
public enum BatchWire {
    static func key(_ key: ObjectKey) -> JSONValue {
        ["kind": .string(key.kind.rawValue), "namespace": .string(key.namespace), "name": .string(key.name)]
    }

    static func key(_ value: JSONValue?) throws -> ObjectKey {
        guard let kind = value?["kind"]?.stringValue.flatMap(ResourceKind.init(rawValue:)),
            let namespace = value?["namespace"]?.stringValue, let name = value?["name"]?.stringValue
        else { throw WireError("a forwarded change has no valid key") }
        return ObjectKey(kind: kind, namespace: namespace, name: name)
    }

    /// A batch as JSON.
    public static func encode(_ batch: Batch) -> JSONValue {
        var changes: [JSONValue] = []
        for change in batch.changes {
            var object = JSONObject()
            switch change.operation {
            case .upsert(let manifest):
                object["op"] = "upsert"
                object["object"] = manifest.object
            case .delete(_, let manifest):
                object["op"] = "delete"
                object["object"] = manifest?.object
            }
            object["key"] = key(change.key)
            object["source"] = .string(change.source.rawValue)
            object["actor"] = .string(change.actor)
            if !change.groups.isEmpty { object["groups"] = .array(change.groups.map { .string($0) }) }
            object["expectedVersion"] = change.expectedVersion.map { .int(Int64(clamping: $0)) }
            if change.ignoreNotFound { object["ignoreNotFound"] = true }
            object["sourceGeneration"] = change.sourceGeneration.map { .int(Int64(clamping: $0)) }
            if change.honorsFinalizers { object["honorsFinalizers"] = true }
            if let manager = change.manager { object["manager"] = .string(manager) }
            changes.append(.object(object))
        }
        var root = JSONObject()
        root["changes"] = .array(changes)
        root["expectedHead"] = batch.expectedHead.map { .int(Int64(clamping: $0)) }
        if let resync = batch.resync {
            var object = JSONObject()
            object["cluster"] = resync.cluster.map { .string($0) }
            object["namespace"] = resync.namespace.map { .string($0) }
            object["kinds"] = .array(resync.kinds.map(\.rawValue).sorted().map { .string($0) })
            object["actor"] = .string(resync.actor)
            root["resync"] = .object(object)
        }
        return .object(root)
    }

    /// A sequence or generation of the wire (never negative; one that is comes from no replica).
    static func unsigned(_ value: Int64) throws -> UInt64 {
        guard let unsigned = UInt64(exactly: value) else { throw WireError("a forwarded number is negative: \(value)") }
        return unsigned
    }

    /// A batch from its JSON.
    public static func decode(_ value: JSONValue) throws -> Batch {
        var changes: [Change] = []
        for item in value["changes"]?.arrayValue ?? [] {
            let key = try key(item["key"])
            guard let source = item["source"]?.stringValue.flatMap(EventSource.init(rawValue:)),
                let actor = item["actor"]?.stringValue
            else { throw WireError("a forwarded change has no source or actor") }
            let manifest = item["object"].map { Manifest(recorded: $0, key: key) }
            let operation: Change.Operation
            switch item["op"]?.stringValue {
            case "upsert":
                guard let manifest else { throw WireError("a forwarded upsert has no object") }
                operation = .upsert(manifest)
            case "delete": operation = .delete(key, manifest)
            default: throw WireError("a forwarded change has no valid op")
            }
            var change = Change(
                operation, source: source, actor: actor,
                expectedVersion: try item["expectedVersion"]?.intValue.map(unsigned),
                ignoreNotFound: item["ignoreNotFound"]?.boolValue ?? false,
                groups: item["groups"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            change.sourceGeneration = try item["sourceGeneration"]?.intValue.map(unsigned)
            change.honorsFinalizers = item["honorsFinalizers"]?.boolValue ?? false
            change.manager = item["manager"]?.stringValue
            changes.append(change)
        }
        var resync: Resync?
        if let object = value["resync"] {
            resync = Resync(
                cluster: object["cluster"]?.stringValue, namespace: object["namespace"]?.stringValue,
                kinds: Set(
                    (object["kinds"]?.arrayValue ?? []).compactMap {
                        $0.stringValue.flatMap { ResourceKind(rawValue: $0) }
                    }),
                actor: object["actor"]?.stringValue ?? "")
        }
        return Batch(changes, expectedHead: try value["expectedHead"]?.intValue.map(unsigned), resync: resync)
    }

    /// An append's outcome as JSON.
    public static func encode(_ result: Result<AppendResult, LogError>) -> JSONValue {
        switch result {
        case .success(let result):
            var object = JSONObject()
            object["head"] = .int(Int64(clamping: result.head))
            if let range = result.range {
                object["first"] = .int(Int64(clamping: range.lowerBound))
                object["last"] = .int(Int64(clamping: range.upperBound))
            }
            object["outcomes"] = .array(
                result.outcomes.map { outcome in
                    var item = key(outcome.key).objectValue!
                    item["outcome"] = .string(outcome.outcome.rawValue)
                    item["sequence"] = outcome.sequence.map { .int(Int64(clamping: $0)) }
                    return .object(item)
                })
            return ["ok": .object(object)]
        case .failure(let error):
            return ["error": ["code": .string(error.code.rawValue), "message": .string(error.message)]]
        }
    }

    /// An append's outcome from its JSON.
    public static func decodeResult(_ value: JSONValue) throws -> Result<AppendResult, LogError> {
        if let error = value["error"] {
            return .failure(
                LogError(
                    LogError.Code(rawValue: error["code"]?.stringValue ?? "storage"),
                    error["message"]?.stringValue ?? "the writer failed"))
        }
        guard let ok = value["ok"], let head = ok["head"]?.intValue else {
            throw WireError("the writer's answer has no outcome")
        }
        var outcomes: [(key: ObjectKey, outcome: AppendResult.Outcome, sequence: UInt64?)] = []
        for item in ok["outcomes"]?.arrayValue ?? [] {
            guard let outcome = item["outcome"]?.stringValue.flatMap(AppendResult.Outcome.init(rawValue:)) else {
                throw WireError("the writer's answer has an unknown outcome")
            }
            outcomes.append((try key(item), outcome, try item["sequence"]?.intValue.map(unsigned)))
        }
        var range: ClosedRange<UInt64>?
        if let first = ok["first"]?.intValue, let last = ok["last"]?.intValue {
            let (lower, upper) = (try unsigned(first), try unsigned(last))
            guard lower <= upper else { throw WireError("the writer's answer has an empty range \(first)...\(last)") }
            range = lower...upper
        }
        return .success(AppendResult(outcomes: outcomes, range: range, head: try unsigned(head)))
    }
}

/// A forwarded request or answer that does not read.
public struct WireError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
