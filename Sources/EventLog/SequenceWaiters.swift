import Synchronization

/// Tasks waiting for a sequence to be reached (a log's head, a projection's folded sequence),
/// woken by whoever advances it, at once: no polling and no hop to an actor. Timeouts are kept by
/// one shared timer task, not by a task per wait: it runs only while someone waits and wakes at
/// the earliest deadline (at most every `resolution`).
public final class SequenceWaiters: Sendable {
    private struct Waiter {
        let sequence: UInt64
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var reached: UInt64
        var stopped = false
        var waiters: [Waiter] = []
        /// When the running timer task wakes next, and which timer it is (nil: none runs).
        var timer: (wake: ContinuousClock.Instant, generation: UInt64)?
        var generations: UInt64 = 0
    }

    private let state: Mutex<State>
    private let reachedValue: Atomic<UInt64>
    private let stoppedValue = Atomic<Bool>(false)
    /// The least time between two wakes of the timer (timeouts due within it end together).
    private let resolution: Duration

    /// Waiters for a sequence that is at `reached` now.
    public init(reached: UInt64, resolution: Duration = .milliseconds(10)) {
        state = Mutex(State(reached: reached))
        reachedValue = Atomic(reached)
        self.resolution = resolution
    }

    /// The highest sequence reached (read without the lock).
    public var reached: UInt64 { reachedValue.load(ordering: .acquiring) }

    /// How many tasks wait now.
    public var waiting: Int { state.withLock { $0.waiters.count } }

    /// Whether `stop()` was called (read without the lock).
    public var stopped: Bool { stoppedValue.load(ordering: .acquiring) }

    /// Records that `sequence` is reached and wakes everyone waiting for it or an earlier one.
    public func advance(to sequence: UInt64) {
        let woken: [CheckedContinuation<Void, Never>] = state.withLock { state in
            guard sequence > state.reached else { return [] }
            state.reached = sequence
            reachedValue.store(sequence, ordering: .releasing)
            var woken: [CheckedContinuation<Void, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.sequence <= sequence else { return false }
                woken.append(waiter.continuation)
                return true
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }

    /// Wakes every waiter; later waits return at once.
    public func stop() {
        let woken = state.withLock { state in
            state.stopped = true
            stoppedValue.store(true, ordering: .releasing)
            defer { state.waiters = [] }
            return state.waiters.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Waits until `sequence` is reached, `stop()` is called or `timeout` passes; whether it was
    /// reached.
    @discardableResult
    public func wait(for sequence: UInt64, timeout: Duration) async -> Bool {
        if reached >= sequence { return true }
        let deadline = ContinuousClock.now + timeout
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (now, timer) = state.withLock { state -> (Bool, UInt64?) in
                if state.reached >= sequence || state.stopped { return (true, nil) }
                state.waiters.append(Waiter(sequence: sequence, deadline: deadline, continuation: continuation))
                if let timer = state.timer, timer.wake <= deadline { return (false, nil) }
                // No timer, or one that wakes after this deadline: a new one takes over.
                state.generations += 1
                state.timer = (deadline, state.generations)
                return (false, state.generations)
            }
            if now { continuation.resume() }
            if let timer { Task { await self.expireLoop(timer, firstWake: deadline) } }
        }
        return reached >= sequence
    }

    /// Resumes waiters whose deadline passed, waking at the earliest deadline left, until none
    /// waits or a newer timer takes over.
    private func expireLoop(_ generation: UInt64, firstWake: ContinuousClock.Instant) async {
        var wake = firstWake
        while true {
            try? await Task.sleep(until: wake, clock: .continuous)
            let now = ContinuousClock.now
            let (expired, next) = state.withLock {
                state -> ([CheckedContinuation<Void, Never>], ContinuousClock.Instant?) in
                var expired: [CheckedContinuation<Void, Never>] = []
                guard state.timer?.generation == generation else { return (expired, nil) }
                state.waiters.removeAll { waiter in
                    guard waiter.deadline <= now else { return false }
                    expired.append(waiter.continuation)
                    return true
                }
                guard let earliest = state.waiters.lazy.map(\.deadline).min() else {
                    state.timer = nil
                    return (expired, nil)
                }
                let next = max(earliest, now + resolution)
                state.timer = (next, generation)
                return (expired, next)
            }
            for continuation in expired { continuation.resume() }
            guard let next else { return }
            wake = next
        }
    }
}
