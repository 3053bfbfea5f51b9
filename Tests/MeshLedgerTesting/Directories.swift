import EventLog
import Foundation
public import MeshLedger
public import MeshModel

/// The package root (for Examples/ and Tools/).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A fresh directory per call (LMDB forbids opening one environment twice in a process, and tests
/// run in parallel); `name` defaults to the calling function's.
public func temporaryDirectory(_ name: String = #function, create: Bool = true) -> String {
    let path =
        FileManager.default.temporaryDirectory.path + "/meshledger-\(name.filter(\.isLetter))-\(UUID().uuidString)"
    if create { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    return path
}

/// A new store in a fresh directory, without fsync (tests do not survive power loss anyway).
public func temporaryStore(_ name: String = #function) throws -> Store {
    var options = EventLog.Options()
    options.noSync = true
    return try Store(path: temporaryDirectory(name, create: false), options: options)
}

/// A clock that ticks one second per call from a fixed start: deterministic recorded times.
public func fixedClock(start: Int64 = 1_800_000_000_000_000) -> @Sendable () -> Timestamp {
    let counter = Counter()
    return { Timestamp(microseconds: start + counter.next() * 1_000_000) }
}

/// A thread-safe counter from 0.
public final class Counter: @unchecked Sendable {
    // @unchecked Sendable: guarded by the lock.
    private let lock = NSLock()
    private var value: Int64 = 0

    /// Creates a counter at 0.
    public init() {}

    /// The current value, then counts one up.
    public func next() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}

/// A failure a test helper reports.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    /// Creates the failure.
    public init(_ description: String) { self.description = description }
}
