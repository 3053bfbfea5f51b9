import AsyncHTTPClient
public import EventLog
import Foundation
import Logging
import MeshModel
import NIOCore
import NIOHTTP1
import NIOSSL

/// How a server's store replicates the log kept in etcd (`serve --etcd-servers`).
public struct ReplicationConfiguration: Sendable {
    /// etcd's client URLs (every member).
    public var etcdServers: [String]
    /// The key prefix of this log in etcd (several logs may share one etcd).
    public var prefix = "/meshledger/default"
    /// TLS to etcd: the CA, and the client certificate and key.
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    /// This replica's name (unique among the replicas of the log).
    public var replicaName: String
    /// The CA that signed the other replicas' serving certificates (forwarded writes over HTTPS).
    public var peerCAFile: String?
    /// The writer's lease, in seconds: a crashed writer is replaced after this long.
    public var leaseTTL = 5
    /// The longest one etcd request may take.
    public var requestTimeout: Duration = .seconds(3)
    /// The largest entry (records of one group) written to etcd; etcd must take requests this big
    /// (`--max-request-bytes 8388608`).
    public var maxEntryBytes = 7 << 20
    /// How many events etcd keeps (the window replicas catch up from); the writer trims older
    /// entries, compacts and defragments. 0: etcd keeps everything. LMDB always keeps all.
    public var keepEvents: UInt64 = 100_000

    /// A replica named `replicaName` of the log in the etcd at `etcdServers`.
    public init(etcdServers: [String], replicaName: String) {
        self.etcdServers = etcdServers
        self.replicaName = replicaName
    }
}

