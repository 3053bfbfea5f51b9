public import ArgumentParser
import EventLog
import Foundation
import MeshLedger
import MeshModel

/// `meshledger`: the root command.
public struct MeshLedgerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "meshledger",
        abstract: "An event-sourced, multi-cluster state store for Gloo Mesh VirtualDestinations.",
        discussion: """
            Every change reported by discovery agents or applied by users is an event in an \
            append-only log kept in LMDB. Errors print one line on stderr and exit non-zero \
            (1; 3 for a failed precondition); nothing is appended on error.
            """,
        version: "0.1.0",
        subcommands: [
            Apply.self, Delete.self, Discover.self, Ingest.self, Get.self, Outputs.self, Explain.self, Report.self,
            History.self, Diff.self, Log.self, Audit.self, Verify.self, Reindex.self, Replay.self, Snapshot.self,
            Backup.self,
            Stats.self,
            Serve.self, Kubeconfig.self, Record.self, Drift.self,
        ]
    )

    public init() {}

    /// Runs the command line `arguments` (without the program name) and returns the exit code,
    /// printing errors as one line on stderr.
    public static func run(arguments: [String]) -> Int32 {
        do {
            var command = try parseAsRoot(globalOptionsMoved(arguments))
            try command.run()
            return 0
        } catch let error as CLIError {
            printError(error.message)
            return error.exitCode
        } catch let error as LogError {
            printError(error.message)
            return error.code == .conflict ? 3 : 1
        } catch let error as ManifestError {
            printError(error.description)
            return 1
        } catch let error as InvalidRequest {
            printError(error.message)
            return 1
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version: printed to stdout by the parser.
                print(fullMessage(for: error))
                return 0
            }
            printError(message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)")
            return code.rawValue
        }
    }

    /// The global options (`--store DIR`, `--store=DIR`, `--read-only`) may stand before the
    /// command, as with `kubectl -n NS get ...`: they are moved behind it, where every command
    /// declares them. Everything from the first other word on stays as it was.
    static func globalOptionsMoved(_ arguments: [String]) -> [String] {
        var global: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "--read-only" || word.hasPrefix("--store=") {
                global.append(word)
                index += 1
            } else if word == "--store" && index + 1 < arguments.count {
                global += [word, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        guard !global.isEmpty else { return arguments }
        var rest = Array(arguments[index...])
        // Before a `--` that ends the options, if there is one.
        let end = rest.firstIndex(of: "--") ?? rest.count
        rest.insert(contentsOf: global, at: end)
        return rest
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }
}

/// An error the CLI reports itself.
struct CLIError: Error {
    let message: String
    var exitCode: Int32 = 1
    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store directory.",
            discussion: "Default: $MESHLEDGER_STORE, else ./meshledger-data. Created on first write.",
            valueName: "dir"))
    var store: String?

    @Flag(name: .long, help: "Open the store read-only (a backup, a copy on read-only media).")
    var readOnly = false

    /// The store path: the flag, the environment, or the default.
    var storePath: String {
        if let store { return store }
        if let fromEnvironment = ProcessInfo.processInfo.environment["MESHLEDGER_STORE"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return "./meshledger-data"
    }

    /// Opens the store for a command that writes.
    func openForWriting(asReplica: Bool = false) throws -> Store {
        if readOnly { throw CLIError("this command writes, but --read-only was given") }
        var options = EventLog.Options()
        // A replica's log of record is etcd: a system crash may undo its last local transaction.
        options.noMetaSync = asReplica
        let store = try Store(path: storePath, options: options)
        if !asReplica, let source = try store.log.replication().source {
            throw CLIError(
                "\(storePath) is a replica of the log in \(source): writing here would fork it; write through a server (meshledger serve --etcd-servers ...) instead. Read commands work on it as on any store."
            )
        }
        return store
    }

    /// Opens the store for a command that only reads (never creates it).
    func openForReading() throws -> Store {
        do {
            return try Store(path: storePath, readOnly: true)
        } catch let error as LogError where error.code == .noStore {
            throw CLIError("\(error.message) (give --store DIR or set MESHLEDGER_STORE)")
        }
    }
}

/// Who is acting, by default: the login name.
func defaultActor() -> String {
    let environment = ProcessInfo.processInfo.environment
    if let name = environment["USER"] ?? environment["LOGNAME"], !name.isEmpty { return name }
    if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
    return "unknown"
}

/// Reads `-f` arguments: files, `-` for stdin, or directories (their .yaml/.yml/.json files, sorted).
func readInputs(_ paths: [String]) throws -> [(name: String, bytes: [UInt8])] {
    if paths.isEmpty { throw CLIError("no input: give -f FILE (or -f - for stdin)") }
    var inputs: [(String, [UInt8])] = []
    for path in paths {
        if path == "-" {
            inputs.append(("stdin", Array(FileHandle.standardInput.readDataToEndOfFile())))
            continue
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CLIError("\(path): no such file or directory")
        }
        if isDirectory.boolValue {
            let entries = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            for entry in entries where [".yaml", ".yml", ".json"].contains(where: entry.hasSuffix) {
                inputs.append(try readFile("\(path)/\(entry)"))
            }
            continue
        }
        inputs.append(try readFile(path))
    }
    return inputs
}

private func readFile(_ path: String) throws -> (String, [UInt8]) {
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("\(path): cannot read file") }
    return (path, Array(data))
}

/// Reads and validates every manifest of the inputs; the first problem stops everything.
func readManifests(_ paths: [String]) throws -> [Manifest] {
    try readInputs(paths).flatMap { input in try ManifestReader.manifests(input.bytes, name: input.name) }
}
