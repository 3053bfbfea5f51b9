import EventLog
import MeshModel
import Synchronization

/// What the watch streams of one server derive from each recent event (its encoded line, its
/// Kubernetes watch events), kept for the last `capacity` sequences: a new event reaches many
/// watchers at once, and the first to need it derives it for all of them.
final class RecentBySequence<Value: Sendable>: Sendable {
    private let capacity: UInt64
    private let storage = Mutex<(values: [UInt64: Value], newest: UInt64)>(([:], 0))

    init(capacity: UInt64) { self.capacity = max(1, capacity) }

    /// The kept values of `first...last` in order, up to the first one not kept.
    func values(from first: UInt64, through last: UInt64) -> [Value] {
        storage.withLock { kept in
            var found: [Value] = []
            var sequence = first
            while sequence <= last, let value = kept.values[sequence] {
                found.append(value)
                sequence += 1
            }
            return found
        }
    }

    /// The values of `first...last` in order: those kept, then the others derived from the log's
    /// events, each kept for the watchers after this one.
    func values(
        from first: UInt64, through last: UInt64, log: EventLog, derive: (Event) async throws -> Value
    ) async throws -> [Value] {
        var found = values(from: first, through: last)
        let next = first + UInt64(found.count)
        guard next <= last else { return found }
        var events: [Event] = []
        try log.scan(next...last) { event in
            events.append(event)
            return true
        }
        for event in events {
            let value = try await derive(event)
            insert(value, at: event.sequence)
            found.append(value)
        }
        return found
    }

    /// The value kept for `sequence`, if any.
    func value(at sequence: UInt64) -> Value? { storage.withLock { $0.values[sequence] } }

    /// Keeps the value of `sequence`, unless it is `capacity` sequences older than the newest;
    /// older values are dropped in bulk, so at most twice `capacity` values are kept.
    func insert(_ value: Value, at sequence: UInt64) {
        storage.withLock { kept in
            kept.newest = max(kept.newest, sequence)
            guard sequence + capacity > kept.newest else { return }
            kept.values[sequence] = value
            if kept.values.count > 2 * Int(capacity) {
                let oldest = kept.newest - capacity
                kept.values = kept.values.filter { $0.key > oldest }
            }
        }
    }
}
