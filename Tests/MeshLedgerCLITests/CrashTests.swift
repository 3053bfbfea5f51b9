import EventLog
import Foundation
import MeshLedger
import MeshLedgerTesting
import MeshModel
import Testing

/// Durability and isolation across processes: a writer killed with SIGKILL at random points, and
/// a second process reading while the writer appends.
@Suite(.serialized) struct CrashTests {
    static let batchSize = 150

    /// Writes batch files: batch i holds `batchSize` VirtualDestinations named `b<i>-<j>`.
    func batchFiles(count: Int, in dir: String) throws -> [String] {
        try (0..<count).map { i in
            let docs = (0..<CrashTests.batchSize).map { virtualDestinationYAML("b\(i)-\($0)") }
            return try write(docs.joined(separator: "\n---\n"), to: dir, name: "batch-\(i).yaml")
        }
    }

    /// How many of batch i's objects exist in the store.
    func present(_ store: Store, batch: Int) throws -> Int {
        try (0..<CrashTests.batchSize).filter { j in
            try store.log.state(
                of: ObjectKey(kind: .virtualDestination, namespace: "bookinfo", name: "b\(batch)-\(j)"))?.exists == true
        }.count
    }

    @Test func aWriterKilledAtRandomPointsLosesNoReportedBatchAndLeavesNoPartialOne() throws {
        let dir = temporaryDirectory()
        let storePath = dir + "/store"
        let iterations = 40
        let files = try batchFiles(count: iterations, in: dir)
        var generator = SystemRandomNumberGenerator()
        var reported = Set<Int>()
        var killed = 0
        // Batch 0 runs to completion: it creates the store and tells how long a whole run takes
        // on this machine, so the kills below spread over the run however fast or loaded it is.
        let clock = ContinuousClock()
        var first: RunResult?
        let whole = try clock.measure { first = try meshledger(["apply", "--store", storePath, "-f", files[0]]) }
        #expect(first?.status == 0)
        reported.insert(0)
        let wholeMicros = UInt32(
            min(max(Double(whole.components.seconds) * 1e6 + Double(whole.components.attoseconds) / 1e12, 20_000), 5e6))
        for (i, file) in files.enumerated().dropFirst() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: meshledgerBinary)
            process.arguments = ["apply", "--store", storePath, "-f", file]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Kills land anywhere from start-up to the commit; some runs finish first.
            usleep(UInt32.random(in: 0...(wholeMicros * 6 / 5), using: &generator))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed += 1
            }
            let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if output.contains("appended \(CrashTests.batchSize) events") { reported.insert(i) }
        }
        #expect(killed > 0, "no run was killed; the timing needs adjusting")

        let store = try Store(path: storePath, readOnly: true)
        var committed = 0
        for i in 0..<iterations {
            let count = try present(store, batch: i)
            #expect(count == 0 || count == CrashTests.batchSize, "batch \(i) is partly present: \(count) objects")
            if reported.contains(i) {
                #expect(count == CrashTests.batchSize, "batch \(i) was reported committed but is missing")
            }
            if count == CrashTests.batchSize { committed += 1 }
        }
        let report = try store.log.verify()
        #expect(report.failure == nil)
        #expect(report.checked == UInt64(committed * CrashTests.batchSize))
        print(
            "crash test: \(iterations) runs, \(killed) killed, \(reported.count) reported committed, \(committed) present"
        )
    }

    @Test func aReaderInAnotherProcessAlwaysSeesAGaplessVerifiedPrefix() throws {
        let dir = temporaryDirectory()
        let storePath = dir + "/store"
        let files = try batchFiles(count: 12, in: dir)
        // Create the store first so the reader can open it.
        #expect(try meshledger(["apply", "--store", storePath, "-f", files[0]]).status == 0)

        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = [
            "-c",
            files.dropFirst().map { "'\(meshledgerBinary)' apply --store '\(storePath)' -f '\($0)' >/dev/null" }.joined(
                separator: " && "),
        ]
        try writer.run()

        let store = try Store(path: storePath, readOnly: true)
        var heads: [UInt64] = []
        while writer.isRunning || heads.last != UInt64(files.count * CrashTests.batchSize) {
            let report = try store.log.verify()
            #expect(report.failure == nil)
            #expect(
                report.checked % UInt64(CrashTests.batchSize) == 0, "a reader saw part of a batch: \(report.checked)")
            heads.append(report.checked)
            if !writer.isRunning && heads.count > 2 && heads.suffix(2).allSatisfy({ $0 == heads.last }) { break }
            usleep(5_000)
        }
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        #expect(heads == heads.sorted(), "the head went backwards")
        #expect(Set(heads).count > 2, "the reader never saw the writer in progress")
        #expect(try store.log.verify().checked == UInt64(files.count * CrashTests.batchSize))
    }
}
