import EventLog
public import MeshModel

/// A bound of a log query: a sequence number or a recorded time.
public enum LogBound: Sendable, Hashable {
    /// A sequence number.
    case sequence(UInt64)
    /// A recorded time.
    case time(Timestamp)

    /// Parses `SEQ`, an RFC 3339 time, or a duration before `now` (`90s`, `15m`, `2h`, `1h30m`,
    /// `7d`), as `--since` and `--until` take them.
    public static func parse(_ text: String, now: Timestamp = .now()) -> LogBound? {
        if let sequence = UInt64(text) { return .sequence(sequence) }
        if let time = RFC3339.parse(text) { return .time(time) }
        if let micros = parseDuration(text) {
            let (back, overflow) = now.microseconds.subtractingReportingOverflow(micros)
            return overflow ? nil : .time(Timestamp(microseconds: back))
        }
        return nil
    }

    /// Microseconds in a Go-style duration (`1h30m`, `90s`, `500ms`, `2d`), or nil (also when it
    /// does not fit in 64 bits of microseconds, about 292,000 years).
    static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [
            ("ms", 1000), ("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000),
        ]
        var rest = Substring(text)
        var total: Int64 = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            let (scaled, overflowScaling) = value.multipliedReportingOverflow(by: scale)
            let (sum, overflowAdding) = total.addingReportingOverflow(scaled)
            guard !overflowScaling, !overflowAdding else { return nil }
            total = sum
        }
        return total
    }
}

extension Store {
    /// The sequence a point names: the sequence itself, or the last one recorded at or before a
    /// time (0 before the first event).
    public func sequence(at bound: LogBound) throws -> UInt64 {
        switch bound {
        case .sequence(let s): return s
        case .time(let t): return try log.lastSequence(atOrBefore: t) ?? 0
        }
    }
}

/// An audit query over the log: filters and bounds, all optional.
public struct LogQuery: Sendable {
    /// Only this kind.
    public var kind: ResourceKind?
    /// Only objects with this name.
    public var name: String?
    /// Only this namespace.
    public var namespace: String?
    /// Only events from this origin cluster.
    public var cluster: String?
    /// Only this actor.
    public var actor: String?
    /// Only changes by an identity in this group.
    public var group: String?
    /// Only this source.
    public var source: EventSource?
    /// From this point on (inclusive).
    public var since: LogBound?
    /// Up to this point (inclusive).
    public var until: LogBound?

    /// A query that matches every event.
    public init() {}

    /// The one object the query names, when kind, namespace and name are all given (it is then
    /// answered from the per-object index).
    var exactKey: ObjectKey? {
        guard let kind, let name, let namespace else { return nil }
        return ObjectKey(kind: kind, namespace: namespace, name: name)
    }

    /// The filters as audit index terms (every filter is one; the bounds are a range).
    var auditTerms: [AuditTerm] {
        var terms: [AuditTerm] = []
        if let actor { terms.append(AuditTerm(.actor, actor)) }
        if let group { terms.append(AuditTerm(.group, group)) }
        if let cluster { terms.append(AuditTerm(.cluster, cluster)) }
        if let name { terms.append(AuditTerm(.name, name)) }
        if let namespace { terms.append(AuditTerm(.namespace, namespace)) }
        if let kind { terms.append(AuditTerm(.kind, kind.rawValue)) }
        if let source { terms.append(AuditTerm(.source, source.rawValue)) }
        return terms
    }

    /// Whether an event passes the filters (bounds are applied by the range).
    public func matches(_ event: Event) -> Bool {
        if let kind, event.key.kind != kind { return false }
        if let name, event.key.name != name { return false }
        if let namespace, event.key.namespace != namespace { return false }
        if let cluster, event.originCluster != cluster { return false }
        if let actor, event.actor != actor { return false }
        if let group, !event.groups.contains(group) { return false }
        if let source, event.source != source { return false }
        return true
    }

    /// The sequences the bounds allow, or nil when none can match.
    func sequenceRange(in log: EventLog, head: UInt64) throws -> ClosedRange<UInt64>? {
        var low: UInt64 = 1
        var high = head
        switch since {
        case .sequence(let s)?: low = max(low, s)
        case .time(let t)?:
            guard let s = try log.firstSequence(atOrAfter: t) else { return nil }
            low = max(low, s)
        case nil: break
        }
        switch until {
        case .sequence(let s)?: high = min(high, s)
        case .time(let t)?:
            guard let s = try log.lastSequence(atOrBefore: t) else { return nil }
            high = min(high, s)
        case nil: break
        }
        return low <= high ? low...high : nil
    }
}
