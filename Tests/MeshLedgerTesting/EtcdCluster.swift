import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real etcd cluster of `members` processes on free loopback ports, in a fresh directory, for
/// tests. Processes are signalled only by their recorded process ids; `shutdown()` (also run by
/// `deinit`) stops them all and removes the directory.
public final class EtcdCluster: @unchecked Sendable {
    // @unchecked Sendable: the mutable state is guarded by the lock.

    /// Whether an etcd binary is installed (/usr/bin/etcd, or `etcd` on PATH).
    public static var isAvailable: Bool { etcdBinary != nil }

    /// The etcd binary, if any.
    static let etcdBinary: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = ["/usr/bin/etcd"] + path.split(separator: ":").map { "\($0)/etcd" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The directory holding each member's data directory (`mN`) and log (`mN.log`).
    public let directory: String
    /// Keep the directory on `shutdown()` and print its path and the members' logs to stderr.
    public var keepLogs: Bool {
        get { lock.withLock { keep } }
        set { lock.withLock { keep = newValue } }
    }

    private let lock = NSLock()
    private let count: Int
    private let quotaBackendBytes: Int?
    private let extraArguments: [String]
    private var keep = false
    private var isShutDown = false
    /// Per member: the client URL, the command line (as first started), the process, its pid,
    /// whether it is stopped (SIGSTOP).
    private var urls: [String] = []
    private var commandLines: [[String]] = []
    private var processes: [Process?] = []
    private var pids: [Int32] = []
    private var stopped: [Bool] = []

    /// Starts `members` etcd processes as one new cluster and waits until it has a leader.
    /// `quotaBackendBytes` and `extraArguments` are added to every member's command line.
    public init(members: Int = 3, quotaBackendBytes: Int? = nil, extraArguments: [String] = []) throws {
        precondition(members >= 1)
        count = members
        self.quotaBackendBytes = quotaBackendBytes
        self.extraArguments = extraArguments
        directory = temporaryDirectory("etcd")
        guard Self.etcdBinary != nil else {
            try? FileManager.default.removeItem(atPath: directory)
            throw TestFailure("etcd is not installed")
        }
        // Free ports are picked by binding port 0 and released before etcd binds them: another
        // process may take one in between, then the cluster is started again on other ports.
        var attempt = 0
        while true {
            attempt += 1
            do {
                try launch()
                try waitHealthy(timeout: 30, failOnExit: true)
                return
            } catch {
                let collided = (0..<count).contains { log(of: $0).contains("address already in use") }
                stopAll()
                if collided && attempt < 3 {
                    try? FileManager.default.removeItem(atPath: directory)
                    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    continue
                }
                shutdown()
                throw error
            }
        }
    }

    deinit { shutdown() }

    /// Each member's client URL ("http://127.0.0.1:PORT"), in member order.
    public var clientURLs: [String] { lock.withLock { urls } }

    /// The client URLs joined by ",".
    public var endpoints: String { clientURLs.joined(separator: ",") }

    /// The process id `member` was last started with.
    public func pid(of member: Int) -> Int32 { lock.withLock { pids[member] } }

    /// Whether `member`'s process is alive (a stopped one is).
    public func isRunning(_ member: Int) -> Bool {
        lock.withLock { processes[member]?.isRunning ?? false }
    }

    /// Kills `member` (SIGKILL, by its process id) and waits for it to exit.
    public func kill(_ member: Int) {
        guard let process = lock.withLock({ processes[member] }) else { return }
        if process.isRunning { sendSignal(process.processIdentifier, SIGKILL) }
        waitForExit(process, timeout: 10)
        lock.withLock {
            processes[member] = nil
            stopped[member] = false
        }
    }

    /// Stops `member` (SIGSTOP): it keeps its sockets but answers nothing.
    public func stop(_ member: Int) {
        lock.withLock {
            guard let process = processes[member], process.isRunning else { return }
            sendSignal(process.processIdentifier, SIGSTOP)
            stopped[member] = true
        }
    }

    /// Resumes a stopped `member` (SIGCONT).
    public func resume(_ member: Int) {
        lock.withLock {
            guard let process = processes[member], process.isRunning else { return }
            sendSignal(process.processIdentifier, SIGCONT)
            stopped[member] = false
        }
    }

    /// Starts `member` again on its data directory and ports (killing it first if it runs), then
    /// waits until the cluster is healthy.
    public func restart(_ member: Int) throws {
        if isRunning(member) { kill(member) }
        var arguments = lock.withLock { commandLines[member] }
        if let flag = arguments.firstIndex(of: "--initial-cluster-state") { arguments[flag + 1] = "existing" }
        try start(member, arguments: arguments)
        try waitHealthy()
    }

    /// The index of the current raft leader, as the running members agree on it (retried for up
    /// to 10 s while they do not).
    public func leader() throws -> Int {
        let deadline = Date().addingTimeInterval(10)
        var last = ""
        while true {
            let round = poll { url in try etcdJSON(url, "/v3/maintenance/status", "{}") }
            switch round {
            case .healthy(let leader): return leader
            case .unhealthy(let reason): last = reason
            }
            if Date() >= deadline { throw TestFailure("etcd has no leader: \(last)") }
            usleep(50_000)
        }
    }

    /// Waits until every running (not stopped) member answers its status and they agree on a
    /// leader among them; throws with the tail of each member's log after `timeout` seconds.
    public func waitHealthy(timeout: Double = 30) throws {
        try waitHealthy(timeout: timeout, failOnExit: false)
    }

    /// Stops every member (SIGCONT, SIGTERM, up to 5 s, SIGKILL, by process id) and removes the
    /// directory, or keeps it and prints its path and the logs to stderr when `keepLogs` is set.
    /// Idempotent.
    public func shutdown() {
        let keep: Bool? = lock.withLock {
            if isShutDown { return nil }
            isShutDown = true
            return self.keep
        }
        guard let keep else { return }
        stopAll()
        if keep {
            var report = "etcd cluster directory kept: \(directory)\n"
            for member in 0..<count {
                report += "--- m\(member + 1).log (last 100 lines) ---\n\(log(of: member, lines: 100))\n"
            }
            FileHandle.standardError.write(Data(report.utf8))
        } else {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    // MARK: - Internals

    /// Picks ports and starts every member with `--initial-cluster-state new`.
    private func launch() throws {
        let ports = try freeLoopbackPorts(2 * count)
        let token = UUID().uuidString
        let clients = (0..<count).map { "http://127.0.0.1:\(ports[2 * $0])" }
        let peers = (0..<count).map { "http://127.0.0.1:\(ports[2 * $0 + 1])" }
        let initialCluster = (0..<count).map { "m\($0 + 1)=\(peers[$0])" }.joined(separator: ",")
        var lines: [[String]] = []
        for member in 0..<count {
            var arguments = [
                "--name", "m\(member + 1)", "--data-dir", "\(directory)/m\(member + 1)",
                "--listen-client-urls", clients[member], "--advertise-client-urls", clients[member],
                "--listen-peer-urls", peers[member], "--initial-advertise-peer-urls", peers[member],
                "--initial-cluster", initialCluster, "--initial-cluster-token", token,
                "--initial-cluster-state", "new", "--heartbeat-interval", "50", "--election-timeout", "500",
                "--max-request-bytes", "8388608", "--snapshot-count", "10000", "--logger", "zap",
                "--log-outputs", "stderr",
            ]
            if let quotaBackendBytes { arguments += ["--quota-backend-bytes", String(quotaBackendBytes)] }
            lines.append(arguments + extraArguments)
        }
        lock.withLock {
            urls = clients
            commandLines = lines
            processes = Array(repeating: nil, count: count)
            pids = Array(repeating: 0, count: count)
            stopped = Array(repeating: false, count: count)
        }
        for member in 0..<count { try start(member, arguments: lines[member]) }
    }

    /// Starts `member`'s process, its output appended to `mN.log`.
    private func start(_ member: Int, arguments: [String]) throws {
        let logPath = "\(directory)/m\(member + 1).log"
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            throw TestFailure("cannot open \(logPath)")
        }
        defer { try? log.close() }
        log.seekToEndOfFile()
        let process = makeProcess(Self.etcdBinary ?? "/usr/bin/etcd", arguments)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.withLock {
            processes[member] = process
            pids[member] = process.processIdentifier
            stopped[member] = false
        }
    }

    /// SIGCONT to every live member, then SIGTERM to each in turn and wait for it (5 s in all),
    /// then SIGKILL and wait. One at a time: a leader told to stop hands its leadership over first,
    /// which takes milliseconds to a live follower but 6 s (a timeout) to one that is stopping too.
    private func stopAll() {
        let live = lock.withLock { processes.compactMap { $0 } }.filter(\.isRunning)
        for process in live { sendSignal(process.processIdentifier, SIGCONT) }
        let deadline = Date().addingTimeInterval(5)
        for process in live where process.isRunning {
            sendSignal(process.processIdentifier, SIGTERM)
            while process.isRunning && Date() < deadline { usleep(10_000) }
        }
        for process in live where process.isRunning { sendSignal(process.processIdentifier, SIGKILL) }
        for process in live { waitForExit(process, timeout: 10) }
        lock.withLock {
            processes = processes.map { _ in nil }
            stopped = stopped.map { _ in false }
        }
    }

    /// Waits (bounded) until Foundation has reaped `process`.
    private func waitForExit(_ process: Process, timeout: Double) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
    }

    private func waitHealthy(timeout: Double, failOnExit: Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while true {
            let round = poll { url in try curlPost(url, "/v3/maintenance/status", "{}", maxTime: 1) }
            if case .healthy = round { return }
            if case .unhealthy(let reason) = round { last = reason }
            let exited = lock.withLock { processes.enumerated().filter { $0.element?.isRunning == false } }
            if failOnExit, let member = exited.first?.offset {
                throw TestFailure("etcd member m\(member + 1) exited:\n\(log(of: member, lines: 30))")
            }
            if Date() >= deadline {
                var report = "etcd cluster not healthy after \(timeout) s: \(last)\n"
                for member in 0..<count {
                    report += "--- m\(member + 1).log (\(directory)) ---\n\(log(of: member, lines: 30))\n"
                }
                throw TestFailure(report)
            }
            usleep(50_000)
        }
    }

    private enum Round {
        case healthy(leader: Int)
        case unhealthy(String)
    }

    /// One status round over the running, not stopped members.
    private func poll(_ status: (String) throws -> (status: Int, body: String)) -> Round {
        let targets = lock.withLock {
            (0..<count).filter { processes[$0]?.isRunning == true && !stopped[$0] }.map { ($0, urls[$0]) }
        }
        if targets.isEmpty { return .unhealthy("no member is running") }
        var ids: [String: Int] = [:]
        var leaders: Set<String> = []
        for (member, url) in targets {
            guard let answer = try? status(url), answer.status == 200 else {
                return .unhealthy("m\(member + 1) did not answer")
            }
            let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
            let header = object?["header"] as? [String: Any]
            guard let id = header.flatMap({ idString($0["member_id"]) }), let leader = idString(object?["leader"])
            else { return .unhealthy("m\(member + 1) answered \(answer.body)") }
            ids[id] = member
            leaders.insert(leader)
        }
        guard leaders.count == 1, let leader = leaders.first, leader != "0" else {
            return .unhealthy("leaders \(leaders.sorted())")
        }
        guard let index = ids[leader] else { return .unhealthy("leader \(leader) is not a running member") }
        return .healthy(leader: index)
    }

    /// The last `lines` lines of `member`'s log.
    private func log(of member: Int, lines: Int = 1000) -> String {
        let text = (try? String(contentsOfFile: "\(directory)/m\(member + 1).log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Sends `signal` to process `pid` (`kill(2)`; the name is taken by the cluster's method).
private func sendSignal(_ pid: Int32, _ signal: Int32) {
    _ = kill(pid, signal)
}

/// A member id as etcd's JSON gateway spells it: a decimal string (or a number).
private func idString(_ value: Any?) -> String? {
    if let string = value as? String { return string }
    if let number = value as? NSNumber { return number.stringValue }
    return nil
}

/// POSTs `body` to `url` + `path` (etcd's JSON gateway, e.g. "/v3/kv/range") with curl (5 s at
/// most): (HTTP status, 0 when there was no answer; body).
public func etcdJSON(_ url: String, _ path: String, _ body: String) throws -> (status: Int, body: String) {
    try curlPost(url, path, body, maxTime: 5)
}

private func curlPost(
    _ url: String, _ path: String, _ body: String, maxTime: Double
) throws -> (
    status: Int, body: String
) {
    let result = try runProgram(
        "curl",
        [
            "-s", "-m", String(maxTime), "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@-",
            "-w", "\n%{http_code}", url + path,
        ],
        stdin: Data(body.utf8))
    let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

/// `count` distinct free loopback TCP ports (never 2379 or 2380), each found by binding port 0;
/// all are held until every one is found.
func freeLoopbackPorts(_ count: Int) throws -> [Int] {
    var sockets: [Int32] = []
    defer { for fd in sockets { _ = close(fd) } }
    var ports: [Int] = []
    while ports.count < count {
        let fd = socket(AF_INET, streamSocketType, 0)
        guard fd >= 0 else { throw TestFailure("socket failed: errno \(errno)") }
        sockets.append(fd)
        guard let port = bindLoopback(fd, port: 0) else { throw TestFailure("bind failed: errno \(errno)") }
        if port != 2379 && port != 2380 && !ports.contains(port) { ports.append(port) }
    }
    return ports
}

/// SOCK_STREAM as `socket` takes it.
#if canImport(Glibc)
let streamSocketType = Int32(SOCK_STREAM.rawValue)
#else
let streamSocketType = SOCK_STREAM
#endif

/// Binds `fd` to 127.0.0.1:`port` (0: any free port); the bound port, or nil.
func bindLoopback(_ fd: Int32, port: Int) -> Int? {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else { return nil }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { return nil }
    return Int(UInt16(bigEndian: address.sin_port))
}
