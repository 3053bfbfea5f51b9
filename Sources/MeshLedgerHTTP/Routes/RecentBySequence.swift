import EventLog
import MeshModel
import Synchronization

/// What the watch streams of one server derive from each recent event (its encoded line, its
/// Kubernetes watch events), kept for the last `capacity` sequences: a new event reaches many
/// watchers at once, and the first to need it derives it for all of them (the others wait for
/// it instead of deriving it again).
final class RecentBySequence<Value: Sendable>: Sendable {
    private struct Kept {
        var values: [UInt64: Value] = [:]
        var newest: UInt64 = 0
        /// Sequences being derived, with the watchers waiting for them (nil: the deriving one
        /// failed, and each derives its own).
        var deriving: [UInt64: [CheckedContinuation<Value?, Never>]] = [:]
    }

    private let capacity: UInt64
    private let storage = Mutex<Kept>(Kept())

    init(capacity: UInt64) { self.capacity = max(1, capacity) }

    /// What a caller does for one sequence: take the kept value, wait for another caller's
    /// derivation, or derive it.
    private enum Plan {
        case kept(Value)
        case wait
        case derive
    }

    /// The values of `first...last` in order: those kept, those another watcher is deriving (waited
    /// for), and the others derived here from the log's events, each kept for the watchers after
    /// this one. A caller derives its sequences in order and waits only for sequences another
    /// caller claimed first, which that caller derives before any it waits for: no cycle.
    func values(
        from first: UInt64, through last: UInt64, log: EventLog, derive: (Event) async throws -> Value
    ) async throws -> [Value] {
        try await values(
            from: first, through: last,
            load: { range in
                var events: [UInt64: Event] = [:]
                try log.scan(range) { event in
                    events[event.sequence] = event
                    return true
                }
                return events
            }, derive: derive)
    }

    /// The values of `first...last` in order, as above, derived from what `load` gives for the
    /// sequences this caller derives (the log's events, or nothing when a value is derived from
    /// the sequence alone: then no event is read).
    func values<Input>(
        from first: UInt64, through last: UInt64, load: (ClosedRange<UInt64>) throws -> [UInt64: Input],
        derive: (Input) async throws -> Value
    ) async throws -> [Value] {
        let plans: [Plan] = storage.withLock { kept in
            (first...last).map { sequence in
                if let value = kept.values[sequence] { return .kept(value) }
                if kept.deriving[sequence] != nil { return .wait }
                kept.deriving[sequence] = []
                return .derive
            }
        }
        var inputs: [UInt64: Input] = [:]
        let claimed = zip(first...last, plans).compactMap { sequence, plan in
            if case .derive = plan { sequence } else { nil }
        }
        // Every sequence claimed here is finished, with its value or with nil when this caller
        // fails first, so that no waiter waits forever.
        var unfinished = claimed[...]
        defer { for sequence in unfinished { finish(sequence, nil) } }
        if let low = claimed.first, let high = claimed.last { inputs = try load(low...high) }
        var found: [Value] = []
        for (sequence, plan) in zip(first...last, plans) {
            switch plan {
            case .kept(let value):
                found.append(value)
            case .wait:
                if let value = await derived(sequence) {
                    found.append(value)
                } else {
                    guard let input = try load(sequence...sequence)[sequence] else {
                        throw LogError(.corrupted, "event \(sequence) is missing")
                    }
                    found.append(try await derive(input))
                }
            case .derive:
                guard let input = inputs[sequence] else { throw LogError(.corrupted, "event \(sequence) is missing") }
                let value = try await derive(input)
                unfinished.removeFirst()
                finish(sequence, value)
                found.append(value)
            }
        }
        return found
    }

    /// Waits for another caller's derivation of `sequence` (nil: it failed).
    private func derived(_ sequence: UInt64) async -> Value? {
        await withCheckedContinuation { continuation in
            let now: Value?? = storage.withLock { kept in
                if let value = kept.values[sequence] { return .some(value) }
                guard kept.deriving[sequence] != nil else { return .some(nil) }
                kept.deriving[sequence]!.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Ends the derivation of `sequence`: keeps the value (when there is one) and hands it to the
    /// callers waiting for it.
    private func finish(_ sequence: UInt64, _ value: Value?) {
        let waiting = storage.withLock { kept in
            if let value { keep(value, at: sequence, in: &kept) }
            return kept.deriving.removeValue(forKey: sequence) ?? []
        }
        for continuation in waiting { continuation.resume(returning: value) }
    }

    private func keep(_ value: Value, at sequence: UInt64, in kept: inout Kept) {
        kept.newest = max(kept.newest, sequence)
        guard sequence + capacity > kept.newest else { return }
        kept.values[sequence] = value
        if kept.values.count > 2 * Int(capacity) {
            let oldest = kept.newest - capacity
            kept.values = kept.values.filter { $0.key > oldest }
        }
    }
}
