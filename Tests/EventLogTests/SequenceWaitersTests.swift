import EventLog
import Foundation
import Testing

/// The waiters the writer wakes (watch streams) and the replicator wakes (reads that wait for a
/// head): woken at once by `advance`, not by polling; a timeout or `stop()` ends a wait. The
/// checks do not time anything (the test process runs many suites on 2 cores): a wait woken by
/// `advance` or `stop` leaves the list in that call, long before its 600 s timeout.
@Suite struct SequenceWaitersTests {
    /// Waits until `count` tasks wait.
    func untilWaiting(_ waiters: SequenceWaiters, _ count: Int) async throws {
        while waiters.waiting < count { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func advanceWakesTheWaitersItReachesAndOnlyThem() async throws {
        let waiters = SequenceWaiters(reached: 10)
        #expect(await waiters.wait(for: 10, timeout: .seconds(600)))
        async let fifteen = waiters.wait(for: 15, timeout: .seconds(600))
        async let twenty = waiters.wait(for: 20, timeout: .seconds(600))
        try await untilWaiting(waiters, 2)
        waiters.advance(to: 15)
        #expect(waiters.waiting == 1)
        #expect(await fifteen)
        #expect(waiters.reached == 15)
        // An advance never goes back.
        waiters.advance(to: 12)
        #expect(waiters.reached == 15)
        waiters.stop()
        #expect(await twenty == false)
    }

    @Test func aTimeoutEndsAWaitThatIsNotReached() async throws {
        let waiters = SequenceWaiters(reached: 0)
        #expect(await waiters.wait(for: 1, timeout: .milliseconds(50)) == false)
        #expect(waiters.waiting == 0)
    }

    /// The timer wakes at the earliest deadline: a short wait that starts while a long one waits
    /// ends at its own timeout, not at the long one's (this test would take 600 s).
    @Test func aShortWaitIsNotHeldBackByALongOne() async throws {
        let waiters = SequenceWaiters(reached: 0)
        async let long = waiters.wait(for: 1, timeout: .seconds(600))
        try await untilWaiting(waiters, 1)
        #expect(await waiters.wait(for: 1, timeout: .milliseconds(50)) == false)
        #expect(await waiters.wait(for: 1, timeout: .milliseconds(20)) == false)
        #expect(waiters.waiting == 1)
        waiters.advance(to: 1)
        #expect(await long)
    }

    @Test func stopEndsEveryWaitAndTheOnesAfter() async throws {
        let waiters = SequenceWaiters(reached: 0)
        async let first = waiters.wait(for: 1, timeout: .seconds(600))
        async let second = waiters.wait(for: 2, timeout: .seconds(600))
        try await untilWaiting(waiters, 2)
        waiters.stop()
        #expect(waiters.waiting == 0)
        #expect(await first == false)
        #expect(await second == false)
        #expect(await waiters.wait(for: 3, timeout: .seconds(600)) == false)
        #expect(waiters.stopped)
    }

    @Test func manyWaitersAreAllWokenByOneAdvance() async throws {
        let waiters = SequenceWaiters(reached: 0)
        let woken = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<64 { group.addTask { await waiters.wait(for: 1, timeout: .seconds(600)) } }
            try await untilWaiting(waiters, 64)
            waiters.advance(to: 1)
            #expect(waiters.waiting == 0)
            var all: [Bool] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(woken.count == 64 && woken.allSatisfy { $0 })
    }
}
