import Foundation
import MeshLedgerTesting
import Testing

@testable import LMDBKit

func key(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

@Suite struct EnvironmentTests {
    func open(_ path: String, mapSize: Int = 1 << 20, readOnly: Bool = false) throws -> Environment {
        var options = Environment.Options()
        options.databases = ["main", "other"]
        options.mapSize = mapSize
        options.readOnly = readOnly
        return try Environment.open(path: path, options: options)
    }

    @Test func putGetDeleteAndCount() throws {
        let env = try open(temporaryDirectory())
        let db = env.database("main")
        try env.write { txn throws in
            try txn.put(db, Array("b".utf8), Array("2".utf8))
            try txn.put(db, Array("a".utf8), Array("1".utf8))
            #expect(try txn.get(db, Array("a".utf8)) == Array("1".utf8))
        }
        try env.read { txn throws in
            #expect(try txn.get(db, Array("b".utf8)) == Array("2".utf8))
            #expect(try txn.get(db, Array("zz".utf8)) == nil)
            #expect(try txn.count(db) == 2)
            #expect(try txn.count(env.database("other")) == 0)
        }
        let deleted = try env.write { txn in try txn.delete(db, Array("a".utf8)) }
        let missing = try env.write { txn in try txn.delete(db, Array("a".utf8)) }
        #expect(deleted && !missing)
    }

    @Test func scansForwardBackwardAndFromAKey() throws {
        let env = try open(temporaryDirectory())
        let db = env.database("main")
        try env.write { txn throws in
            for n in stride(from: 10 as UInt64, through: 100, by: 10) { try txn.put(db, key(n), [UInt8(n)]) }
        }
        func collect(from start: UInt64?, reverse: Bool) throws -> [UInt8] {
            try env.read { txn throws in
                var seen: [UInt8] = []
                try txn.scan(db, from: start.map(key), reverse: reverse) { _, value in
                    seen.append(value[0])
                    return true
                }
                return seen
            }
        }
        #expect(try collect(from: nil, reverse: false) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
        #expect(try collect(from: 35, reverse: false) == [40, 50, 60, 70, 80, 90, 100])
        #expect(try collect(from: 35, reverse: true) == [30, 20, 10])
        #expect(try collect(from: 40, reverse: true) == [40, 30, 20, 10])
        #expect(try collect(from: 500, reverse: true).first == 100)
        #expect(try collect(from: nil, reverse: true).first == 100)
        let last = try env.read { txn in try txn.last(db) }
        #expect(last?.key == key(100))
    }

    @Test func aThrowingWriteAppendsNothing() throws {
        struct Stop: Error {}
        let env = try open(temporaryDirectory())
        let db = env.database("main")
        #expect(throws: Stop.self) {
            try env.write { txn throws in
                try txn.put(db, key(1), [1])
                throw Stop()
            }
        }
        #expect(try env.read { txn in try txn.count(db) } == 0)
    }

    @Test func appendOutOfOrderIsATypedError() throws {
        let env = try open(temporaryDirectory())
        let db = env.database("main")
        try env.write { txn in try txn.put(db, key(5), [5], flags: .append) }
        let error = #expect(throws: LMDBError.self) {
            try env.write { txn in try txn.put(db, key(3), [3], flags: .append) }
        }
        #expect(error?.code == .keyExists)
        #expect(error?.message.contains("MDB_KEYEXIST") == true)
        #expect(error?.operation == "mdb_put(main)")
    }

    @Test func onePerPathPerProcess() throws {
        let path = temporaryDirectory()
        let first = try open(path)
        let second = try open(path)
        #expect(first === second)
    }

    @Test func mapGrowsFromATinySizeToOverTenTimesIt() throws {
        let initial = 64 << 10
        let env = try open(temporaryDirectory(), mapSize: initial)
        let db = env.database("main")
        let value = [UInt8](repeating: 7, count: 2000)
        // One large batch that cannot fit, then many small ones.
        try env.write { txn throws in
            for n in 0..<300 as Range<UInt64> { try txn.put(db, key(n), value, flags: .append) }
        }
        for n in 300..<1000 as Range<UInt64> {
            try env.write { txn in try txn.put(db, key(n), value, flags: .append) }
        }
        #expect(env.info.mapSize >= 10 * initial)
        try env.read { txn throws in
            #expect(try txn.count(db) == 1000)
            #expect(try txn.get(db, key(999)) == value)
        }
    }

    @Test func readOnlyEnvironmentsRefuseWrites() throws {
        let path = temporaryDirectory()
        do {
            let env = try open(path)
            try env.write { txn in try txn.put(env.database("main"), key(1), [1]) }
        }
        let copyPath = temporaryDirectory() + "-copy"
        try open(path).copy(to: copyPath, compact: true)
        let copy = try open(copyPath, readOnly: true)
        #expect(try copy.read { txn in try txn.get(copy.database("main"), key(1)) } == [1])
        let error = #expect(throws: LMDBError.self) {
            try copy.write { txn in try txn.put(copy.database("main"), key(2), [2]) }
        }
        #expect(error?.code == .permissionDenied)
    }

    @Test func openingAMissingStoreReadOnlyFails() throws {
        #expect(throws: LMDBError.self) {
            _ = try open(temporaryDirectory() + "/nothing-here", readOnly: true)
        }
    }
}
