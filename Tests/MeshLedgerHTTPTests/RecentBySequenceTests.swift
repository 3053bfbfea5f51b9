import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Synchronization
import Testing

@testable import MeshLedgerHTTP

/// The watch streams' shared derivations: many watchers woken by one event derive it once.
@Suite struct RecentBySequenceTests {
    @Test func concurrentWatchersDeriveEachEventOnce() async throws {
        let store = try fleetStore()
        let head = try store.log.head().sequence
        let first = head - 4
        let recent = RecentBySequence<String>(capacity: 100)
        let derivations = Derivations()
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<16 {
                group.addTask {
                    try await recent.values(from: first, through: head, log: store.log) { event in
                        derivations.count(event.sequence)
                        // Long enough for the other watchers to ask for the same events meanwhile.
                        try await Task.sleep(for: .milliseconds(20))
                        return "\(event.sequence) \(event.key)"
                    }
                }
            }
            var all: [[String]] = []
            for try await result in group { all.append(result) }
            return all
        }
        let expected = try (first...head).map { "\($0) \(try #require(try store.log.event(at: $0)).key)" }
        #expect(results.count == 16 && results.allSatisfy { $0 == expected })
        #expect(derivations.counts == Dictionary(uniqueKeysWithValues: (first...head).map { ($0, 1) }))
    }

    @Test func whenTheDerivingWatcherFailsTheOthersDeriveThemselves() async throws {
        struct Failed: Error {}
        let store = try fleetStore()
        let head = try store.log.head().sequence
        let recent = RecentBySequence<UInt64>(capacity: 100)
        let (started, starting) = AsyncStream<Void>.makeStream()
        let failing = Task {
            try await recent.values(from: head, through: head, log: store.log) { _ in
                starting.yield()
                try await Task.sleep(for: .milliseconds(100))
                throw Failed()
            }
        }
        // The failing watcher has claimed the event: this one waits for it, then derives it.
        var signals = started.makeAsyncIterator()
        await signals.next()
        let values = try await recent.values(from: head, through: head, log: store.log) { event in event.sequence }
        #expect(values == [head])
        await #expect(throws: Failed.self) { try await failing.value }
    }
}

/// How often each sequence was derived.
final class Derivations: Sendable {
    private let storage = Mutex<[UInt64: Int]>([:])
    func count(_ sequence: UInt64) { storage.withLock { $0[sequence, default: 0] += 1 } }
    var counts: [UInt64: Int] { storage.withLock { $0 } }
}
