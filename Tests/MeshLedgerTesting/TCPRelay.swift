import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP relay on a free loopback port to `target` (host:port), to cut a client off from a server
/// without root: `cut()` closes every relayed connection and refuses new ones (the port stays
/// reserved) until `heal()`. One accept thread, two pump threads per connection.
public final class TCPRelay: @unchecked Sendable {
    // @unchecked Sendable: the state is in the core, guarded by its lock.

    /// The loopback port it listens on.
    public let port: Int
    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }
    /// Seconds each chunk from the target to the client is held back (0: none).
    public var delay: Double {
        get { core.delay }
        set { core.delay = newValue }
    }

    /// The relay's state and threads (which hold the core, not the relay, so `deinit` runs).
    private let core: RelayCore

    /// Listens on 127.0.0.1 (a free port) and relays each connection to `target` ("host:port").
    public init(target: String) throws {
        core = try RelayCore(target: target)
        port = core.port
    }

    deinit { core.close() }

    /// Closes every relayed connection and refuses new ones until `heal()`.
    public func cut() { core.cut() }

    /// Accepts and relays again, on the same port.
    public func heal() { core.heal() }

    /// Stops listening and closes every connection; idempotent (`deinit` calls it).
    public func close() { core.close() }
}

/// A relay's listener, connections and threads.
private final class RelayCore: @unchecked Sendable {
    // @unchecked Sendable: the mutable state is guarded by the lock.
    let port: Int
    var delay: Double {
        get { lock.withLock { delaySeconds } }
        set { lock.withLock { delaySeconds = newValue } }
    }
    private let target: sockaddr_in
    private let listener: Int32
    private let lock = NSLock()
    private var delaySeconds = 0.0
    private var isCut = false
    private var isClosed = false
    private var connections: [Int: Connection] = [:]
    private var nextID = 0
    private let acceptEnded = DispatchSemaphore(value: 0)

    /// Two relayed sockets: the client's and the target's (-1 while connecting). Their descriptors
    /// are closed only once both pumps ended, under the lock, so `cut()` never touches a reused one.
    private final class Connection: @unchecked Sendable {  // mutated under RelayCore's lock only
        let client: Int32
        var upstream: Int32 = -1
        var pumps = 2
        var isDead = false
        init(client: Int32) { self.client = client }

        func shutdownBoth() {
            _ = shutdown(client, Int32(SHUT_RDWR))
            if upstream >= 0 { _ = shutdown(upstream, Int32(SHUT_RDWR)) }
        }
    }

    init(target: String) throws {
        guard let colon = target.lastIndex(of: ":"), let targetPort = UInt16(target[target.index(after: colon)...])
        else { throw TestFailure("relay target \(target) is not host:port") }
        var host = String(target[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(targetPort.bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw TestFailure("relay target host \(host) is not an IPv4 address")
        }
        self.target = address
        // The listener is bound to an explicit port (found free first), so that shutting it down
        // (cut) keeps the port bound and `listen` (heal) listens on the same port again.
        var listener: Int32 = -1
        var bound: Int?
        for _ in 0..<20 where bound == nil {
            guard let free = try freeLoopbackPorts(1).first else { continue }
            listener = socket(AF_INET, streamSocketType, 0)
            guard listener >= 0 else { throw TestFailure("socket failed: errno \(errno)") }
            var yes: Int32 = 1
            _ = setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            bound = bindLoopback(listener, port: free)
            if bound == nil || listen(listener, 128) != 0 {
                bound = nil
                closeDescriptor(listener)
            }
        }
        guard let bound else { throw TestFailure("the relay cannot listen: errno \(errno)") }
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        self.listener = listener
        port = bound
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "TCPRelay accept \(bound)"
        thread.start()
    }

    func cut() {
        lock.withLock {
            guard !isCut else { return }
            isCut = true
            _ = shutdown(listener, Int32(SHUT_RD))
            for connection in connections.values {
                connection.isDead = true
                connection.shutdownBoth()
            }
        }
    }

    func heal() {
        lock.withLock {
            guard isCut, !isClosed else { return }
            if listen(listener, 128) == 0 { isCut = false }
        }
    }

    func close() {
        let first = lock.withLock {
            guard !isClosed else { return false }
            isClosed = true
            isCut = true
            _ = shutdown(listener, Int32(SHUT_RDWR))
            for connection in connections.values {
                connection.isDead = true
                connection.shutdownBoth()
            }
            return true
        }
        guard first else { return }
        _ = acceptEnded.wait(timeout: .now() + 5)
        closeDescriptor(listener)
    }

    // MARK: - Threads

    private func acceptLoop() {
        defer { acceptEnded.signal() }
        while true {
            let (closed, cut) = lock.withLock { (isClosed, isCut) }
            if closed { return }
            if cut {
                usleep(10_000)
                continue
            }
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                usleep(1000)
                continue
            }
            // An accepted socket inherits O_NONBLOCK on some systems: the pumps block.
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) & ~O_NONBLOCK)
            let connection = Connection(client: client)
            let id: Int? = lock.withLock {
                guard !isCut else { return nil }
                nextID += 1
                connections[nextID] = connection
                return nextID
            }
            guard let id else {
                closeDescriptor(client)
                continue
            }
            let thread = Thread { [self] in connectAndPump(connection, id: id) }
            thread.name = "TCPRelay \(port) client->target"
            thread.start()
        }
    }

    /// Connects to the target, then pumps client to target (and starts the other direction).
    private func connectAndPump(_ connection: Connection, id: Int) {
        let upstream = socket(AF_INET, streamSocketType, 0)
        var address = target
        let connected =
            upstream >= 0
            && withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        let alive = lock.withLock {
            guard connected, !connection.isDead else { return false }
            connection.upstream = upstream
            return true
        }
        guard alive else {
            if upstream >= 0 { closeDescriptor(upstream) }
            lock.withLock {
                connections[id] = nil
                closeDescriptor(connection.client)
            }
            return
        }
        let back = Thread { [self] in pump(connection, id: id, from: upstream, to: connection.client, delayed: true) }
        back.name = "TCPRelay \(port) target->client"
        back.start()
        pump(connection, id: id, from: connection.client, to: upstream, delayed: false)
    }

    /// Copies `from` to `to` until either ends; the last pump of a connection closes it.
    private func pump(_ connection: Connection, id: Int, from: Int32, to: Int32, delayed: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var clean = true
        loop: while true {
            let count = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                clean = count == 0
                break
            }
            if delayed {
                let seconds = delay
                if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
            }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes {
                    send(to, $0.baseAddress! + sent, count - sent, Int32(sendFlags))
                }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 {
                    clean = false
                    break loop
                }
                sent += written
            }
        }
        lock.withLock {
            // End of stream is passed on as a half close; an error ends both directions.
            if clean { _ = shutdown(to, Int32(SHUT_WR)) } else { connection.shutdownBoth() }
            connection.pumps -= 1
            if connection.pumps == 0 {
                connections[id] = nil
                closeDescriptor(connection.client)
                closeDescriptor(connection.upstream)
            }
        }
    }
}

/// `send` flags: no SIGPIPE when the peer is gone.
#if canImport(Glibc)
private let sendFlags = Int32(MSG_NOSIGNAL)
#else
private let sendFlags: Int32 = 0
#endif

/// `close(2)` (the name is taken by the relay's method).
private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
