import Synchronization

/// Tasks waiting for a sequence to be reached (a log's head, a projection's folded sequence),
/// woken by whoever advances it, at once: no polling and no hop to an actor. A waiter's timeout
/// is kept by one shared timer task that runs only while someone waits, not by a task per wait.
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
        var timerRunning = false
    }

    private let state: Mutex<State>
    private let reachedValue: Atomic<UInt64>
    /// How often the timer looks for expired waiters (the precision of a timeout).
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

    /// Whether `stop()` was called.
    public var stopped: Bool { state.withLock { $0.stopped } }

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
            let (now, startTimer) = state.withLock { state -> (Bool, Bool) in
                if state.reached >= sequence || state.stopped { return (true, false) }
                state.waiters.append(Waiter(sequence: sequence, deadline: deadline, continuation: continuation))
                defer { state.timerRunning = true }
                return (false, !state.timerRunning)
            }
            if now { continuation.resume() }
            if startTimer { Task { await self.expireLoop() } }
        }
        return reached >= sequence
    }

    /// Resumes waiters whose deadline passed, every `resolution`, until none waits.
    private func expireLoop() async {
        while true {
            try? await Task.sleep(for: resolution)
            let now = ContinuousClock.now
            let (expired, done) = state.withLock { state in
                var expired: [CheckedContinuation<Void, Never>] = []
                state.waiters.removeAll { waiter in
                    guard waiter.deadline <= now else { return false }
                    expired.append(waiter.continuation)
                    return true
                }
                if state.waiters.isEmpty { state.timerRunning = false }
                return (expired, state.waiters.isEmpty)
            }
            for continuation in expired { continuation.resume() }
            if done { return }
        }
    }
}
