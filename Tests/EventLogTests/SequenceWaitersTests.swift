import EventLog
import Foundation
import Testing

/// The waiters the writer wakes (watch streams) and the replicator wakes (reads that wait for a
/// head): woken at once by `advance`, not by polling; a timeout or `stop()` ends a wait.
@Suite struct SequenceWaitersTests {
    @Test func advanceWakesTheWaitersItReachesAndOnlyThem() async throws {
        let waiters = SequenceWaiters(reached: 10)
        #expect(await waiters.wait(for: 10, timeout: .seconds(30)))
        let started = ContinuousClock.now
        async let five = waiters.wait(for: 15, timeout: .seconds(30))
        async let twenty = waiters.wait(for: 20, timeout: .milliseconds(300))
        try await Task.sleep(for: .milliseconds(50))
        waiters.advance(to: 15)
        #expect(await five)
        // Woken by the advance, long before its 30 s timeout.
        #expect(ContinuousClock.now - started < .seconds(10))
        // The waiter for 20 is not reached: its timeout ends it.
        #expect(await twenty == false)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(waiters.reached == 15)
        // An advance never goes back.
        waiters.advance(to: 12)
        #expect(waiters.reached == 15)
    }

    @Test func stopEndsEveryWaitAndTheOnesAfter() async throws {
        let waiters = SequenceWaiters(reached: 0)
        let started = ContinuousClock.now
        async let first = waiters.wait(for: 1, timeout: .seconds(30))
        async let second = waiters.wait(for: 2, timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        waiters.stop()
        #expect(await first == false)
        #expect(await second == false)
        #expect(await waiters.wait(for: 3, timeout: .seconds(30)) == false)
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(waiters.stopped)
    }

    @Test func manyWaitersAreAllWokenByOneAdvance() async throws {
        let waiters = SequenceWaiters(reached: 0)
        let woken = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<64 { group.addTask { await waiters.wait(for: 1, timeout: .seconds(30)) } }
            try await Task.sleep(for: .milliseconds(100))
            waiters.advance(to: 1)
            var all: [Bool] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(woken.count == 64 && woken.allSatisfy { $0 })
    }
}