/// A replica of the log of record in etcd (docs/decisions/0011-replication.md).
///
/// Every replica writes its LMDB only from what etcd committed (`EventLog.applyReplicated`): it
/// catches up by range reads, then tails a watch. One replica at a time is the writer, elected
/// by an etcd lease; it dry-runs each group commit on its local log (`prepareGroup`), commits the
/// records as one etcd transaction fenced on the head and on its term, then applies them like
/// any replica. Followers forward writes to it.
public actor Replicator {
    /// What this replica does now.
    public enum Role: String, Sendable {
        /// Not (yet) knowing a writer: writes get 503.
        case starting
        /// Commits writes to etcd.
        case writer
        /// Forwards writes to the writer.
        case follower
    }

    /// What `/healthz` reports.
    public struct Health: Sendable {
        public var role: Role
        public var writer: String?
        public var head: UInt64
        public var etcdHead: UInt64
        public var connected: Bool
        public var failure: String?
        public var elections: Int
        public var lag: UInt64 { etcdHead > head ? etcdHead - head : 0 }
    }

    let log: EventLog
    let configuration: ReplicationConfiguration
    /// The etcd client.
    public nonisolated let etcd: EtcdClient
    let peers: HTTPClient
    let logger: Logger
    /// Proves to this replica, as the writer, that a forwarded write comes from a replica (one
    /// that could read it from etcd).
    public nonisolated let secret: String
    private var advertiseURL: String?
    private var role = Role.starting
    private var writer: (name: String, url: String, secret: String)?
    private var fence: Int64 = 0
    private var lease: Int64 = 0
    private var lastKeepalive = ContinuousClock.now
    private var etcdHead: UInt64 = 0
    private var localHead: UInt64
    /// This writer's entries applied at their etcd revision, until the watch brings them back
    /// (then skipped by comparing bytes, not decoded and verified again).
    private var ownEntries: [Int64: [UInt8]] = [:]
    private var connected = false
    private var failure: String?
    private var elections = 0
    private var onApplied: (@Sendable () async -> Void)?
    private var trimmedBelow: UInt64 = 0
    private var trimming = false
    /// Tasks waiting for the local log to reach a sequence.
    private let heads: SequenceWaiters

    /// A replica of `log`; `observe` is told every etcd request's path and time.
    public init(
        log: EventLog, configuration: ReplicationConfiguration,
        observe: @escaping @Sendable (String, Duration) -> Void = { _, _ in }
    ) throws {
        self.log = log
        self.configuration = configuration
        etcd = try EtcdClient(
            endpoints: configuration.etcdServers, caFile: configuration.caFile, certFile: configuration.certFile,
            keyFile: configuration.keyFile, timeout: configuration.requestTimeout, observe: observe)
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = configuration.peerCAFile { tls.trustRoots = .file(ca) }
        var peerConfiguration = HTTPClient.Configuration(tlsConfiguration: tls)
        peerConfiguration.timeout = .init(connect: .seconds(1))
        // A writer that is gone is reported at once (the caller retries), not after a retry loop.
        peerConfiguration.connectionPool.retryConnectionEstablishment = false
        peers = HTTPClient(eventLoopGroupProvider: .singleton, configuration: peerConfiguration)
        var logger = Logger(label: "meshledger.replication")
        logger[metadataKey: "replica"] = .string(configuration.replicaName)
        self.logger = logger
        secret = (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
        localHead = try log.head().sequence
        heads = SequenceWaiters(reached: localHead)
        let source = "etcd:\(configuration.prefix)"
        let (marked, _) = try log.replication()
        if marked == nil {
            guard localHead == 0 else {
                throw LogError(
                    .invalidBatch,
                    "the store holds \(localHead) events and is not a replica; start a replica on an empty store directory (or on a backup of a replica)"
                )
            }
            try log.markReplicated(source)
        } else if marked != source {
            throw LogError(.invalidBatch, "the store is a replica of \(marked!), not of \(source)")
        }
    }

    /// Told after each append to the local log (the server folds and wakes its watchers).
    public func setOnApplied(_ body: @escaping @Sendable () async -> Void) { onApplied = body }

    /// Where the other replicas reach this one (its served address), once it listens.
    public func setAdvertiseURL(_ url: String) { advertiseURL = url }

    /// The state `/healthz` reports.
    public func health() -> Health {
        Health(
            role: role, writer: writer?.name, head: localHead, etcdHead: max(etcdHead, localHead),
            connected: connected, failure: failure, elections: elections)
    }

    // MARK: - Running

    /// Replicates until cancelled, then resigns as the writer (so another takes over at once).
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.tailLoop() }
            group.addTask { await self.electionLoop() }
            await group.waitForAll()
        }
        await Task.detached { await self.resign() }.value
        await etcd.shutdown()
        try? await peers.shutdown()
    }

    private func pause(_ duration: Duration) async { try? await Task.sleep(for: duration) }

    /// Catch-up by range reads, then a watch from the revision read; again after any break.
    private func tailLoop() async {
        while !Task.isCancelled {
            if failure != nil {
                await pause(.seconds(1))
                continue
            }
            do {
                let revision = try await catchUp()
                connected = true
                try await etcd.watch(key: logKey(0), rangeEnd: logEnd, startRevision: revision + 1) { message in
                    try self.take(message)
                }
            } catch is CancellationError {
                return
            } catch {
                if !Task.isCancelled { logger.info("replication: \(error); reading again from etcd") }
                await pause(.milliseconds(200))
            }
        }
    }

    /// One watch answer: its entries applied. False when the watch must end (cancelled because
    /// its start was compacted, replication stopped, or shutting down).
    private func take(_ message: JSONValue) throws -> Bool {
        if message["canceled"]?.boolValue == true || EtcdClient.int(message["compact_revision"]) > 0 {
            return false
        }
        for event in message["events"]?.arrayValue ?? [] {
            guard let kv = event["kv"], let value = EtcdClient.bytes(kv["value"]) else { continue }
            try applyEntry(value, revision: EtcdClient.int(kv["mod_revision"]))
        }
        return !Task.isCancelled && failure == nil
    }

    /// Reads the entries after the local head in pages; returns the revision of the last read.
    private func catchUp() async throws -> Int64 {
        while true {
            let response = try await etcd.call(
                "/v3/kv/range",
                [
                    "key": .string(EtcdClient.base64(logKey(localHead + 1))),
                    "range_end": .string(EtcdClient.base64(logEnd)), "limit": "64",
                ])
            let revision = EtcdClient.int(response[path: ["header", "revision"]])
            let kvs = response["kvs"]?.arrayValue ?? []
            for (index, kv) in kvs.enumerated() {
                guard let key = EtcdClient.bytes(kv["key"]), let value = EtcdClient.bytes(kv["value"]) else { continue }
                if index == 0, let first = sequence(ofLogKey: key), first > localHead + 1 {
                    failure =
                        "this replica's log ends at \(localHead) but etcd's log starts at \(first) (trimmed): restore a peer's backup (meshledger --store DIR backup TARGET on a replica) into this store directory and start again"
                    logger.error("\(failure!)")
                    throw LogError(.corrupted, failure!)
                }
                try applyEntry(value, revision: EtcdClient.int(kv["mod_revision"]))
            }
            if response["more"]?.boolValue != true || kvs.isEmpty { return revision }
        }
    }

    /// Appends one entry to the local log (skipping what it already holds).
    private func applyEntry(_ entry: [UInt8], revision: Int64) throws {
        // This writer's own entry coming back: applied already, from these very bytes.
        if let own = ownEntries.removeValue(forKey: revision), own == entry { return }
        guard let records = LogEntry.decode(entry) else {
            failure = "the etcd entry at revision \(revision) is malformed; replication stopped"
            throw LogError(.corrupted, failure!)
        }
        do {
            let applied = try log.applyReplicated(records, revision: revision)
            if let last = applied.last { advance(to: last.sequence) }
        } catch let error as LogError where error.code == .corrupted {
            failure = error.message
            logger.error("\(error.message)")
            if role == .writer { stepDown("replication stopped") }
            throw error
        }
    }

    private func advance(to sequence: UInt64) {
        if sequence > localHead, let onApplied { Task { await onApplied() } }
        localHead = max(localHead, sequence)
        etcdHead = max(etcdHead, localHead)
        heads.advance(to: localHead)
    }

    /// Waits until the local log reaches `sequence` (at most `timeout`); whether it did.
    public nonisolated func waitForHead(_ sequence: UInt64, timeout: Duration = .seconds(5)) async -> Bool {
        await heads.wait(for: sequence, timeout: timeout)
    }

    /// etcd's head, read with a quorum (a strong read waits until the local log reaches it).
    public func strongHead() async throws -> UInt64 {
        let (head, _) = try await readHeadAndWriter(attempts: 2)
        let sequence = head?.sequence ?? 0
        etcdHead = max(etcdHead, sequence)
        return sequence
    }

    // MARK: - Election

    private func electionLoop() async {
        while !Task.isCancelled {
            do {
                if role == .writer {
                    try await keepAlive()
                    await pause(.milliseconds(Int64(configuration.leaseTTL) * 1000 / 5))
                    continue
                }
                guard advertiseURL != nil, failure == nil else {
                    await pause(.milliseconds(200))
                    continue
                }
                let (head, current) = try await readHeadAndWriter()
                connected = true
                etcdHead = max(etcdHead, head?.sequence ?? 0)
                if let current {
                    if current.secret == secret {
                        // Our own key from before we stepped down: remove it so that a writer is elected.
                        try await removeWriterKey(createRevision: current.createRevision)
                    } else {
                        if writer?.name != current.name { logger.info("replication: the writer is \(current.name)") }
                        writer = (current.name, current.url, current.secret)
                        role = .follower
                    }
                } else {
                    writer = nil
                    if role == .follower { role = .starting }
                    try await campaign()
                }
                if role != .writer { await pause(.milliseconds(250)) }
            } catch is CancellationError {
                return
            } catch {
                connected = false
                if role == .writer && ContinuousClock.now - lastKeepalive > .seconds(configuration.leaseTTL) {
                    stepDown("etcd unreachable for longer than the lease (\(error))")
                }
                await pause(.milliseconds(250))
            }
        }
    }

    private func keepAlive() async throws {
        let response = try await etcd.call("/v3/lease/keepalive", ["ID": .string(String(lease))])
        connected = true
        if EtcdClient.int(response[path: ["result", "TTL"]]) <= 0 {
            stepDown("the writer's lease expired")
        } else {
            lastKeepalive = ContinuousClock.now
        }
    }

    /// Tries to become the writer: a lease, then the `writer` key put if absent; the put's
    /// revision is the fencing token.
    private func campaign() async throws {
        guard let advertiseURL else { return }
        let grant = try await etcd.call(
            "/v3/lease/grant", ["TTL": .string(String(configuration.leaseTTL))], idempotent: false)
        let id = EtcdClient.int(grant["ID"])
        guard id != 0 else { throw EtcdError(status: 200, code: nil, message: "etcd granted no lease") }
        let value: JSONValue = [
            "name": .string(configuration.replicaName), "url": .string(advertiseURL), "secret": .string(secret),
        ]
        let granted = ContinuousClock.now
        let response = try await etcd.call(
            "/v3/kv/txn",
            [
                "compare": [
                    ["key": .string(b64(writerKey)), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]
                ],
                "success": [
                    [
                        "request_put": [
                            "key": .string(b64(writerKey)),
                            "value": .string(EtcdClient.base64(JSONText.canonical(value))),
                            "lease": .string(String(id)),
                        ]
                    ]
                ],
                "failure": [["request_range": ["key": .string(b64(writerKey))]]],
            ], idempotent: false)
        guard response["succeeded"]?.boolValue == true else {
            _ = try? await etcd.call("/v3/lease/revoke", ["ID": .string(String(id))])
            return
        }
        fence = EtcdClient.int(response[path: ["header", "revision"]])
        lease = id
        lastKeepalive = granted
        // Before taking writes, the local log must reach etcd's head: dry runs start from it.
        var (head, _) = try await readHeadAndWriter()
        if head == nil {
            guard localHead == 0 else {
                failure =
                    "etcd has no log under \(configuration.prefix) but this replica holds \(localHead) events; seeding etcd from a store is not supported"
                stepDown(failure!)
                return
            }
            try await createHead()
            head = (0, .zero)
        }
        guard let head else { return }
        guard await waitForHead(head.sequence, timeout: .seconds(configuration.leaseTTL)) else {
            stepDown("could not catch up to etcd's head \(head.sequence) (at \(localHead))")
            return
        }
        let local = try log.head()
        guard local.sequence == head.sequence, local.digest == head.digest else {
            failure =
                "the local log (head \(local.sequence)) does not end where etcd's does (\(head.sequence)); replication stopped"
            stepDown(failure!)
            return
        }
        role = .writer
        writer = (configuration.replicaName, advertiseURL, secret)
        elections += 1
        logger.info("replication: this replica is the writer (term \(fence), head \(head.sequence))")
    }

    /// Creates the `head` key of an empty log, only if it is absent (never a blind put).
    private func createHead() async throws {
        _ = try await etcd.call(
            "/v3/kv/txn",
            [
                "compare": [
                    ["key": .string(b64(headKey)), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]
                ],
                "success": [
                    [
                        "request_put": [
                            "key": .string(b64(headKey)), "value": .string(EtcdClient.base64(headValue(0, .zero))),
                        ]
                    ]
                ],
            ], idempotent: false)
    }

    private func removeWriterKey(createRevision: Int64) async throws {
        _ = try await etcd.call(
            "/v3/kv/txn",
            [
                "compare": [
                    [
                        "key": .string(b64(writerKey)), "target": "CREATE", "result": "EQUAL",
                        "create_revision": .string(String(createRevision)),
                    ]
                ],
                "success": [["request_delete_range": ["key": .string(b64(writerKey))]]],
            ], idempotent: false)
    }

    /// Stops writing: queued and later writes get 503 until a writer is known again.
    private func stepDown(_ reason: String) {
        guard role == .writer else { return }
        logger.warning("replication: no longer the writer: \(reason)")
        role = .starting
        writer = nil
        fence = 0
        let lease = self.lease
        let etcd = self.etcd
        Task.detached { _ = try? await etcd.call("/v3/lease/revoke", ["ID": .string(String(lease))]) }
    }

    /// On shutdown: gives the writer's lease back so that another replica takes over at once.
    private func resign() async {
        guard role == .writer else { return }
        role = .starting
        _ = try? await etcd.call("/v3/lease/revoke", ["ID": .string(String(lease))])
    }

    // MARK: - Writing

    /// Appends a group of batches: through etcd on the writer, forwarded by a follower. Each
    /// result is the batch's, as a local group commit gives it; 503 (`unavailable`) while no
    /// writer is known or etcd has no quorum.
    public func commit(_ batches: [Batch]) async -> [Result<AppendResult, LogError>] {
        if let failure { return unavailable(batches, "replication stopped: \(failure)") }
        switch role {
        case .writer: return await commitAsWriter(batches)
        case .follower: return await forward(batches)
        case .starting: return unavailable(batches, "no writer is elected yet; retry")
        }
    }

    /// 503 for every batch. `outcomeKnown: false` when a txn was sent and not answered: etcd keeps
    /// the proposal, which may still commit once it has a quorum again, so the answer must not
    /// say that nothing was appended.
    private func unavailable(
        _ batches: [Batch], _ message: String, outcomeKnown: Bool = true
    ) -> [Result<AppendResult, LogError>] {
        let text =
            outcomeKnown
            ? message + "; nothing appended"
            : message
                + "; the outcome of this append is unknown: it may still be appended once etcd has a quorum (read before retrying)"
        return Array(repeating: .failure(LogError(.unavailable, text)), count: batches.count)
    }

    private func commitAsWriter(_ batches: [Batch]) async -> [Result<AppendResult, LogError>] {
        let results: [Result<AppendResult, LogError>]
        let records: [[UInt8]]
        let before: (sequence: UInt64, digest: Digest)
        do {
            before = try log.head()
            (results, records) = try log.prepareGroup(batches)
        } catch let error as LogError {
            return Array(repeating: .failure(error), count: batches.count)
        } catch {
            return Array(repeating: .failure(LogError(.storage, "\(error)")), count: batches.count)
        }
        guard let lastRecord = records.last, let last = try? EventCodec.decode(lastRecord) else { return results }
        let entry = LogEntry.encode(records)
        if entry.count > configuration.maxEntryBytes {
            // Split at request boundaries; a single request this large is refused.
            guard batches.count > 1 else {
                return [
                    .failure(
                        LogError(
                            .tooLarge,
                            "the batch's records take \(entry.count) bytes, more than one replicated entry may hold (\(configuration.maxEntryBytes)); nothing appended"
                        ))
                ]
            }
            let half = batches.count / 2
            return await commitAsWriter(Array(batches[..<half])) + commitAsWriter(Array(batches[half...]))
        }
        let expected = headValue(before.sequence, before.digest)
        let next = headValue(last.sequence, last.checksum)
        let body: JSONValue = [
            "compare": [
                [
                    "key": .string(b64(headKey)), "target": "VALUE", "result": "EQUAL",
                    "value": .string(EtcdClient.base64(expected)),
                ],
                [
                    "key": .string(b64(writerKey)), "target": "CREATE", "result": "EQUAL",
                    "create_revision": .string(String(fence)),
                ],
            ],
            "success": [
                [
                    "request_put": [
                        "key": .string(b64(logKey(before.sequence + 1))), "value": .string(EtcdClient.base64(entry)),
                    ]
                ],
                ["request_put": ["key": .string(b64(headKey)), "value": .string(EtcdClient.base64(next))]],
            ],
            "failure": [["request_range": ["key": .string(b64(writerKey))]]],
        ]
        for _ in 0..<2 {
            do {
                let response = try await etcd.call("/v3/kv/txn", body, idempotent: false)
                connected = true
                guard response["succeeded"]?.boolValue == true else {
                    stepDown("the writer key changed (fenced)")
                    return unavailable(batches, "this replica is no longer the writer")
                }
                return committed(
                    records, EtcdClient.int(response[path: ["header", "revision"]]), results, entry: entry)
            } catch {
                // Unknown outcome: read the head (with a quorum) instead of writing again blindly.
                logger.warning("replication: append outcome unknown (\(error)); reading etcd's head")
                // One more request only: a caller waits for the answer (etcd without quorum: 503 soon).
                guard let (head, _) = try? await readHeadAndWriter(attempts: 1), let head else {
                    connected = false
                    stepDown("etcd does not answer: the outcome of an append is unknown")
                    return unavailable(batches, "etcd does not answer (no quorum?)", outcomeKnown: false)
                }
                if head.sequence == last.sequence && head.digest == last.checksum {
                    return committed(records, 0, results)
                }
                if head.sequence != before.sequence || head.digest != before.digest {
                    stepDown("etcd's head moved to \(head.sequence) under this writer")
                    return unavailable(batches, "this replica is no longer the writer")
                }
            }
        }
        return unavailable(batches, "etcd did not take the append", outcomeKnown: false)
    }

    private func committed(
        _ records: [[UInt8]], _ revision: Int64, _ results: [Result<AppendResult, LogError>], entry: [UInt8]? = nil
    ) -> [Result<AppendResult, LogError>] {
        do {
            let applied = try log.applyReplicated(records, revision: revision == 0 ? nil : revision)
            if let lastEvent = applied.last { advance(to: lastEvent.sequence) }
            if revision != 0, let entry {
                ownEntries[revision] = entry
                if ownEntries.count > 256, let oldest = ownEntries.keys.min() { ownEntries[oldest] = nil }
            }
            let keep = configuration.keepEvents
            if keep > 0, !trimming, localHead > keep, localHead - keep >= trimmedBelow + max(keep / 4, 1) {
                trimming = true
                let target = localHead - keep
                Task { await self.trim(below: target) }
            }
            return results
        } catch {
            failure = "applying this writer's own committed entry failed: \(error)"
            stepDown(failure!)
            return unavailable(results.map { _ in Batch([]) }, failure!)
        }
    }

    /// Trims etcd's window: deletes the entries that start below `target` (fenced: only this
    /// writer's term may), notes it in `trim`, compacts etcd physically at that revision and
    /// defragments, one member at a time, those with over 30% free space in their database.
    private func trim(below target: UInt64) async {
        defer { trimming = false }
        do {
            let response = try await etcd.call(
                "/v3/kv/txn",
                [
                    "compare": [
                        [
                            "key": .string(b64(writerKey)), "target": "CREATE", "result": "EQUAL",
                            "create_revision": .string(String(fence)),
                        ]
                    ],
                    "success": [
                        [
                            "request_delete_range": [
                                "key": .string(b64(logKey(0))), "range_end": .string(b64(logKey(target))),
                            ]
                        ],
                        [
                            "request_put": [
                                "key": .string(b64(trimKey)), "value": .string(EtcdClient.base64(String(target))),
                            ]
                        ],
                    ],
                ], idempotent: false)
            guard response["succeeded"]?.boolValue == true else { return }
            trimmedBelow = target
            let revision = EtcdClient.int(response[path: ["header", "revision"]])
            _ = try await etcd.call("/v3/kv/compaction", ["revision": .string(String(revision)), "physical": true])
            for member in etcd.endpoints.indices {
                let status = try await etcd.call("/v3/maintenance/status", [:], on: member)
                let size = EtcdClient.int(status["dbSize"])
                let used = EtcdClient.int(status["dbSizeInUse"])
                if size > 0 && Double(size - used) > 0.3 * Double(size) {
                    _ = try await etcd.call("/v3/maintenance/defragment", [:], on: member, timeout: .seconds(30))
                }
            }
            logger.info("replication: etcd keeps the log from \(target) (compacted at revision \(revision))")
        } catch {
            logger.warning("replication: trimming etcd's window failed: \(error)")
        }
    }

    /// A follower's writes: sent to the writer, answered once this replica's log has them too.
    private func forward(_ batches: [Batch]) async -> [Result<AppendResult, LogError>] {
        guard let writer else { return unavailable(batches, "no writer is known; retry") }
        var request = HTTPClientRequest(url: writer.url + "/internal/replication/append")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "MeshLedger-Replica-Secret", value: writer.secret)
        let body: JSONValue = ["batches": .array(batches.map(BatchWire.encode))]
        request.body = .bytes(ByteBuffer(bytes: JSONText.canonical(body)))
        let results: [Result<AppendResult, LogError>]
        do {
            let response = try await peers.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 64 << 20)
            guard response.status == .ok, let value = try? JSONText.parse(Array(bytes.readableBytesView)),
                let items = value["results"]?.arrayValue, items.count == batches.count
            else {
                return unavailable(batches, "the writer \(writer.name) answered \(response.status.code)")
            }
            results = try items.map(BatchWire.decodeResult)
        } catch {
            return unavailable(batches, "the writer \(writer.name) did not answer (\(error))")
        }
        let head = results.compactMap { try? $0.get().head }.max() ?? 0
        if await !waitForHead(head) {
            logger.warning("replication: the writer's append \(head) did not reach this replica within 5 s")
        }
        return results
    }

    // MARK: - Keys

    private var headKey: [UInt8] { Array((configuration.prefix + "/head").utf8) }
    private var writerKey: [UInt8] { Array((configuration.prefix + "/writer").utf8) }
    private var trimKey: [UInt8] { Array((configuration.prefix + "/trim").utf8) }
    private var logEnd: [UInt8] { Array((configuration.prefix + "/log0").utf8) }
    private func logKey(_ sequence: UInt64) -> [UInt8] {
        let digits = String(sequence)
        return Array((configuration.prefix + "/log/" + String(repeating: "0", count: 20 - digits.count) + digits).utf8)
    }
    private func sequence(ofLogKey key: [UInt8]) -> UInt64? { UInt64(String(decoding: key.suffix(20), as: UTF8.self)) }
    private func b64(_ key: [UInt8]) -> String { EtcdClient.base64(key) }
    private func headValue(_ sequence: UInt64, _ digest: Digest) -> [UInt8] { Array("\(sequence):\(digest.hex)".utf8) }

    /// `head` and `writer`, read together with a quorum.
    private func readHeadAndWriter(
        attempts: Int? = nil
    ) async throws -> (
        head: (sequence: UInt64, digest: Digest)?,
        writer: (name: String, url: String, secret: String, createRevision: Int64)?
    ) {
        let response = try await etcd.call(
            "/v3/kv/txn",
            [
                "success": [
                    ["request_range": ["key": .string(b64(headKey))]],
                    ["request_range": ["key": .string(b64(writerKey))]],
                ]
            ], attempts: attempts)
        let answers = response["responses"]?.arrayValue ?? []
        func kv(_ index: Int) -> JSONValue? {
            index < answers.count ? answers[index][path: ["response_range", "kvs"]]?.arrayValue?.first : nil
        }
        var head: (UInt64, Digest)?
        if let text = EtcdClient.bytes(kv(0)?["value"]).map({ String(decoding: $0, as: UTF8.self) }) {
            let parts = text.split(separator: ":")
            guard parts.count == 2, let sequence = UInt64(parts[0]), let digest = Digest(hex: String(parts[1])) else {
                throw EtcdError(status: 200, code: nil, message: "etcd's head \(text) does not read")
            }
            head = (sequence, digest)
        }
        var writer: (String, String, String, Int64)?
        if let entry = kv(1), let bytes = EtcdClient.bytes(entry["value"]), let value = try? JSONText.parse(bytes),
            let name = value["name"]?.stringValue, let url = value["url"]?.stringValue,
            let secret = value["secret"]?.stringValue
        {
            writer = (name, url, secret, EtcdClient.int(entry["create_revision"]))
        }
        return (head, writer)
    }
}
