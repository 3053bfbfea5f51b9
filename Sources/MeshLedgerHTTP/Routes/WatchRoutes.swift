import EventLog
import Hummingbird
import MeshLedger
import MeshModel
import NIOCore
import Projection
import Prometheus

/// `GET /v1/watch?from=SEQ[&timeoutSeconds=][&bookmarkSeconds=]`: every event after `from`, in
/// order, as JSON lines with the status changes it caused, and bookmarks; 410 Gone when `from` is
/// older than the retention window, 429 beyond `maxWatchers` streams.
struct WatchRoutes: Sendable {
    let endpoints: Endpoints
    /// The lines of recent events, encoded once for every watcher: a new event reaches many
    /// watchers at once, and the first to need its line encodes it.
    let lines: RecentBySequence<[UInt8]>

    init(endpoints: Endpoints) {
        self.endpoints = endpoints
        lines = RecentBySequence(capacity: min(4096, endpoints.configuration.watchRetention))
    }

    func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get("watch") { request, context in try await watch(request, context) }
    }

    func watch(_ request: Request, _ context: ServerContext) async throws -> Response {
        let store = endpoints.store
        let committer = endpoints.committer
        let configuration = endpoints.configuration
        // A sequence (waited for up to 3 s when beyond the head), or a time of the log.
        let from: UInt64
        if let text = endpoints.query(request, "from"), UInt64(text) == nil {
            from = try store.sequence(atPoint: text, named: "from=")
        } else {
            from = try await endpoints.position(request, "from") ?? store.log.head().sequence
        }
        let oldest = await committer.oldestWatchable()
        if from + 1 < oldest {
            throw APIError(
                status: .gone,
                message:
                    "watch from \(from) is older than the retention window (oldest start \(oldest - 1)); list again",
                code: "Expired")
        }
        // Longer than the server allows is the server's longest, as on the Kubernetes API.
        let longest = max(0.01, configuration.maxWatchSeconds)
        let timeout = min(try endpoints.seconds(request, "timeoutSeconds", in: 0...31_536_000) ?? longest, longest)
        let bookmarkEvery =
            try endpoints.seconds(request, "bookmarkSeconds", in: 0.01...longest) ?? configuration.bookmarkSeconds
        // A caller that may not read everything gets the events (and status changes) of what it
        // may watch, encoded for it alone.
        let readable = V1ReadFilter.make(
            context, access: endpoints.configuration.access, verb: "watch", path: request.uri.path)
        return try await endpoints.watchResponse(context, contentType: "application/x-ndjson") { writer, stream in
            var readable = readable
            let started = ContinuousClock.now
            var lastBookmark = ContinuousClock.now
            var cursor = from
            while stream.isOpen {
                // Folded by the writer (or by `waitForEvents`, for other processes' appends).
                let head = committer.foldedSequence
                if head > cursor {
                    let last = min(head, cursor + 1000)
                    var bytes: [[UInt8]] = []
                    if var filter = readable {
                        var events: [Event] = []
                        try store.log.scan((cursor + 1)...last) { event in
                            events.append(event)
                            return true
                        }
                        for event in events where filter.allows(event.key.kind, namespace: event.key.namespace) {
                            let changes = await committer.statusChanges(at: event.sequence)?.filter {
                                filter.allows(.virtualDestination, namespace: $0.virtualDestination.namespace)
                            }
                            bytes.append(Self.eventLine(event, changes))
                        }
                        readable = filter
                    } else {
                        bytes = try await lines.values(from: cursor + 1, through: last, log: store.log) { event in
                            Self.eventLine(event, await committer.statusChanges(at: event.sequence))
                        }
                    }
                    cursor = last
                    // One contiguous copy (a ByteBuffer made from a joined sequence is written
                    // byte by byte).
                    var buffer = ByteBuffer()
                    buffer.reserveCapacity(bytes.reduce(0) { $0 + $1.count })
                    for line in bytes { buffer.writeBytes(line) }
                    try await writer.write(buffer)
                    continue
                }
                let now = ContinuousClock.now
                if now - lastBookmark >= .seconds(bookmarkEvery) {
                    try await writer.write(ByteBuffer(bytes: Self.bookmarkLine(cursor)))
                    lastBookmark = now
                }
                if now - started >= .seconds(timeout) {
                    try await writer.write(ByteBuffer(bytes: Self.bookmarkLine(cursor)))
                    break
                }
                await committer.waitForEvents(after: cursor, timeout: .seconds(max(0.01, min(0.25, bookmarkEvery))))
            }
            // Its slot was given to another caller: where to resume from.
            if stream.slot.isEnded { try await writer.write(ByteBuffer(bytes: Self.bookmarkLine(cursor))) }
            try await writer.finish(nil)
        }
    }

    /// A BOOKMARK line: every event up to `sequence` has been sent.
    static func bookmarkLine(_ sequence: UInt64) -> [UInt8] {
        var line = JSONText.canonical(["type": "BOOKMARK", "sequence": .int(Int64(sequence))])
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// One EVENT line: the event and, while within retention, the status changes it caused.
    static func eventLine(_ event: Event, _ changes: [Committer.StatusChange]?) -> [UInt8] {
        var line: JSONObject = [
            "type": "EVENT", "sequence": .int(Int64(event.sequence)), "event": EventJSON.value(of: event),
        ]
        if let changes {
            line["statusChanges"] = .array(
                changes.map {
                    [
                        "namespace": .string($0.virtualDestination.namespace),
                        "name": .string($0.virtualDestination.name), "status": $0.status ?? .null,
                    ]
                })
        }
        var bytes = JSONText.canonical(.object(line))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
